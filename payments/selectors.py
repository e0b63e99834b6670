"""Reads about payments."""

from __future__ import annotations

from django.conf import settings

from integrations.adapters import integration_methods
from integrations.models import Integration
from orders.models import Invoice, Order
from payments.account import AccountRow, OrderAccount, account_from_rows
from payments.models import PaymentTransaction
from providers.base import MethodInfo


def order_account(*, order: Order) -> OrderAccount:
    """What the order has taken, holds and still owes (`payments.account`), in two queries.

    Read it under the order lock (`payments.ledger.lock_order`) whenever the answer decides a movement.
    """
    rows = PaymentTransaction.objects.filter(order_id=order.pk).values_list(
        "id", "action", "state", "amount", "successful", "active", "source_id", "invoice_id"
    )
    open_invoices = dict(
        Invoice.objects.filter(order_id=order.pk, status=Invoice.Status.OPEN).values_list("id", "amount")
    )
    return account_from_rows(
        (AccountRow(*row) for row in rows), total=order.total, currency=order.currency, open_invoices=open_invoices
    )


def invoice_payment_method(identifier: str = "") -> tuple[Integration, MethodInfo]:
    """The method invoices are paid with: of the first live integration of the provider named by
    settings.INVOICE_PAYMENT_METHOD, the method called `identifier` (the buyer's choice, OroPay's card or ACH),
    else its first. LookupError when there is none, or it has no method by that name."""
    integration, methods = invoice_payment_methods()
    if not identifier:
        return integration, methods[0]
    for method in methods:
        if method.identifier == identifier:
            return integration, method
    raise LookupError(f"{integration} has no invoice payment method {identifier!r}")


def invoice_payment_methods() -> tuple[Integration, list[MethodInfo]]:
    """Every method of the invoice payment integration (see `invoice_payment_method`), no payment rule needed."""
    integration = Integration.objects.live().filter(provider_key=settings.INVOICE_PAYMENT_METHOD).order_by("pk").first()
    if integration is None:
        raise LookupError(f"No live integration of {settings.INVOICE_PAYMENT_METHOD!r} pays invoices")
    methods = integration_methods(integration)
    if not methods:
        raise LookupError(f"{integration} exposes no payment method")
    return integration, methods
