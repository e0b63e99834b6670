from __future__ import annotations

import secrets as random
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from notifications.models import BuyerEmail, Delivery, Endpoint


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    signing_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave empty to keep the current secret (a new endpoint gets a generated one).",
    )

    class Meta:
        model = Endpoint
        fields = ["name", "url", "active"]

    def save(self, commit: bool = True) -> Endpoint:
        endpoint: Endpoint = super().save(commit=False)
        stored = dict(endpoint.secrets or {})
        if self.cleaned_data.get("signing_secret"):
            stored["signing_secret"] = self.cleaned_data["signing_secret"]
        stored.setdefault("signing_secret", f"whsec_{random.token_urlsafe(32)}")
        endpoint.secrets = stored
        if commit:
            endpoint.save()
        return endpoint


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "created_at",
        "topic",
        "order",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "delivered_at",
    )
    ordering = ["-created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).select_related("order")


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["name", "url", "active", "created_at"]
    list_filter = ["active"]
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "endpoint", "order", "topic", "status", "attempts", "last_status_code"]
    list_filter = ["status", "endpoint"]
    list_select_related = ["endpoint", "order"]
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(BuyerEmail)
class BuyerEmailAdmin(admin.ModelAdmin):
    """What each buyer was e-mailed about an order, and when it left; written by the services only."""

    list_display = ["created_at", "order", "kind", "recipient", "language", "sent_at"]
    list_filter = ["kind", "language"]
    list_select_related = ["order"]
    search_fields = ["order__number", "recipient"]
    readonly_fields = [f.name for f in BuyerEmail._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BuyerEmail | None = None) -> bool:
        return False
