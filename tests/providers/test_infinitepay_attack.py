"""InfinitePay adapter against its sandbox: read-backs that must not take someone else's order, or a canceled
guarantee, for our reservation."""

from __future__ import annotations

import uuid

import pytest

from providers.base import Outcome, StatusRequest
from tests.providers.test_infinitepay import adapter_for, follow, method_info, purchase

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reserve_whose_order_id_another_order_holds_is_not_taken_as_ours(live_server) -> None:
    """ORDER_ID comes from our key ("checkout:<pk>:<attempt>"); a restored database or a second installation on the
    same account makes the same key for another order. InfinitePay then refuses the ORDER_ID as used; reading it
    back must not record the other order's reservation (another amount) as this order's guarantee."""
    adapter = adapter_for(live_server)
    key = f"checkout:1:{uuid.uuid4().hex[:6]}"
    theirs = adapter.authorize(purchase("300.00", key=key))
    assert theirs.outcome == Outcome.SUCCEEDED
    ours = adapter.authorize(purchase("120.00", key=key))
    assert ours.outcome != Outcome.SUCCEEDED
    assert ours.provider_reference != theirs.provider_reference
    status = StatusRequest(key, None, "authorize", purchase("120.00").amount, method_info())
    found = adapter.fetch_status(status)  # reconcile of a lost reply of the 120.00 reserve
    assert found.outcome != Outcome.SUCCEEDED


def test_a_reservation_canceled_at_infinitepay_is_not_read_back_as_a_live_authorization(live_server) -> None:
    """A reserve whose reply was lost, canceled at InfinitePay (its portal) before reconcile ran: no guarantee is
    held, so reconcile must not record an active authorization the order page would offer to capture."""
    adapter = adapter_for(live_server)
    request = purchase("80.00")
    reserved = adapter.authorize(request)
    canceled = adapter.cancel(follow(reserved))
    assert canceled.outcome == Outcome.SUCCEEDED
    status = StatusRequest(request.idempotency_key, None, "authorize", request.amount, method_info())
    found = adapter.fetch_status(status)
    assert found.outcome == Outcome.DECLINED


def test_a_lost_reply_of_a_refund_in_full_before_activation_is_read_back_by_its_cancel(live_server) -> None:
    """A refund in full of a captured order not activated is a cancelOrder; its reply lost, reconcile finds it by
    the TRS_ID the cancel carried."""
    from providers.base import ProviderUnavailable
    from tests.providers.sandboxes import fault

    adapter = adapter_for(live_server)
    reserved = adapter.authorize(purchase("40.00"))
    captured = adapter.capture(follow(reserved))
    slow = adapter_for(live_server)
    slow.read_timeout = 0.5
    refund = follow(captured)
    fault(live_server.url, slow, "timeout", "cancelOrder", times=1, delay=1.5)
    with pytest.raises(ProviderUnavailable):
        slow.refund(refund)
    asked = StatusRequest(refund.idempotency_key, captured.provider_reference, "refund", refund.amount, method_info())
    found = adapter.fetch_status(asked)
    assert (found.outcome, found.amount) == (Outcome.SUCCEEDED, refund.amount)
    other = StatusRequest("another", captured.provider_reference, "refund", refund.amount, method_info())
    assert adapter.fetch_status(other).outcome != Outcome.SUCCEEDED
