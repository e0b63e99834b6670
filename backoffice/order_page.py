"""What the back-office order page reads about its order, read once per page.

The amount summary, the payment history with its operation buttons and the timeline all show the same ledger rows,
and the order's method and the history's methods need the same integrations. Each of them used to read these on its
own (and the order lines their order once per line); here the order's rows (with what each row's children took),
its open invoices and the labels of every payment method on the page are read in three statements, whatever the
number of rows, and kept on the order instance the page renders for the rest of the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from backoffice.selectors import payment_history
from integrations.selectors import method_short_labels
from orders.models import Invoice, Order
from payments.account import OrderAccount, account_from_rows
from payments.models import PaymentTransaction

_CACHE = "_order_page_reads"

#: what the order page shows of the order itself, joined into the one query that reads it: the related rows its
#: fields name (the buyer is shown with their user and company) and the checkout attempt that made it
ORDER_PAGE_RELATED = (
    "customer",
    "customer_user__user",
    "customer_user__customer",
    "billing_address",
    "shipping_address",
    "payment_term",
    "checkout_attempt",
)


@dataclass(frozen=True, slots=True)
class OrderPageReads:
    #: the order's ledger rows, oldest first, annotated as `backoffice.selectors.payment_history` does; each row's
    #: `order` is the page's order instance
    rows: list[PaymentTransaction]
    #: what the order has taken, holds and still owes (`payments.account`), from the same rows
    account: OrderAccount
    #: method identifier -> short label, for the order's method and every row's
    method_labels: dict[str, str]


def order_page_queryset(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """`queryset` with what the order page shows of an order joined in."""
    return queryset.select_related(*ORDER_PAGE_RELATED)


def order_page_reads(order: Order) -> OrderPageReads:
    """The reads of the page of `order`: made on the first call, then kept on this instance (one request's)."""
    cached = vars(order).get(_CACHE)
    if isinstance(cached, OrderPageReads):
        return cached
    rows = list(payment_history(order_id=order.pk))
    for row in rows:
        row.order = order  # the page's instance (and its cache), not a copy per row
    open_invoices: dict[int, Decimal] = dict(
        Invoice.objects.filter(order_id=order.pk, status=Invoice.Status.OPEN).values_list("id", "amount")
    )
    account = account_from_rows(
        (row.as_account_row() for row in rows), total=order.total, currency=order.currency, open_invoices=open_invoices
    )
    labels = method_short_labels([order.payment_method, *(row.payment_method for row in rows)])
    reads = OrderPageReads(rows=rows, account=account, method_labels=labels)
    vars(order)[_CACHE] = reads
    return reads
