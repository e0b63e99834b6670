from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from integrations.admin_tools import IntegrationToolsMixin
from integrations.forms import IntegrationForm, integration_form_class
from integrations.models import Integration
from integrations.services import integration_activate, integration_deactivate, integration_delete
from payment_rules.services import integration_pending_restore, rules_using_integration
from providers import registry


@admin.register(Integration)
class IntegrationAdmin(IntegrationToolsMixin, admin.ModelAdmin):  # type: ignore[misc]
    list_display = ["name", "provider_label", "environment", "active", "default_owner", "updated_at"]
    list_filter = ["provider_key", "environment", "active"]
    list_select_related = ["default_owner"]
    search_fields = ["name"]
    readonly_fields = ["uuid", "created_at", "updated_at"]

    @admin.display(description="Type", ordering="provider_key")
    def provider_label(self, obj: Integration) -> str:
        return obj.provider_label

    def get_readonly_fields(self, request: HttpRequest, obj: Integration | None = None) -> list[str]:
        # An existing integration is switched on and off with Deactivate/Activate, which also see to its rules.
        return [*self.readonly_fields, *(["active"] if obj is not None else [])]

    def get_urls(self) -> list[URLPattern]:
        urls = [
            path(
                "<int:object_id>/deactivate/",
                self.admin_site.admin_view(self.deactivate_view),
                name="integrations_integration_deactivate",
            ),
            path(
                "<int:object_id>/activate/",
                self.admin_site.admin_view(self.activate_view),
                name="integrations_integration_activate",
            ),
        ]
        return urls + super().get_urls()

    def _switch_view(
        self, request: HttpRequest, object_id: int, *, to_active: bool, page: str, perform: Any, **extra: Any
    ) -> HttpResponse:
        """A confirmation page for switching an integration on or off; `perform(integration)` does it on POST and
        returns the message to show."""
        integration = get_object_or_404(Integration.objects.existing(), pk=object_id)
        if not self.has_change_permission(request, integration):
            raise PermissionDenied
        change_url = reverse("admin:integrations_integration_change", args=[integration.pk])
        if integration.active == to_active:
            return HttpResponseRedirect(change_url)
        if request.method == "POST":
            messages.success(request, perform(integration))
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{'Activate' if to_active else 'Deactivate'} {integration.name}?",
            "integration": integration,
            **{name: compute(integration) for name, compute in extra.items()},
        }
        return TemplateResponse(request, f"admin/integrations/integration/{page}.html", context)

    def deactivate_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Confirm with the rules it affects (as delete does), then deactivate through the service."""

        def deactivate(integration: Integration) -> str:
            affected = integration_deactivate(integration=integration)
            disabled = [a.rule.name for a in affected if a.will_be_disabled]
            message = f"{integration.name} was deactivated; its methods were disabled in {len(affected)} rule(s)."
            if disabled:
                message += " Disabled for lack of another method: " + ", ".join(disabled) + "."
            return message

        return self._switch_view(
            request,
            object_id,
            to_active=False,
            page="deactivate_confirmation",
            perform=deactivate,
            affected_rules=lambda integration: rules_using_integration(integration=integration),
        )

    def activate_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Offer to restore what deactivating switched off, then activate through the service."""

        def activate(integration: Integration) -> str:
            restored = integration_activate(integration=integration, restore=bool(request.POST.get("restore")))
            message = f"{integration.name} was activated."
            if restored.methods:
                message += f" Its method was enabled again in {len(restored.methods)} rule(s)"
                names = ", ".join(rule.name for rule in restored.rules)
                message += f"; rules enabled again: {names}." if names else "."
            return message

        return self._switch_view(
            request,
            object_id,
            to_active=True,
            page="activate_confirmation",
            perform=activate,
            pending=lambda integration: integration_pending_restore(integration=integration),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Integration]:
        return super().get_queryset(request).filter(deleted_at__isnull=True)  # deleted ones stay for old payments

    def delete_model(self, request: HttpRequest, obj: Integration) -> None:
        """Through the service: disable its methods in rules, keep the row if payments refer to it."""
        integration_delete(integration=obj)

    def get_deleted_objects(self, objs, request):  # type: ignore[no-untyped-def]
        """Deletion keeps payments (the row stays, hidden) and edits rules, so nothing protected blocks it."""
        to_delete = [f"Integration: {obj}" for obj in objs]
        return to_delete, {"integrations": len(to_delete)}, set(), []

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        integration = self.get_object(request, object_id)
        context = {**(extra_context or {})}
        if integration is not None:
            context["affected_rules"] = rules_using_integration(integration=integration)
        return super().delete_view(request, object_id, context)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset:
            self.delete_model(request, integration)

    def _provider_key(self, request: HttpRequest, obj: Integration | None) -> str | None:
        if obj is not None:
            return obj.provider_key
        key = request.GET.get("provider_key") or request.POST.get("provider_key")
        return key if key in registry.PROVIDERS else None

    def get_form(self, request: HttpRequest, obj: Integration | None = None, change: bool = False, **kwargs: Any):
        key = self._provider_key(request, obj)
        form = integration_form_class(key) if key else IntegrationForm
        kwargs["form"] = form
        kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Integration | None = None):
        form = self.get_form(request, obj, fields=None)
        common = [
            f for f in form.base_fields if f not in form.provider_fields and not f.startswith(("label_", "short_"))
        ]
        if "active" not in common:  # read-only on an existing integration
            common.insert(len(common) - 1 if "default_owner" in common else len(common), "active")
        # The label fields are made per language in IntegrationForm.__init__, so base_fields lacks them.
        labels = [f"{kind}_{code}" for code, _ in settings.LANGUAGES for kind in ("label", "short_label")]
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [(None, {"fields": common})]
        fieldsets.append(("Storefront labels", {"fields": labels}))
        if form.provider_fields:
            fieldsets.append(("Provider settings", {"fields": list(form.provider_fields)}))
        if obj is not None:
            fieldsets.append(("Record", {"fields": ["uuid", "created_at", "updated_at"]}))
        return fieldsets

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if self._provider_key(request, None) is None:  # first choose the type, then its own form
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Choose the integration type",
                "providers": registry.provider_choices(),
            }
            return TemplateResponse(request, "admin/integrations/choose_provider.html", context)
        return super().add_view(request, form_url, extra_context)
