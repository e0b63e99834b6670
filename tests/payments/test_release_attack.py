"""The recorded release of an uncaptured rest is a record of what the provider did: when the provider reports a
capture of another amount than we asked (flagged for staff), the rest it released is not known, and no release row
claims one."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.ledger import ledger_record, request_fingerprint, reserve_child
from payments.models import Action, PaymentTransaction
from providers.base import Capability, ProviderResult
from tests import factories
from tests.conftest import authorize, usd

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("reported", ["100.00", "50.00"])
def test_a_capture_reported_with_another_amount_records_no_release(
    gateway_integration,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
    reported: str,
) -> None:
    monkeypatch.setattr(fake_gateway, "capabilities", fake_gateway.capabilities - {Capability.MULTIPLE_CAPTURE})
    auth = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration)
    capture = reserve_child(
        auth, Action.CAPTURE, usd("60.00"), key="cap", fingerprint=request_fingerprint("cap"), actor=None
    )

    capture = ledger_record(transaction_id=capture.pk, result=ProviderResult.succeeded(usd(reported)))

    assert capture.needs_attention
    assert not PaymentTransaction.objects.filter(order=auth.order, action=Action.RELEASE).exists()
    auth.refresh_from_db()
    assert not auth.active  # the hold is closed all the same: the provider took its one capture
