"""Failed payments for staff: declined, refused and abandoned checkout attempts in the back-office, counted once in
the dashboard's "Failed payments today" beside declined operations on placed orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.selectors import dashboard
from checkout.models import CheckoutAttempt
from payments.models import Action, PaymentTransaction, State
from tests import factories

pytestmark = pytest.mark.django_db


def attempt(integration, status: str, *, reason: str = "", message: str = "", reference: str = "", days_ago: int = 0):  # noqa: ANN001, ANN201
    """A finished checkout attempt and its order, hidden from the buyer as the checkout leaves it."""
    customer = factories.CustomerFactory(name=f"{status.title()} Corp")
    order = factories.OrderFactory(customer=customer, subtotal=Decimal("123.45"), discarded_at=timezone.now())
    finished = timezone.now() - timedelta(days=days_ago)
    row = CheckoutAttempt.objects.create(
        number=1,
        order=order,
        customer=customer,
        payment_method=f"{integration.provider_key}_{integration.pk}",
        amount=order.total,
        currency="USD",
        status=status,
        reason=reason,
        message=message,
        provider_reference=reference,
        idempotency_key=f"attempt-{order.pk}",
        fingerprint="f",
        finished_at=finished,
    )
    CheckoutAttempt.objects.filter(pk=row.pk).update(updated_at=finished)
    return row


def declined_row(order, integration, action: str = Action.AUTHORIZE) -> PaymentTransaction:  # noqa: ANN001
    return PaymentTransaction.objects.create(
        order=order,
        integration=integration,
        payment_method=f"{integration.provider_key}_{integration.pk}",
        action=action,
        state=State.DECLINED,
        amount=order.total,
        currency=order.currency,
        idempotency_key=f"declined-{order.pk}-{action}",
        fingerprint="f",
        error_code="card_declined",
        message="Your card was declined.",
        provider_reference=f"ref-{order.pk}",
    )


def test_abandoned_refused_and_declined_attempts_count_once_beside_declined_operations(gateway_integration) -> None:  # noqa: ANN001
    abandoned = attempt(gateway_integration, "abandoned", reason="buyer_left", message="The buyer never came back.")
    refused = attempt(gateway_integration, "refused", reason="invalid_request")
    declined = attempt(gateway_integration, "declined", reason="card_declined", reference="pi_123")
    declined_row(declined.order, gateway_integration)  # the attempt's own declined row: not counted again
    attempt(gateway_integration, "abandoned", days_ago=2)  # not today
    attempt(gateway_integration, "placed")  # not failed
    placed = factories.OrderFactory()
    capture = declined_row(placed, gateway_integration, Action.CAPTURE)

    figures = dashboard()

    assert figures.failed_today_count == 4
    assert {(item.kind, item.pk) for item in figures.failed_today} == {
        ("checkout", abandoned.pk),
        ("checkout", refused.pk),
        ("checkout", declined.pk),
        ("payment", capture.pk),
    }
    by_pk = {item.pk: item for item in figures.failed_today if item.kind == "checkout"}
    assert (by_pk[abandoned.pk].what, by_pk[abandoned.pk].reason) == (
        "Checkout abandoned",
        "The buyer never came back.",
    )
    assert (by_pk[declined.pk].reference, str(by_pk[declined.pk].amount.amount)) == ("pi_123", "123.45")
    assert by_pk[abandoned.pk].customer == "Abandoned Corp"


def test_the_dashboard_and_the_attempt_list_show_who_what_and_why(client, gateway_integration) -> None:  # noqa: ANN001
    abandoned = attempt(gateway_integration, "abandoned", reason="buyer_left", reference="pi_left")
    client.force_login(factories.UserFactory(superuser=True))

    index = client.get("/admin/").content.decode()
    listing = client.get("/admin/checkout/checkoutattempt/?outcome=failed").content.decode()

    assert "Failed payments today (1)" in index
    assert "Abandoned Corp" in index
    assert "Checkout abandoned" in index
    assert "$123.45" in index
    assert f"/admin/checkout/checkoutattempt/{abandoned.pk}/change/" in index
    for shown in ("Abandoned Corp", "$123.45", "buyer_left", "pi_left", gateway_integration.name):
        assert shown in listing, shown
    assert f"fakegw_{gateway_integration.pk}</td>" not in listing  # the method's label, not its identifier
