"""Finance's CSV columns for orders and invoices (see core.exports)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from import_export import fields, resources

from core.exports import plain_amount
from orders.models import Invoice, Order


class OrderResource(resources.ModelResource):
    number = fields.Field(attribute="number", column_name="order")
    created_at = fields.Field(attribute="created_at", column_name="created_at")
    customer = fields.Field(attribute="customer__name", column_name="customer")
    customer_email = fields.Field(column_name="customer_email")
    po_number = fields.Field(attribute="po_number", column_name="po_number")
    currency = fields.Field(attribute="currency", column_name="currency")
    subtotal = fields.Field(column_name="subtotal")
    shipping = fields.Field(column_name="shipping")
    tax = fields.Field(column_name="tax")
    total = fields.Field(column_name="total")
    payment_status = fields.Field(attribute="payment_status", column_name="payment_status")
    payment_method = fields.Field(attribute="payment_method", column_name="payment_method")
    invoices = fields.Field(column_name="invoices")

    class Meta:
        model = Order
        fields = export_order = (
            "number",
            "created_at",
            "customer",
            "customer_email",
            "po_number",
            "currency",
            "subtotal",
            "shipping",
            "tax",
            "total",
            "payment_status",
            "payment_method",
            "invoices",
        )

    def filter_export(self, queryset: QuerySet[Order], **kwargs: Any) -> QuerySet[Order]:
        return queryset.select_related("customer", "customer_user__user").prefetch_related("invoices")

    def dehydrate_customer_email(self, order: Order) -> str:
        return order.customer_user.user.email if order.customer_user is not None else ""

    def dehydrate_subtotal(self, order: Order) -> str:
        return plain_amount(order.subtotal, order.currency)

    def dehydrate_shipping(self, order: Order) -> str:
        return plain_amount(order.shipping, order.currency)

    def dehydrate_tax(self, order: Order) -> str:
        return plain_amount(order.tax, order.currency)

    def dehydrate_total(self, order: Order) -> str:
        return plain_amount(order.total, order.currency)

    def dehydrate_invoices(self, order: Order) -> str:
        return " ".join(invoice.number for invoice in order.invoices.all())


class InvoiceResource(resources.ModelResource):
    number = fields.Field(attribute="number", column_name="invoice")
    order = fields.Field(attribute="order__number", column_name="order")
    po_number = fields.Field(attribute="order__po_number", column_name="po_number")
    customer = fields.Field(attribute="customer__name", column_name="customer")
    created_at = fields.Field(attribute="created_at", column_name="created_at")
    due_date = fields.Field(attribute="due_date", column_name="due_date")
    currency = fields.Field(attribute="currency", column_name="currency")
    amount = fields.Field(column_name="amount")
    status = fields.Field(attribute="status", column_name="status")
    payment_status = fields.Field(attribute="payment_status", column_name="payment_status")

    class Meta:
        model = Invoice
        fields = export_order = (
            "number",
            "order",
            "po_number",
            "customer",
            "created_at",
            "due_date",
            "currency",
            "amount",
            "status",
            "payment_status",
        )

    def filter_export(self, queryset: QuerySet[Invoice], **kwargs: Any) -> QuerySet[Invoice]:
        return queryset.select_related("customer", "order")

    def dehydrate_amount(self, invoice: Invoice) -> str:
        return plain_amount(invoice.amount, invoice.currency)
