"""A given-up order's late payment is given back automatically. A provider's "rate limit reached" (HTTP 429, a
`rate_limited` decline: nothing was done) is a reason to try again, not a release that failed for good: its key
must not be burnt, or every later sweep replays the decline and the buyer's money waits on staff."""

from __future__ import annotations

import pytest

from notifications.models import Notice
from orders.models import PaymentStatus
from payments.models import Action, State
from payments.tasks import orders_release_sweep_task
from providers.base import ErrorCode
from tests.checkout.test_failed_attempts import given_up_order
from tests.fakes import FakeGateway

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("charge", [False, True])
def test_a_rate_limited_release_is_tried_again_by_the_next_sweep(gateway_integration, monkeypatch, charge) -> None:  # noqa: ANN001
    monkeypatch.setattr("payments.ledger._order_release_later", lambda order_id: None)  # the sweep releases
    order, purchase = given_up_order(gateway_integration, charge=charge)
    verb = "refund" if charge else "cancel"
    FakeGateway.decline_next[verb] = ErrorCode.RATE_LIMITED

    orders_release_sweep_task.apply()  # refused for the rate limit: nothing was done
    orders_release_sweep_task.apply()  # the next sweep

    order.refresh_from_db()
    released = order.transactions.filter(action=Action.REFUND if charge else Action.CANCEL, state=State.SUCCEEDED)
    assert released.count() == 1
    assert order.payment_status == (PaymentStatus.REFUNDED if charge else PaymentStatus.CANCELED)
    assert not Notice.objects.filter(key=f"release-failed:{purchase.pk}").exists()
