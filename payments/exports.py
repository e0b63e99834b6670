"""Finance's CSV columns for the ledger (see core.exports): one row per payment transaction."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from import_export import fields, resources

from core.exports import plain_amount
from payments.models import PaymentTransaction


class TransactionResource(resources.ModelResource):
    id = fields.Field(attribute="id", column_name="id")
    created_at = fields.Field(attribute="created_at", column_name="created_at")
    order = fields.Field(attribute="order__number", column_name="order")
    invoice = fields.Field(column_name="invoice")
    customer = fields.Field(attribute="order__customer__name", column_name="customer")
    action = fields.Field(attribute="action", column_name="action")
    state = fields.Field(attribute="state", column_name="state")
    successful = fields.Field(attribute="successful", column_name="successful")
    currency = fields.Field(attribute="currency", column_name="currency")
    amount = fields.Field(column_name="amount")
    payment_method = fields.Field(attribute="payment_method", column_name="payment_method")
    provider_reference = fields.Field(attribute="provider_reference", column_name="provider_reference")
    source = fields.Field(attribute="source_id", column_name="source_transaction")

    class Meta:
        model = PaymentTransaction
        fields = export_order = (
            "id",
            "created_at",
            "order",
            "invoice",
            "customer",
            "action",
            "state",
            "successful",
            "currency",
            "amount",
            "payment_method",
            "provider_reference",
            "source",
        )

    def filter_export(self, queryset: QuerySet[PaymentTransaction], **kwargs: Any) -> QuerySet[PaymentTransaction]:
        return queryset.select_related("order__customer", "invoice")

    def dehydrate_invoice(self, txn: PaymentTransaction) -> str:
        return txn.invoice.number if txn.invoice is not None else ""

    def dehydrate_amount(self, txn: PaymentTransaction) -> str:
        return plain_amount(txn.amount, txn.currency)
