from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from orders.admin_invoices import create_invoices
from orders.models import Address, Order, OrderLine, PaymentStatus
from payments.models import PaymentTransaction

STATUS_COLOURS = {
    PaymentStatus.FULL: "#1b7f3b",
    PaymentStatus.PARTIALLY: "#5b8c00",
    PaymentStatus.AUTHORIZED: "#1f5fbf",
    PaymentStatus.AUTHORIZED_PARTIALLY: "#1f5fbf",
    PaymentStatus.INVOICED: "#6b46c1",
    PaymentStatus.PENDING: "#8a6d00",
    PaymentStatus.DECLINED: "#b42318",
    PaymentStatus.CANCELED: "#6b7280",
    PaymentStatus.CANCELED_PARTIALLY: "#6b7280",
    PaymentStatus.REFUNDED: "#9a3412",
    PaymentStatus.REFUNDED_PARTIALLY: "#9a3412",
}


def status_badge(status: str) -> str:
    colour = STATUS_COLOURS.get(PaymentStatus(status), "#374151")
    return format_html(
        '<span class="payment-status" style="background:{};color:#fff;padding:2px 8px;border-radius:10px;">{}</span>',
        colour,
        PaymentStatus(status).label,
    )


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ["sku", "name", "quantity", "unit_price"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


class PaymentHistoryInline(admin.TabularInline):
    """Every transaction of the order with its reference code; read-only (the ledger is written by services)."""

    model = PaymentTransaction
    verbose_name = "payment transaction"
    verbose_name_plural = "payment history"
    extra = 0
    can_delete = False
    fields = [
        "id",
        "action",
        "amount",
        "currency",
        "state",
        "successful",
        "active",
        "provider_reference",
        "actor",
        "created_at",
        "note",
    ]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[PaymentTransaction]:
        return super().get_queryset(request).select_related("actor")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "customer",
        "total",
        "currency",
        "payment_badge",
        "payment_method",
        "created_at",
    ]
    list_filter = ["payment_status", "currency", "created_at"]
    list_select_related = ["customer"]
    search_fields = ["number", "customer__name"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "number",
        "customer",
        "customer_user",
        "currency",
        "subtotal",
        "shipping",
        "tax",
        "total",
        "payment_badge",
        "payment_method",
        "payment_term",
        "billing_address",
        "shipping_address",
        "created_at",
    ]
    fields = readonly_fields
    inlines = [OrderLineInline, PaymentHistoryInline]
    actions = [create_invoices]

    @admin.display(description="Payment status", ordering="payment_status")
    def payment_badge(self, obj: Order) -> str:
        return status_badge(obj.payment_status)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders come from checkout and from services, not from a blank form

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ["__str__", "country", "region_code", "postal_code"]
    search_fields = ["organization", "city", "postal_code"]
