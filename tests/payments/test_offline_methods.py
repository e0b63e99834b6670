"""Money Order and Payment Terms: purchase records a pending promise, capture marks the order paid."""

from decimal import Decimal

import pytest

from integrations.adapters import adapter_for
from orders.models import PaymentStatus
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State
from payments.services import payment_capture, payment_purchase, payment_refund
from tests import factories
from tests.conftest import usd

pytestmark = pytest.mark.django_db


def method(integration) -> str:  # noqa: ANN001
    return f"{integration.provider_key}_{integration.pk}"


def test_money_order_purchase_is_pending_and_capture_pays_in_full() -> None:
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    sales = factories.UserFactory(staff=True)

    pending = payment_purchase(order_id=order.pk, method=method(integration), key="p1")
    order.refresh_from_db()
    assert (pending.action, pending.state, pending.successful, pending.active) == (
        Action.PENDING,
        State.SUCCEEDED,
        True,
        True,
    )
    assert pending.amount == Decimal("100.00")
    assert order.payment_status == PaymentStatus.PENDING
    assert order.payment_method == method(integration)

    capture = payment_capture(source_id=pending.pk, amount=None, key="c1", actor=sales, note="Check #1001")
    order.refresh_from_db()
    pending.refresh_from_db()
    assert (capture.action, capture.amount, capture.successful, capture.source_id) == (
        Action.CAPTURE,
        Decimal("100.00"),
        True,
        pending.pk,
    )
    assert capture.actor == sales
    assert capture.note == "Check #1001"
    assert pending.active is False
    assert order.payment_status == PaymentStatus.FULL


def test_money_order_cannot_be_captured_twice() -> None:
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    pending = payment_purchase(order_id=order.pk, method=method(integration), key="p1")
    payment_capture(source_id=pending.pk, amount=None, key="c1")

    with pytest.raises(PaymentRefused) as refused:
        payment_capture(source_id=pending.pk, amount=None, key="c2")
    assert refused.value.code == "nothing_to_capture"
    assert order.transactions.count() == 2


def test_money_order_refuses_partial_capture_and_refund() -> None:
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    pending = payment_purchase(order_id=order.pk, method=method(integration), key="p1")

    with pytest.raises(PaymentRefused) as refused:
        payment_capture(source_id=pending.pk, amount=usd("40.00"), key="c1")
    assert refused.value.code == "partial_capture_unsupported"
    capture = payment_capture(source_id=pending.pk, amount=None, key="c2")
    with pytest.raises(PaymentRefused) as refused:
        payment_refund(source_id=capture.pk, amount=None, key="r1")
    assert refused.value.code == "not_refundable"
    assert order.transactions.count() == 2


def test_payment_terms_copies_the_customers_term_and_capture_pays() -> None:
    net30 = factories.PaymentTermFactory(label="Net 30")
    customer = factories.CustomerFactory(payment_term=net30)
    integration = factories.IntegrationFactory(payment_term=True)
    order = factories.OrderFactory(customer=customer)

    pending = payment_purchase(order_id=order.pk, method=method(integration), key="p1")
    order.refresh_from_db()
    assert (pending.action, pending.successful, pending.active) == (Action.PENDING, True, True)
    assert order.payment_term == net30
    assert order.payment_status == PaymentStatus.PENDING

    payment_capture(source_id=pending.pk, amount=None, key="c1")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL


def test_payment_terms_not_applicable_without_a_term_and_nothing_is_written() -> None:
    integration = factories.IntegrationFactory(payment_term=True)
    order = factories.OrderFactory(customer=factories.CustomerFactory())

    assert adapter_for(integration).is_applicable(order.checkout_context()) is False
    with pytest.raises(PaymentRefused) as refused:
        payment_purchase(order_id=order.pk, method=method(integration), key="p1")
    assert refused.value.code == "method_not_applicable"
    order.refresh_from_db()
    assert PaymentTransaction.objects.count() == 0
    assert (order.payment_method, order.payment_term) == ("", None)


def test_customers_own_term_beats_the_groups() -> None:
    net60 = factories.PaymentTermFactory(label="Net 60")
    net30 = factories.PaymentTermFactory(label="Net 30")
    group = factories.CustomerGroupFactory(name="Wholesale", payment_term=net60)
    own = factories.CustomerFactory(group=group, payment_term=net30)
    inherits = factories.CustomerFactory(group=group)
    integration = factories.IntegrationFactory(payment_term=True)

    assert own.resolved_payment_term == net30
    assert inherits.resolved_payment_term == net60
    assert own.as_info().resolved_payment_term.label == "Net 30"
    assert inherits.as_info().resolved_payment_term.label == "Net 60"

    order = factories.OrderFactory(customer=own)
    payment_purchase(order_id=order.pk, method=method(integration), key="p1")
    order.refresh_from_db()
    assert order.payment_term == net30
    group_order = factories.OrderFactory(customer=inherits)
    payment_purchase(order_id=group_order.pk, method=method(integration), key="p2")
    group_order.refresh_from_db()
    assert group_order.payment_term == net60
    assert adapter_for(integration).is_applicable(group_order.checkout_context()) is True


def test_inactive_integration_takes_no_new_purchase() -> None:
    integration = factories.IntegrationFactory(active=False)
    order = factories.OrderFactory()
    with pytest.raises(PaymentRefused) as refused:
        payment_purchase(order_id=order.pk, method=method(integration), key="p1")
    assert refused.value.code == "method_unavailable"
    assert PaymentTransaction.objects.count() == 0


def test_existing_pending_payment_can_be_captured_after_deactivation() -> None:
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    pending = payment_purchase(order_id=order.pk, method=method(integration), key="p1")
    integration.active = False
    integration.save()

    payment_capture(source_id=pending.pk, amount=None, key="c1")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL


def test_second_purchase_on_a_paid_order_is_refused() -> None:
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    payment_purchase(order_id=order.pk, method=method(integration), key="p1")
    with pytest.raises(PaymentRefused) as refused:
        payment_purchase(order_id=order.pk, method=method(integration), key="p2")
    assert refused.value.code == "already_paid"
    assert order.transactions.count() == 1
