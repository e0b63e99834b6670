"""Two partial captures of one authorization on a provider that captures more than once: the authorization closes
only once settled rows (succeeded captures, cancels, releases) account for all of it. An open sibling keeps it
from being over-captured (the reserve counts money in flight) but does not close it, so a sibling declined later
leaves its amount held and capturable again instead of offering it to the buyer a second time.

The answers are held at the provider edge (the fake gateway) so the record of one capture runs while the other
is still open; the threads run on PostgreSQL, each on its own connection.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from orders.models import Order, PaymentStatus
from payments import services
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State
from payments.selectors import order_account
from payments.sweeps import payment_reconcile
from providers.base import Capability, FollowUpRequest, ProviderResult
from tests import factories
from tests.conftest import authorize, usd

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("the order lock and the threads are exercised on PostgreSQL")


@pytest.fixture
def single_capture(fake_gateway, monkeypatch):  # noqa: ANN001, ANN201
    """The fake gateway as a provider that takes one capture per authorization and releases the rest."""
    monkeypatch.setattr(fake_gateway, "capabilities", fake_gateway.capabilities - {Capability.MULTIPLE_CAPTURE})
    return fake_gateway


def account_figures(order: Order) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    """(taken, held, in flight, outstanding, payable) of the order's account, read now."""
    account = order_account(order=order)
    return account.taken, account.held, account.in_flight, account.outstanding, account.payable


def state_of(order: Order, auth: PaymentTransaction) -> tuple[bool, str, Decimal]:
    """Whether the authorization is open, the order's status and what the authorization has left to capture."""
    auth.refresh_from_db()
    order.refresh_from_db()
    return auth.active, order.payment_status, services.capturable_amount(auth)


def capture_a_while_b_is_open(
    order: Order, auth: PaymentTransaction, b_at_provider: threading.Event
) -> PaymentTransaction:
    """A's capture of 60, made and recorded while B's 40 is at the provider, its answer not recorded yet."""
    assert b_at_provider.wait(timeout=10)
    # B is reserved, its answer not recorded: it counts against what may be captured, not as settled
    assert account_figures(order) == (0, Decimal("60.00"), Decimal("40.00"), Decimal("100.00"), 0)
    with pytest.raises(PaymentRefused):
        services.payment_capture(source_id=auth.pk, amount=usd("60.01"), key="too-much")
    a = services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="a")
    assert a.state == State.SUCCEEDED
    assert state_of(order, auth) == (True, PaymentStatus.PARTIALLY, Decimal("0.00"))  # open, nothing left to take
    assert account_figures(order) == (Decimal("60.00"), 0, Decimal("40.00"), Decimal("40.00"), 0)
    return a


def test_a_sibling_declined_after_the_other_was_recorded_leaves_its_amount_held_and_capturable(
    gateway_integration,
    fake_gateway,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    fake_gateway.decline_next["capture"] = "card_declined"  # B, the first to reach the provider, is declined
    b_at_provider, a_recorded = threading.Event(), threading.Event()
    original = fake_gateway.capture

    def capture_held(self, request: FollowUpRequest) -> ProviderResult:  # noqa: ANN001
        if request.idempotency_key != "b":
            return original(self, request)
        answer = original(self, request)  # the provider decided: declined
        b_at_provider.set()
        assert a_recorded.wait(timeout=10)  # its answer arrives after A was recorded
        return answer

    monkeypatch.setattr(fake_gateway, "capture", capture_held)
    outcome: list[PaymentTransaction] = []

    def capture_b() -> None:
        try:
            outcome.append(services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b"))
        finally:
            connection.close()

    worker = threading.Thread(target=capture_b)
    worker.start()
    try:
        a = capture_a_while_b_is_open(order, auth, b_at_provider)
    finally:
        a_recorded.set()  # B's answer arrives now
        worker.join(timeout=10)
    assert a.state == State.SUCCEEDED

    assert [b.state for b in outcome] == [State.DECLINED]
    assert state_of(order, auth) == (True, PaymentStatus.PARTIALLY, Decimal("40.00"))
    # the provider still holds B's 40: held, not offered to the buyer again
    assert account_figures(order) == (Decimal("60.00"), Decimal("40.00"), 0, Decimal("40.00"), 0)
    with pytest.raises(PaymentRefused):
        services.payment_purchase(
            order_id=order.pk,
            method=f"fakegw_{gateway_integration.pk}",
            key="pay-again",
            payment_data={"token": "tok_ok"},
        )

    again = services.payment_capture(source_id=auth.pk, amount=None, key="b-again")  # staff capture the rest

    assert (again.state, again.amount) == (State.SUCCEEDED, Decimal("40.0000"))
    assert state_of(order, auth) == (False, PaymentStatus.FULL, Decimal("0.00"))
    assert account_figures(order) == (Decimal("100.00"), 0, 0, 0, 0)
    assert fake_gateway.calls == {"authorize": 1, "capture": 3}
    assert not PaymentTransaction.objects.filter(order=order, action=Action.RELEASE).exists()


def test_the_record_of_the_last_sibling_to_succeed_closes_the_authorization(
    gateway_integration,
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    fake_gateway.lose_reply_next.append("capture")  # B captured at the provider, its answer lost
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")
    assert b.state == State.RESERVED

    a = services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="a")

    assert a.state == State.SUCCEEDED
    assert state_of(order, auth) == (True, PaymentStatus.PARTIALLY, Decimal("0.00"))
    assert account_figures(order) == (Decimal("60.00"), 0, Decimal("40.00"), Decimal("40.00"), 0)

    settled = payment_reconcile(transaction_id=b.pk)

    assert settled.state == State.SUCCEEDED
    assert state_of(order, auth) == (False, PaymentStatus.FULL, Decimal("0.00"))
    assert account_figures(order) == (Decimal("100.00"), 0, 0, 0, 0)
    assert not PaymentTransaction.objects.filter(order=order, action=Action.RELEASE).exists()


def test_a_sibling_declined_through_reconcile_reopens_its_amount_for_capture(
    gateway_integration,
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    fake_gateway.decline_next["capture"] = "card_declined"
    fake_gateway.lose_reply_next.append("capture")  # B declined at the provider, the answer lost
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")
    services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="a")

    declined = payment_reconcile(transaction_id=b.pk)

    assert declined.state == State.DECLINED
    assert state_of(order, auth) == (True, PaymentStatus.PARTIALLY, Decimal("40.00"))
    assert account_figures(order) == (Decimal("60.00"), Decimal("40.00"), 0, Decimal("40.00"), 0)


def test_a_single_capture_provider_still_closes_and_releases_the_rest_with_the_first_capture(
    gateway_integration,
    single_capture,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)

    capture = services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="part")

    assert capture.state == State.SUCCEEDED
    assert state_of(order, auth) == (False, PaymentStatus.PARTIALLY, Decimal("0.00"))
    releases = PaymentTransaction.objects.filter(order=order, action=Action.RELEASE)
    assert [(r.amount, r.source_id) for r in releases] == [(Decimal("40.0000"), auth.pk)]
    assert account_figures(order) == (Decimal("60.00"), 0, 0, Decimal("40.00"), Decimal("40.00"))


@pytest.mark.parametrize("b_answer", ["declined", "succeeded"])
def test_a_cancel_beside_an_open_capture_closes_the_authorization_at_once(
    b_answer: str,
    gateway_integration,
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    if b_answer == "declined":
        fake_gateway.decline_next["capture"] = "card_declined"
    fake_gateway.lose_reply_next.append("capture")  # B decided at the provider, the answer lost
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")

    void = services.payment_cancel(source_id=auth.pk, key="void")  # the rest besides B

    assert (void.state, void.amount) == (State.SUCCEEDED, Decimal("60.0000"))
    # the provider's void let go of all it still held, B's 40 too unless B was taken before: the authorization
    # closes; B's 40 is not offered while it may still be taken
    assert state_of(order, auth) == (False, PaymentStatus.CANCELED, Decimal("0.00"))
    assert account_figures(order) == (0, 0, Decimal("40.00"), Decimal("100.00"), Decimal("60.00"))

    recorded = payment_reconcile(transaction_id=b.pk)

    if b_answer == "declined":
        assert recorded.state == State.DECLINED
        # nothing is held for B: its 40 is payable again, not shown as held and capturable
        assert state_of(order, auth) == (False, PaymentStatus.CANCELED, Decimal("0.00"))
        assert account_figures(order) == (0, 0, 0, Decimal("100.00"), Decimal("100.00"))
    else:
        assert recorded.state == State.SUCCEEDED
        assert state_of(order, auth) == (False, PaymentStatus.PARTIALLY, Decimal("0.00"))
        assert account_figures(order) == (Decimal("40.00"), 0, 0, Decimal("60.00"), Decimal("60.00"))
