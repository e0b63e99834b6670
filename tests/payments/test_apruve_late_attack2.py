"""Second attack on the release of an Apruve order accepted after its payment was ended, against the Apruve sandbox.

An Apruve order the ledger is releasing (a late-release cancel row names it) is never taken by the order's next
payment: neither by the lookup of our order number nor by a browser posting its id back to the next payment's page.
Otherwise the next payment would stand on an order that the release cancels at Apruve (reconcile re-sends it), and
the ledger would count a hold Apruve no longer has.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments import services, sweeps
from payments.abandonment import payment_abandon
from payments.models import Action, PaymentTransaction, State
from payments.selectors import order_account
from sandbox.services import sim_fault_add
from tests import factories
from tests.payments.test_apruve_late_acceptance import (
    accept_in_other_tab,
    apruve_status,
    ended_offer,
    hold_webhooks,
    releases,
)
from tests.payments.test_apruve_payments import apruve, offer

__all__ = ["apruve"]  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("how", ["lookup by our number", "its id posted to the next payment's page"])
def test_the_next_payment_never_takes_an_order_whose_release_awaits_apruves_answer(
    apruve, live_server, monkeypatch, how: str
) -> None:  # noqa: ANN001
    """The late order's cancel got no answer (HTTP 503: not carried out), so its release row stays open for
    reconcile; the buyer starts paying again. The next payment must not take that order as its own."""
    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    late_id = accept_in_other_tab(live_server, lightbox)
    sim_fault_add(provider="apruve", kind="error_503", operation="cancel_order")
    services.payment_complete(transaction_id=ended.pk, returned_reference=late_id)
    release = PaymentTransaction.objects.get(source=ended, action=Action.CANCEL)
    assert (release.state, release.provider_reference, apruve_status(late_id)) == (State.RESERVED, late_id, "accepted")

    second = offer(apruve, order, key="checkout:1:2")
    named = late_id if how != "lookup by our number" else ""
    second = services.payment_complete(transaction_id=second.pk, returned_reference=named)

    assert (second.state, second.provider_reference) == (State.ACTION_REQUIRED, "")
    settled = sweeps.payment_reconcile(transaction_id=release.pk)  # the release is sent again
    assert settled.state == State.SUCCEEDED
    assert apruve_status(late_id) == "canceled"
    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, late_id, Decimal("100.0000"))]
    order.refresh_from_db()
    account = order_account(order=order)
    assert (account.held, account.taken) == (0, 0)  # the next payment still waits for the buyer


def test_the_next_payment_can_be_ended_while_an_order_released_for_the_first_stands_at_apruve(
    apruve, live_server, monkeypatch
) -> None:  # noqa: ANN001
    """Apruve refused the late order's cancel (staff billed it in the dashboard first; staff are told to cancel it
    there): it stands at Apruve with our number and amount. The buyer's next offer, closed without accepting, ends
    like any other: that order is not the next payment's."""
    from tests.payments.test_apruve_attack import dashboard_invoice

    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    late_id = accept_in_other_tab(live_server, lightbox)
    dashboard_invoice(live_server, late_id, 2000)
    services.payment_complete(transaction_id=ended.pk, returned_reference=late_id)
    assert releases(ended) == [(Action.CANCEL, State.DECLINED, late_id, Decimal("100.0000"))]

    second = offer(apruve, order, key="checkout:1:2")
    second = payment_abandon(transaction_id=second.pk)

    assert (second.state, second.error_code, second.provider_reference) == (State.DECLINED, "abandoned", "")
