"""Payments nobody could settle automatically: the order page offers staff a way out (cancel the hold at the
provider, or record what the provider's dashboard shows), permission checked, and the flag and notice close."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group, Permission, User

from backoffice.roles import SALES
from notifications.models import Notice
from orders.models import PaymentStatus
from payments import services
from payments.models import Action, PaymentTransaction, State
from sandbox.services import sim_fault_add, sim_get
from tests import factories
from tests.backoffice.test_order_operations import messages_of, op_url, order_url, submit
from tests.sandbox_support import ledger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sales(client) -> User:  # noqa: ANN001
    user = factories.UserFactory(username="sam", staff=True)
    user.groups.add(Group.objects.get(name=SALES))
    client.force_login(user)
    return user


def flagged(integration, pm: str = "pm_card_visa") -> PaymentTransaction:  # noqa: ANN001
    """A purchase whose answer left out what we need, which reconcile then could not settle: open, flagged, with
    the provider's reference (as after RECONCILE_MAX_ATTEMPTS)."""
    order = factories.OrderFactory()
    sim_fault_add(provider="stripe", kind="sparse", operation="create")
    txn = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{integration.pk}",
        key=f"purchase-{order.pk}",
        payment_data={"payment_method": pm},
        return_url="http://shop.test/return",
    )
    assert (txn.is_open, txn.provider_reference[:3]) == (True, "pi_")
    PaymentTransaction.objects.filter(pk=txn.pk).update(needs_attention=True, reconcile_attempts=12)
    Notice.objects.create(key=f"unsettled:{txn.pk}", message="Check it", order=order)
    txn.refresh_from_db()
    return txn


def test_a_flagged_payment_offers_staff_to_cancel_the_hold_or_mark_it_resolved(
    client, sales, stripe_integration
) -> None:
    txn = flagged(stripe_integration)
    page = client.get(order_url(txn.order)).content.decode()
    assert '<strong class="needs-attention">Needs attention</strong>' in page
    assert f'<a class="button payment-operation release" href="{op_url(txn, "release")}">Cancel the hold</a>' in page
    assert f'<a class="button payment-operation resolve" href="{op_url(txn, "resolve")}">Mark resolved</a>' in page
    form = client.get(op_url(txn, "resolve")).content.decode()
    assert "Nobody could find out automatically what became of this payment" in form
    assert 'name="outcome"' in form


def test_cancel_the_hold_asks_stripe_records_the_authorization_and_releases_it(
    client, sales, stripe_integration
) -> None:
    txn = flagged(stripe_integration)
    response = submit(client, txn, "release", note="Buyer called: order withdrawn")
    assert messages_of(response) == ["The hold of $100.00 has been released at the provider."]
    assert ledger(txn.order) == [
        ("authorize", "100.0000", "succeeded", True, False, "pi_"),
        ("cancel", "100.0000", "succeeded", True, False, "pi_"),
    ]
    txn.refresh_from_db()
    assert txn.needs_attention is False
    assert "Buyer called" in txn.note
    assert sim_get("stripe", "payment_intent", txn.provider_reference).data["status"] == "canceled"
    assert Notice.objects.get(key=f"unsettled:{txn.pk}").resolved_at is not None
    txn.order.refresh_from_db()
    assert txn.order.payment_status == PaymentStatus.CANCELED


def test_cancel_the_hold_of_an_attempt_still_waiting_for_the_buyer_ends_it_at_stripe(
    client, sales, stripe_integration
) -> None:
    txn = flagged(stripe_integration, pm="pm_card_threeDSecure2Required")
    response = submit(client, txn, "release", note="Abandoned at the bank's page")
    assert messages_of(response) == ["The hold of $100.00 has been released at the provider."]
    txn.refresh_from_db()
    assert (txn.state, txn.error_code, txn.needs_attention) == (State.DECLINED, "canceled", False)
    assert sim_get("stripe", "payment_intent", txn.provider_reference).data["status"] == "canceled"
    assert not PaymentTransaction.objects.filter(action=Action.CANCEL).exists()  # nothing was held
    assert op_url(txn, "release") not in client.get(order_url(txn.order)).content.decode()


@pytest.mark.parametrize(
    ("outcome", "state", "status"),
    [("failed", State.DECLINED, PaymentStatus.DECLINED), ("succeeded", State.SUCCEEDED, PaymentStatus.AUTHORIZED)],
)
def test_mark_resolved_records_what_staff_found_at_the_provider(
    client, sales, stripe_integration, outcome, state, status
) -> None:
    txn = flagged(stripe_integration)
    response = submit(client, txn, "resolve", outcome=outcome, reference="", note="Checked in the dashboard")
    assert messages_of(response) == ["The payment of $100.00 is recorded as it stands at the provider."]
    txn.refresh_from_db()
    assert (txn.state, txn.needs_attention) == (state, False)
    txn.order.refresh_from_db()
    assert txn.order.payment_status == status


def test_marking_a_payment_without_reference_as_paid_needs_the_reference(client, sales, stripe_integration) -> None:
    txn = flagged(stripe_integration)
    PaymentTransaction.objects.filter(pk=txn.pk).update(provider_reference="")
    response = submit(client, txn, "resolve", outcome="succeeded", reference="", note="It went through")
    assert messages_of(response) == ["Give the provider's reference of the payment that went through."]
    txn.refresh_from_db()
    assert (txn.state, txn.needs_attention) == (State.RESERVED, True)  # nothing changed
    submit(client, txn, "resolve", outcome="succeeded", reference="pi_fromthedashboard", note="It went through")
    txn.refresh_from_db()
    assert (txn.state, txn.provider_reference) == (State.SUCCEEDED, "pi_fromthedashboard")


def test_resolving_needs_its_own_permission(client, stripe_integration) -> None:
    txn = flagged(stripe_integration)
    viewer = factories.UserFactory(username="vera", staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=("view_order", "view_payment_history", "capture_payment"))
    )
    client.force_login(viewer)
    assert op_url(txn, "resolve") not in client.get(order_url(txn.order)).content.decode()
    assert (
        client.post(op_url(txn, "resolve"), {"outcome": "failed", "note": "x", "key": str(uuid.uuid4())}).status_code
        == 403
    )
    txn.refresh_from_db()
    assert (txn.state, txn.needs_attention) == (State.RESERVED, True)


def test_a_payment_that_is_not_flagged_offers_neither(client, sales, stripe_integration) -> None:
    order = factories.OrderFactory()
    txn = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{stripe_integration.pk}",
        key="p",
        payment_data={"payment_method": "pm_card_visa"},
    )
    page = client.get(order_url(order)).content.decode()
    assert op_url(txn, "release") not in page
    assert op_url(txn, "resolve") not in page
    assert "Needs attention" not in page
    assert f'<a class="button payment-operation capture" href="{op_url(txn, "capture")}">Capture</a>' in page
