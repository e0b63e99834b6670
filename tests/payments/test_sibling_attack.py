"""Attacks on the close rule for sibling captures and on the record's changed-columns write.

A cancel on a real multi-capture provider (Wirecard's `approveReversal`, OroPay's reversal) lets go of everything
the authorization still holds, not only "the rest besides captures in flight": the provider cannot know of a
capture it has not taken. A capture still open when the cancel succeeds either was taken before (its answer lost,
it stays) or is refused afterwards; nothing is held for it either way.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import PaymentStatus
from payments import services, sweeps
from payments.exceptions import PaymentRefused
from payments.models import PaymentTransaction, State
from payments.selectors import order_account
from providers.base import Money
from sandbox.services import sim_fault_add, sim_get
from tests import factories
from tests.payments.test_wirecard_payments import paid

pytestmark = pytest.mark.django_db(transaction=True)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def test_a_wirecard_cancel_beside_an_open_deposit_releases_the_whole_hold_and_closes_the_authorization(
    wirecard_integration, wirecard_sandbox, live_server
) -> None:
    order = factories.OrderFactory(currency="EUR")
    auth = paid(wirecard_integration, order, wirecard_sandbox, live_server)
    sim_fault_add(provider="wirecard", kind="error_503", operation="deposit", times=1)  # B never reaches Wirecard
    b = services.payment_capture(source_id=auth.pk, amount=eur("40.00"), key="b")
    assert b.state == State.RESERVED

    void = services.payment_cancel(source_id=auth.pk, key="void")

    assert void.state == State.SUCCEEDED
    assert sim_get("wirecard", "order", auth.provider_reference).data["state"] == "APPROVALREVERSED"  # all of it
    # past the wait before a deposit without a key may be sent again
    PaymentTransaction.objects.filter(pk=b.pk).update(created_at=timezone.now() - timedelta(hours=1))
    declined = sweeps.payment_reconcile(transaction_id=b.pk)  # B re-sent: refused, nothing is approved any more
    assert declined.state == State.DECLINED
    assert sim_get("wirecard", "order", auth.provider_reference).data["payments"] == []

    auth.refresh_from_db()
    order.refresh_from_db()
    account = order_account(order=order)
    # Wirecard holds nothing: the ledger must not show 40 held and capturable
    assert (auth.active, services.capturable_amount(auth)) == (False, Decimal("0.00"))
    assert (account.taken, account.held, account.in_flight) == (0, 0, 0)
    assert order.payment_status == PaymentStatus.CANCELED
    with pytest.raises(PaymentRefused):
        services.payment_capture(source_id=auth.pk, amount=None, key="rest")
    assert not PaymentTransaction.objects.filter(idempotency_key="rest").exists()
