"""A capture costs a fixed number of statements, transaction control included (`core.statements`).

In these tests each of its two transactions is a savepoint inside the test's own transaction: SAVEPOINT and
RELEASE stand for BEGIN and COMMIT, so the count is what the capture sends in production.
"""

from __future__ import annotations

from decimal import Decimal

from core.statements import count_statements
from integrations.models import Integration
from notifications.models import BuyerEmail
from orders.models import Order, PaymentStatus
from payments.models import Action, PaymentTransaction, State
from payments.services import payment_capture, payment_purchase
from tests import factories
from tests.conftest import authorize, usd

#: measured 25 before the round-trip cuts, then 14, now 10. Reserve (5): lock the order through the source row;
#: read the order's rows in full with any row of the same key (the source, the replay, the account and what the
#: source's children took, in one read); insert; and the transaction's 2. Record (5): lock; read the order's rows
#: (the row, its source, what is left of the authorization, the status and the account, in one read); update
#: the row (the authorization holds more, so it stays as it is); and the transaction's 2.
CAPTURE_STATEMENTS = 10
#: a capture that settles the order (measured 18 with the receipt before, then 17 without it): the record step
#: also closes the source in the row's own UPDATE (one statement for both rows), updates the order's payment
#: status and writes the buyer's receipt (an insert that skips a duplicate). No endpoint is active, which the
#: record's read of the rows says, so the endpoints are not read again. 5 + 7.
SETTLING_CAPTURE_STATEMENTS = 12


def buyers_order(subtotal: str) -> Order:
    buyer = factories.CustomerUserFactory()
    return factories.OrderFactory(customer=buyer.customer, customer_user=buyer, subtotal=Decimal(subtotal))


def receipts(order: Order) -> list[str]:
    return list(order.buyer_emails.filter(kind=BuyerEmail.Kind.PAYMENT_RECEIPT).values_list("key", flat=True))


def test_a_partial_capture_costs_its_statement_budget(db: None, gateway_integration: Integration) -> None:
    auth = authorize(factories.OrderFactory(subtotal=Decimal("1000.00")), gateway_integration)
    payment_capture(source_id=auth.pk, amount=usd("1.00"), key="first")  # the status changes once, here
    with count_statements() as log:
        capture = payment_capture(source_id=auth.pk, amount=usd("1.00"), key="second")
    assert capture.state == State.SUCCEEDED
    assert log.statements == CAPTURE_STATEMENTS, log


def test_a_full_capture_costs_its_statement_budget(db: None, gateway_integration: Integration) -> None:
    order = buyers_order("250.00")
    auth = authorize(order, gateway_integration)
    with count_statements() as log:
        capture = payment_capture(source_id=auth.pk, amount=None, key="all")
    auth.refresh_from_db()
    order.refresh_from_db()
    assert (capture.state, capture.amount) == (State.SUCCEEDED, Decimal("250.00"))
    assert auth.active is False
    assert order.payment_status == PaymentStatus.FULL
    assert receipts(order) == [f"txn:{capture.pk}"]
    assert log.statements == SETTLING_CAPTURE_STATEMENTS, log


def test_marking_an_offline_promise_paid_costs_its_statement_budget(db: None) -> None:
    integration = factories.IntegrationFactory()  # check / money order
    order = buyers_order("97.13")
    promise = payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key="promise")
    with count_statements() as log:
        paid = payment_capture(source_id=promise.pk, amount=None, key="check-received")
    promise.refresh_from_db()
    order.refresh_from_db()
    assert (paid.action, paid.state, paid.amount, paid.source_id) == (
        Action.CAPTURE,
        State.SUCCEEDED,
        Decimal("97.13"),
        promise.pk,
    )
    assert promise.active is False
    assert order.payment_status == PaymentStatus.FULL
    assert receipts(order) == [f"txn:{paid.pk}"]
    assert log.statements == SETTLING_CAPTURE_STATEMENTS, log


def test_a_repeated_capture_reads_and_writes_nothing_more(db: None, gateway_integration: Integration) -> None:
    auth = authorize(factories.OrderFactory(subtotal=Decimal("1000.00")), gateway_integration)
    first = payment_capture(source_id=auth.pk, amount=usd("1.00"), key="once")
    with count_statements() as log:
        again = payment_capture(source_id=auth.pk, amount=usd("1.00"), key="once")
    assert again.pk == first.pk
    assert PaymentTransaction.objects.filter(source=auth).count() == 1
    assert log.statements == 4, log  # the lock, the order's rows with the key's row, and the transaction's 2
