"""The timeline's payment status changes end at the order's payment status: a hold that lapsed (no row is written
when it does) must not read as still authorized, or staff ship goods against money that is no longer held."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.timeline import order_timeline
from core.status import PaymentStatus
from payments.models import PaymentTransaction
from payments.sweeps import authorizations_expiry_sweep
from tests import factories
from tests.conftest import authorize

pytestmark = pytest.mark.django_db


def _last_status(order) -> str:  # noqa: ANN001
    return [entry.title for entry in order_timeline(order=order) if entry.kind == "status"][-1]


def test_a_lapsed_authorization_ends_the_timeline_at_the_orders_status(gateway_integration, fake_gateway) -> None:  # noqa: ANN001
    auth = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration)
    PaymentTransaction.objects.filter(pk=auth.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    authorizations_expiry_sweep()

    order = auth.order
    order.refresh_from_db()
    assert order.payment_status != PaymentStatus.AUTHORIZED
    assert _last_status(order) == f"Payment status: {PaymentStatus(order.payment_status).label}"
