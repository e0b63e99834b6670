"""Reads about payments."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db.models import BooleanField, CharField, IntegerField, Q, Value

from integrations.adapters import integration_methods
from integrations.models import Integration
from orders.models import Invoice, Order
from payments.account import AccountRow, OrderAccount, account_from_rows
from payments.models import OPEN_STATES, Action, PaymentTransaction, State
from payments.operations import Taken
from providers.base import MethodInfo


def order_account(*, order: Order) -> OrderAccount:
    """What the order has taken, holds and still owes (`payments.account`), in one query.

    Read it under the order lock (`payments.ledger.lock_order`) whenever the answer decides a movement.
    """
    rows, open_invoices = order_account_rows(order_id=order.pk)
    return account_from_rows(rows, total=order.total, currency=order.currency, open_invoices=open_invoices)


def order_account_rows(*, order_id: int) -> tuple[list[AccountRow], dict[int, Decimal]]:
    """The order's ledger rows and its open invoices (id -> amount), in one statement (a UNION ALL): what the
    account, and what a row's children took (`taken_from_rows`), are computed from."""
    rows = (
        PaymentTransaction.objects.filter(order_id=order_id)
        .order_by()
        .annotate(row_kind=Value("row", output_field=CharField()))
        .values_list(
            "row_kind",
            "id",
            "action",
            "state",
            "amount",
            "successful",
            "active",
            "source_id",
            "invoice_id",
            "provider_reference",
        )
    )
    invoices = (
        Invoice.objects.filter(order_id=order_id, status=Invoice.Status.OPEN)
        .order_by()
        .annotate(
            row_kind=Value("invoice", output_field=CharField()),
            no_action=Value("", output_field=CharField()),
            no_state=Value("", output_field=CharField()),
            no_success=Value(False, output_field=BooleanField()),
            no_active=Value(False, output_field=BooleanField()),
            no_source=Value(None, output_field=IntegerField()),
            no_invoice=Value(None, output_field=IntegerField()),
            no_reference=Value(None, output_field=CharField()),
        )
        .values_list(
            "row_kind",
            "id",
            "no_action",
            "no_state",
            "amount",
            "no_success",
            "no_active",
            "no_source",
            "no_invoice",
            "no_reference",
        )
    )
    ledger: list[AccountRow] = []
    open_invoices: dict[int, Decimal] = {}
    for kind, pk, action, state, amount, successful, active, source_id, invoice_id, reference in rows.union(
        invoices, all=True
    ):
        if kind == "invoice":
            open_invoices[pk] = amount
        else:
            ledger.append(
                AccountRow(pk, action, state, amount, successful, active, source_id, invoice_id, reference or None)
            )
    return ledger, open_invoices


def order_ledger_rows(
    *, order_id: int, key: str | None = None
) -> tuple[dict[int, PaymentTransaction], PaymentTransaction | None]:
    """The order's ledger rows in full (id -> row, each with its integration) and, given a request `key`, the row an
    earlier request with that key made, of this order or another (`payments.ledger.replay`): one read.

    Read it under the order lock: an operation on one of the rows checks and records from it what the account,
    the children's sums (`taken_from_rows` over `as_account_row`) and the payment status need, with no other read.
    """
    wanted = Q(order_id=order_id) if key is None else Q(order_id=order_id) | Q(idempotency_key=key)
    rows: dict[int, PaymentTransaction] = {}
    earlier = None
    for row in PaymentTransaction.objects.select_related("integration").filter(wanted):
        if key is not None and row.idempotency_key == key:
            earlier = row
        if row.order_id == order_id:
            rows[row.pk] = row
    return rows, earlier


def taken_from_rows(rows: list[AccountRow], *, source_id: int) -> Taken:
    """What the children of `source_id` took or may still take (successful and open rows): the same sums as
    `payments.ledger.children_taken`, from rows already read."""
    kinds = (Action.CAPTURE, Action.CANCEL, Action.REFUND, Action.ACTIVATE, Action.INVOICE)
    sums = {action: Decimal("0") for action in kinds}
    for row in rows:
        if (
            row.source_id == source_id
            and row.action in sums
            and (row.state == State.SUCCEEDED or row.state in OPEN_STATES)
        ):
            sums[Action(row.action)] += row.amount
    return Taken(
        captured=sums[Action.CAPTURE],
        canceled=sums[Action.CANCEL],
        refunded=sums[Action.REFUND],
        activated=sums[Action.ACTIVATE],
        invoiced=sums[Action.INVOICE],
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
