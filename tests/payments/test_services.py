"""Capture, cancel and refund through the real services and ledger, against a gateway at the network edge."""

from decimal import Decimal

import pytest

from orders.models import PaymentStatus
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State
from payments.services import (
    capturable_amount,
    payment_cancel,
    payment_capture,
    payment_purchase,
    payment_refund,
    refundable_amount,
)
from providers.base import Money
from tests import factories
from tests.conftest import authorize, usd
from tests.fakes import DECLINE_TOKEN, TIMEOUT_TOKEN

pytestmark = pytest.mark.django_db


def snapshot(order) -> tuple:  # noqa: ANN001
    """Everything a refused request must leave untouched."""
    order.refresh_from_db()
    rows = list(
        PaymentTransaction.objects.filter(order=order)
        .order_by("pk")
        .values_list("pk", "action", "amount", "state", "successful", "active")
    )
    return order.payment_status, rows


def test_authorize_then_partial_captures_accumulate(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    assert (auth.action, auth.state, auth.provider_reference) == (
        Action.AUTHORIZE,
        State.SUCCEEDED,
        auth.provider_reference,
    )
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED

    payment_capture(source_id=auth.pk, amount=usd("30.00"), key="c1")
    payment_capture(source_id=auth.pk, amount=usd("45.50"), key="c2")
    auth.refresh_from_db()
    order.refresh_from_db()
    assert capturable_amount(auth) == Decimal("24.50")
    assert auth.active is True
    assert order.payment_status == PaymentStatus.PARTIALLY

    last = payment_capture(source_id=auth.pk, amount=None, key="c3")  # the rest
    auth.refresh_from_db()
    order.refresh_from_db()
    assert last.amount == Decimal("24.50")
    assert auth.active is False
    assert order.payment_status == PaymentStatus.FULL
    assert fake_gateway.calls == {"authorize": 1, "capture": 3}


def test_capture_above_the_authorized_remainder_is_refused_and_changes_nothing(
    gateway_integration, fake_gateway
) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    payment_capture(source_id=auth.pk, amount=usd("60.00"), key="c1")
    before = snapshot(order)

    with pytest.raises(PaymentRefused) as refused:
        payment_capture(source_id=auth.pk, amount=usd("40.01"), key="c2")
    assert refused.value.code == "amount_exceeds_available"
    assert "40.01 USD exceeds the 40.00 USD available" in refused.value.message
    assert snapshot(order) == before
    assert fake_gateway.calls["capture"] == 1


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (Money(Decimal("0"), "USD"), "amount_not_positive"),
        (Money(Decimal("-5.00"), "USD"), "amount_not_positive"),
        (Money(Decimal("10"), "EUR"), "currency_mismatch"),
    ],
)
def test_capture_refuses_zero_negative_and_other_currency(gateway_integration, fake_gateway, amount, code) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    before = snapshot(order)
    with pytest.raises(PaymentRefused) as refused:
        payment_capture(source_id=auth.pk, amount=amount, key="c1")
    assert refused.value.code == code
    assert snapshot(order) == before


def test_partial_refunds_accumulate_and_over_refund_is_refused(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    capture = payment_capture(source_id=auth.pk, amount=None, key="c1")

    payment_refund(source_id=capture.pk, amount=usd("25.00"), key="r1", note="damaged box")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    payment_refund(source_id=capture.pk, amount=usd("50.00"), key="r2")
    capture.refresh_from_db()
    assert refundable_amount(capture) == Decimal("25.00")
    before = snapshot(order)

    with pytest.raises(PaymentRefused) as refused:
        payment_refund(source_id=capture.pk, amount=usd("25.01"), key="r3")
    assert refused.value.code == "amount_exceeds_available"
    assert snapshot(order) == before

    payment_refund(source_id=capture.pk, amount=None, key="r4")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED
    assert fake_gateway.calls["refund"] == 3
    with pytest.raises(PaymentRefused) as refused:
        payment_refund(source_id=capture.pk, amount=None, key="r5")
    assert refused.value.code == "nothing_to_refund"


def test_refund_of_an_authorization_is_refused(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    with pytest.raises(PaymentRefused) as refused:
        payment_refund(source_id=auth.pk, amount=None, key="r1")
    assert refused.value.code == "not_refundable"


def test_same_key_twice_moves_money_once(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    again = authorize(order, gateway_integration)
    assert again.pk == auth.pk

    first = payment_capture(source_id=auth.pk, amount=usd("10.00"), key="cap")
    second = payment_capture(source_id=auth.pk, amount=usd("10.00"), key="cap")
    assert second.pk == first.pk
    refund = payment_refund(source_id=first.pk, amount=usd("5.00"), key="ref")
    assert payment_refund(source_id=first.pk, amount=usd("5.00"), key="ref").pk == refund.pk
    full_capture = payment_capture(source_id=auth.pk, amount=None, key="rest")
    assert payment_capture(source_id=auth.pk, amount=None, key="rest").pk == full_capture.pk

    assert fake_gateway.calls == {"authorize": 1, "capture": 2, "refund": 1}
    assert PaymentTransaction.objects.filter(order=order).count() == 4


def test_same_key_with_other_terms_is_refused(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    payment_capture(source_id=auth.pk, amount=usd("10.00"), key="cap")
    before = snapshot(order)
    with pytest.raises(PaymentRefused) as refused:
        payment_capture(source_id=auth.pk, amount=usd("20.00"), key="cap")
    assert refused.value.code == "idempotency_key_reused"
    assert snapshot(order) == before


def test_cancel_releases_what_is_left(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    payment_capture(source_id=auth.pk, amount=usd("30.00"), key="c1")
    cancel = payment_cancel(
        source_id=auth.pk, key="x1", note="customer changed the order", reason="requested_by_customer"
    )
    auth.refresh_from_db()
    order.refresh_from_db()
    assert (cancel.action, cancel.amount, cancel.successful) == (Action.CANCEL, Decimal("70.00"), True)
    assert auth.active is False
    assert order.payment_status == PaymentStatus.PARTIALLY
    with pytest.raises(PaymentRefused) as refused:
        payment_capture(source_id=auth.pk, amount=usd("1.00"), key="c2")
    assert refused.value.code == "nothing_to_capture"


def test_cancel_of_untouched_authorization_is_canceled(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    payment_cancel(source_id=auth.pk, key="x1")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.CANCELED


def test_decline_is_recorded_and_a_new_attempt_may_follow(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    method = f"fakegw_{gateway_integration.pk}"
    declined = payment_purchase(order_id=order.pk, method=method, key="a1", payment_data={"token": DECLINE_TOKEN})
    order.refresh_from_db()
    assert (declined.state, declined.successful, declined.active, declined.error_code) == (
        State.DECLINED,
        False,
        False,
        "card_declined",
    )
    assert order.payment_status == PaymentStatus.DECLINED

    payment_purchase(order_id=order.pk, method=method, key="a2", payment_data={"token": "tok_ok"})
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED


def test_timeout_leaves_a_reserved_row_that_blocks_a_second_charge(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    method = f"fakegw_{gateway_integration.pk}"
    txn = payment_purchase(order_id=order.pk, method=method, key="a1", payment_data={"token": TIMEOUT_TOKEN})
    order.refresh_from_db()
    assert (txn.state, txn.successful, txn.active) == (State.RESERVED, False, True)
    assert "did not answer" in txn.message
    assert order.payment_status == PaymentStatus.PENDING
    with pytest.raises(PaymentRefused) as refused:
        payment_purchase(order_id=order.pk, method=method, key="a2", payment_data={"token": "tok_ok"})
    assert refused.value.code == "payment_in_progress"  # not "already paid": nobody knows yet
    assert "already paid" not in refused.value.message
    assert "being confirmed" in refused.value.message


def test_capture_timeout_counts_against_what_is_available(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    fake_gateway.fail_next.append("capture")
    open_capture = payment_capture(source_id=auth.pk, amount=usd("80.00"), key="c1")
    assert open_capture.state == State.RESERVED
    auth.refresh_from_db()
    assert capturable_amount(auth) == Decimal("20.00")
    with pytest.raises(PaymentRefused):
        payment_capture(source_id=auth.pk, amount=usd("30.00"), key="c2")


@pytest.mark.parametrize(
    ("trait", "capture", "rest"),
    [
        ("jpy", "5000", "7000"),
        ("kwd", "10.005", "20.120"),
    ],
    ids=["JPY", "KWD"],
)
def test_partial_capture_in_jpy_and_kwd(gateway_integration, fake_gateway, trait, capture, rest) -> None:
    order = factories.OrderFactory(**{trait: True})
    auth = authorize(order, gateway_integration)
    payment_capture(source_id=auth.pk, amount=Money(Decimal(capture), order.currency), key="c1")
    auth.refresh_from_db()
    assert capturable_amount(auth) == Decimal(rest)
    last = payment_capture(source_id=auth.pk, amount=None, key="c2")
    order.refresh_from_db()
    assert last.amount == Decimal(rest)
    assert order.payment_status == PaymentStatus.FULL


def test_unknown_source_is_refused(gateway_integration) -> None:
    with pytest.raises(PaymentRefused) as refused:
        payment_capture(source_id=999999, amount=None, key="c1")
    assert refused.value.code == "unknown_transaction"
