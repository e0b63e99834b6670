"""Reads behind the back-office pages: payment history with what is left on each row, method labels,
and the dashboard figures. Every query here is bounded: it does not grow with the rows it reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.money import Money, quantize
from core.status import PaymentStatus
from orders.models import Order
from payments.models import OPEN_STATES, Action, PaymentTransaction, State

_AMOUNT = DecimalField(max_digits=20, decimal_places=4)


def _children_sum(*actions: str) -> Coalesce:
    """What the row's children with these actions took, counting open ones, as `payments.ledger.children_taken` does."""
    children = (
        PaymentTransaction.objects.filter(source=OuterRef("pk"), action__in=actions)
        .filter(Q(state=State.SUCCEEDED) | Q(state__in=OPEN_STATES))
        .order_by()
        .values("source")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(children, output_field=_AMOUNT), Value(Decimal("0")), output_field=_AMOUNT)


def payment_history(*, order_id: int | None = None) -> QuerySet[PaymentTransaction]:
    """Transactions with `captured_or_canceled`, `captured` and `refunded` annotated (open children count), in
    one query for any number of rows."""
    queryset = PaymentTransaction.objects.select_related("actor", "integration", "order").annotate(
        captured_or_canceled=_children_sum(Action.CAPTURE, Action.CANCEL),
        captured=_children_sum(Action.CAPTURE),
        refunded=_children_sum(Action.REFUND),
        activated=_children_sum(Action.ACTIVATE),
        invoiced=_children_sum(Action.INVOICE),
    )
    if order_id is not None:
        queryset = queryset.filter(order_id=order_id)
    return queryset.order_by("created_at", "id")


def open_authorization_since() -> Subquery:
    """When the order's oldest open authorization was made (None when it has none)."""
    return Subquery(
        PaymentTransaction.objects.filter(order=OuterRef("pk"), action=Action.AUTHORIZE, successful=True, active=True)
        .order_by("created_at")
        .values("created_at")[:1]
    )


def open_authorization_expires() -> Subquery:
    """When the order's first open authorization lapses at the provider (None when none, or no expiry)."""
    return Subquery(
        PaymentTransaction.objects.filter(
            order=OuterRef("pk"), action=Action.AUTHORIZE, successful=True, active=True, expires_at__isnull=False
        )
        .order_by("expires_at")
        .values("expires_at")[:1]
    )


# --- dashboard ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusFigure:
    status: PaymentStatus
    count: int
    amounts: dict[str, Decimal]  # currency -> sum of order totals


#: the statuses of a checkout attempt that left the buyer no order (`checkout.models.CheckoutAttempt.FAILED`; read
#: here by value, as the back-office sits beside the storefront, not above it)
FAILED_ATTEMPT_STATUSES = ("declined", "refused", "abandoned")
#: operations on a payment after the checkout: their failures are not the attempt's, whatever became of it
_FOLLOW_UP_ACTIONS = (Action.CAPTURE, Action.CANCEL, Action.REFUND, Action.RE_AUTHORIZE)
_ATTEMPT_WORDS = {"declined": "Checkout declined", "refused": "Checkout refused", "abandoned": "Checkout abandoned"}


@dataclass(frozen=True, slots=True)
class FailedPayment:
    """One failed payment of the day: a checkout attempt that left the buyer no order (declined, refused before
    payment, abandoned), or a declined payment operation on a placed order (a capture, an invoice payment)."""

    kind: str  # "checkout" | "payment"
    pk: int  # the attempt's or the transaction's id
    order_id: int
    order_number: str
    customer: str
    what: str
    amount: Money
    reason: str
    reference: str
    when: datetime


@dataclass(frozen=True, slots=True)
class Dashboard:
    statuses: list[StatusFigure]
    awaiting_capture: list[PaymentTransaction]  # open authorizations, oldest first, with `.order`
    awaiting_capture_count: int
    failed_today: list[FailedPayment]  # newest first
    failed_today_count: int
    now: datetime

    @property
    def max_count(self) -> int:
        return max((figure.count for figure in self.statuses), default=0)


def dashboard(*, now: datetime | None = None, limit: int = 10) -> Dashboard:
    """Figures of the admin index, in seven queries whatever the number of orders."""
    now = now or timezone.now()
    figures: dict[str, tuple[int, dict[str, Decimal]]] = {}
    rows = (
        Order.objects.placed()  # the orders of failed checkout attempts are counted as failed payments, below
        .order_by()
        .values("payment_status", "currency")
        .annotate(n=Count("id"), amount=Sum("total"))
    )
    for row in rows:
        count, amounts = figures.get(row["payment_status"], (0, {}))
        amounts[row["currency"]] = row["amount"]
        figures[row["payment_status"]] = (count + row["n"], amounts)
    statuses = [
        StatusFigure(status, *figures.get(status.value, (0, {}))) for status in PaymentStatus if status in figures
    ]

    authorizations = PaymentTransaction.objects.filter(
        action=Action.AUTHORIZE,
        successful=True,
        active=True,
        order__discarded_at__isnull=True,  # a given-up attempt's late hold is released, not captured
    ).select_related("order")
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today = (start_of_day, start_of_day + timedelta(days=1))
    failed_attempt = Q(checkout_attempt__status__in=FAILED_ATTEMPT_STATUSES)
    attempts = Order.objects.filter(failed_attempt).filter(
        Q(checkout_attempt__finished_at__range=today)
        | Q(checkout_attempt__finished_at__isnull=True, checkout_attempt__updated_at__range=today)
    )
    declined = PaymentTransaction.objects.filter(
        state=State.DECLINED, updated_at__gte=today[0], updated_at__lt=today[1]
    ).exclude(  # the attempt's own declined payment is counted once, as its attempt; a later operation on its
        # order (the void of a late hold of an abandoned attempt, a refund of its late charge) is a failure of its own
        Q(order__in=Order.objects.filter(failed_attempt)) & ~Q(action__in=_FOLLOW_UP_ACTIONS)
    )
    failed = [
        FailedPayment(
            kind="checkout",
            pk=row["checkout_attempt__pk"],
            order_id=row["pk"],
            order_number=row["number"],
            customer=row["customer__name"],
            what=_ATTEMPT_WORDS[row["checkout_attempt__status"]],
            amount=Money(
                quantize(row["checkout_attempt__amount"], row["checkout_attempt__currency"]),
                row["checkout_attempt__currency"],
            ),
            reason=row["checkout_attempt__message"] or row["checkout_attempt__reason"],
            reference=row["checkout_attempt__provider_reference"],
            when=row["checkout_attempt__finished_at"] or row["checkout_attempt__updated_at"],
        )
        for row in attempts.order_by("-checkout_attempt__updated_at").values(
            "pk",
            "number",
            "customer__name",
            "checkout_attempt__pk",
            "checkout_attempt__status",
            "checkout_attempt__amount",
            "checkout_attempt__currency",
            "checkout_attempt__reason",
            "checkout_attempt__message",
            "checkout_attempt__provider_reference",
            "checkout_attempt__finished_at",
            "checkout_attempt__updated_at",
        )[:limit]
    ]
    failed += [
        FailedPayment(
            kind="payment",
            pk=txn.pk,
            order_id=txn.order_id,
            order_number=txn.order.number,
            customer=txn.order.customer.name,
            what=f"{txn.get_action_display()} declined",
            amount=txn.money,
            reason=txn.message or txn.error_code,
            reference=txn.provider_reference,
            when=txn.updated_at,
        )
        for txn in declined.select_related("order__customer").order_by("-updated_at", "-id")[:limit]
    ]
    failed.sort(key=lambda item: item.when, reverse=True)
    return Dashboard(
        statuses=statuses,
        awaiting_capture=list(authorizations.order_by("created_at", "id")[:limit]),
        awaiting_capture_count=authorizations.count(),
        failed_today=failed[:limit],
        failed_today_count=attempts.count() + declined.count(),
        now=now,
    )
