from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from core.exports import FinanceExportMixin
from core.money import format_money
from payments.exports import TransactionResource
from payments.models import PaymentTransaction, WebhookEvent


@admin.register(PaymentTransaction)
class PaymentTransactionAdmin(FinanceExportMixin, admin.ModelAdmin):
    """The ledger, read-only: rows are written by the payment services only."""

    list_display = [
        "id",
        "order",
        "action",
        "amount_display",
        "state",
        "successful",
        "active",
        "provider_reference",
        "created_at",
    ]
    list_filter = ["action", "state", "successful", "active", "currency"]
    list_select_related = ["order"]
    search_fields = ["order__number", "provider_reference", "idempotency_key", "invoice__number"]
    resource_classes = [TransactionResource]
    exclude = ["fingerprint"]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: PaymentTransaction) -> str:
        return format_money(obj.money)

    def has_view_permission(self, request: HttpRequest, obj: PaymentTransaction | None = None) -> bool:
        # The ledger is payment history: the same permission as on the order page (reference: VIEW_PAYMENT_HISTORY).
        return super().has_view_permission(request, obj) and request.user.has_perm("payments.view_payment_history")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PaymentTransaction | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PaymentTransaction | None = None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """The webhook inbox, read-only: an integration's recent events and what processing made of them."""

    list_display = ["received_at", "integration", "event_type", "provider_reference", "status", "attempts", "result"]
    list_filter = ["integration", "status", "event_type"]
    list_select_related = ["integration"]
    search_fields = ["provider_event_id", "provider_reference", "event_type"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        return False
