"""Invoices in the back-office: the "Create invoice" action on orders, and the invoice list with "Void".

An invoice's status follows its ledger (paid when its payments say so) and the void service; it is never
edited by hand.

Kept apart from orders/admin.py so the order pages can change without touching invoices.
"""

from __future__ import annotations

from typing import cast

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from core.exports import FinanceExportMixin
from core.money import MoneyError
from orders.exports import InvoiceResource
from orders.models import Invoice, Order
from orders.services import OrderBeingPlaced, invoice_create, invoice_void
from payments.exceptions import PaymentRefused
from payments.selectors import order_account


@admin.action(description="Create invoice", permissions=["add_invoice"])  # OrderAdmin.has_add_invoice_permission
def create_invoices(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Order]) -> None:
    """One invoice per selected order for what it still owes (`payments.account`); orders that owe nothing,
    because they are paid, held by an open payment or already invoiced, are skipped and named."""
    if not request.user.has_perm("orders.add_invoice"):
        modeladmin.message_user(request, "You may not create invoices.", messages.ERROR)
        return
    created: list[str] = []
    invoiced: list[str] = []
    settled: list[str] = []
    discarded = list(queryset.discarded().values_list("number", flat=True))  # type: ignore[attr-defined]
    if discarded:
        modeladmin.message_user(
            request, f"Failed checkout attempts are not invoiced, skipped: {', '.join(discarded)}.", messages.WARNING
        )
    placing: list[str] = []
    for order in queryset.placed().exclude(total__lte=0):  # type: ignore[attr-defined]
        try:
            created.append(invoice_create(order=order, actor=cast(User, request.user)).number)
        except OrderBeingPlaced:
            placing.append(order.number)
        except MoneyError:  # nothing left to invoice: say why, from the account as it stands now
            (invoiced if order_account(order=order).invoiced > 0 else settled).append(order.number)
    if created:
        modeladmin.message_user(request, f"Created invoice(s) {', '.join(created)}.", messages.SUCCESS)
    if invoiced:
        modeladmin.message_user(request, f"Already invoiced, skipped: {', '.join(invoiced)}.", messages.WARNING)
    if settled:
        modeladmin.message_user(
            request,
            f"Nothing left to invoice (paid or held by an open payment), skipped: {', '.join(settled)}.",
            messages.WARNING,
        )
    if placing:
        modeladmin.message_user(
            request, f"Still being placed by the buyer at checkout, skipped: {', '.join(placing)}.", messages.WARNING
        )


@admin.action(description="Void invoice", permissions=["change"])
def void_invoices(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
    """Void each selected open invoice that has no payment made, in flight or promised; say why for the others."""
    voided: list[str] = []
    for invoice in queryset:
        try:
            voided.append(invoice_void(invoice_id=invoice.pk).number)
        except PaymentRefused as refused:
            modeladmin.message_user(request, refused.message, messages.ERROR)
    if voided:
        modeladmin.message_user(request, f"Voided invoice(s) {', '.join(voided)}.", messages.SUCCESS)


@admin.register(Invoice)
class InvoiceAdmin(FinanceExportMixin, admin.ModelAdmin):
    list_display = ["number", "customer", "order", "amount", "currency", "due_date", "status", "payment_status"]
    list_filter = ["status", "payment_status", "currency", "due_date"]
    list_select_related = ["customer", "order"]
    search_fields = ["number", "order__number", "order__po_number", "customer__name"]
    resource_classes = [InvoiceResource]
    readonly_fields = [
        "number",
        "order",
        "customer",
        "amount",
        "currency",
        "status",
        "payment_status",
        "created_by",
        "created_at",
    ]
    fields = [*readonly_fields[:5], "due_date", *readonly_fields[5:]]
    actions = [void_invoices]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # invoices are created from orders ("Create invoice") or imported

    def has_delete_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return False  # void it instead; its payments stay in the ledger
