"""What the integration page adds to the plain model admin: a connection check, the credential warning,
and the webhook URL to copy. Kept apart from `admin.py` so the form and delete behaviour stay readable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from integrations.connection import (
    integration_check_connection,
    integration_credential_warning,
    integration_webhook_secret_missing,
    integration_webhook_setup,
    integration_webhook_url,
)
from integrations.models import Integration, RejectedWebhook
from providers import registry


class IntegrationToolsMixin:
    """Mixed into IntegrationAdmin (a ModelAdmin)."""

    admin_site: admin.AdminSite

    def get_urls(self) -> list[URLPattern]:
        urls = [
            path(
                "<int:object_id>/check-connection/",
                self.admin_site.admin_view(require_POST(self.check_connection_view)),
                name="integrations_integration_check_connection",
            )
        ]
        return urls + super().get_urls()  # type: ignore[misc]

    def get_list_display(self, request: HttpRequest) -> list[str]:  # type: ignore[override]
        return [*super().get_list_display(request), "credentials"]  # type: ignore[misc]

    @admin.display(description="Credentials")
    def credentials(self, obj: Integration) -> str:
        warning = integration_credential_warning(integration=obj)
        return format_html('<span class="credential-warning" title="{}">⚠ mismatch</span>', warning) if warning else "✓"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        integration = Integration.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if integration is not None:
            can_check = self.has_change_permission(request, integration)  # type: ignore[attr-defined]
            extra_context = {
                **(extra_context or {}),
                "switch_url": reverse(
                    "admin:integrations_integration_" + ("deactivate" if integration.active else "activate"),
                    args=[integration.pk],
                )
                if can_check and integration.deleted_at is None
                else "",
                "switch_label": "Deactivate…" if integration.active else "Activate…",
                "credential_warning": integration_credential_warning(integration=integration),
                **self._webhook_context(integration),
                "check_connection_url": reverse(
                    "admin:integrations_integration_check_connection", args=[integration.pk]
                )
                if can_check
                else "",
            }
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

    @staticmethod
    def _webhook_context(integration: Integration) -> dict[str, Any]:
        """The webhook onboarding panel: the URL, what the adapter says to configure at the provider, a warning
        while the signing secret is unset, and the last deliveries refused with why."""
        setup = integration_webhook_setup(integration=integration)
        url = integration_webhook_url(integration=integration)
        if setup is None or not url:
            return {"webhook_url": ""}
        return {
            "webhook_url": url,
            "webhook_events": setup.events,
            "webhook_api_version": setup.api_version,
            "webhook_where": setup.where,
            "webhook_secret_missing": integration_webhook_secret_missing(integration=integration, setup=setup),
            "webhook_rejected": [
                {"when": date_format(timezone.localtime(row.received_at), "M j, H:i:s"), "row": row}
                for row in RejectedWebhook.objects.filter(integration=integration)[:5]
            ],
        }

    def check_connection_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        integration = get_object_or_404(Integration, pk=object_id)
        if not self.has_change_permission(request, integration):  # type: ignore[attr-defined]
            raise PermissionDenied
        if integration.provider_key not in registry.PROVIDERS:
            raise Http404("This integration's provider is not installed.")
        check = integration_check_connection(integration=integration)
        messages.add_message(request, check.level, check.message)
        return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[integration.pk]))
