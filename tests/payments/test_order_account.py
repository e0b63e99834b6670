"""One account per order: invoices, invoice payments, offline promises and captures never take an order above
its total, whichever path comes first (`payments/account.py`)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.models import Integration
from notifications.models import Notice
from orders.models import Invoice, PaymentStatus
from orders.services import invoice_create
from payments import sweeps
from payments.account import AccountRow, account_from_rows
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State
from payments.money import MoneyError
from payments.selectors import order_account
from payments.services import (
    invoice_payment_purchase,
    payment_cancel,
    payment_capture,
    payment_purchase,
    payment_refund,
)
from providers.base import Money
from tests import factories
from tests.conftest import authorize, payment_term_order, usd

pytestmark = pytest.mark.django_db


@pytest.fixture
def charging(fake_gateway) -> Integration:  # noqa: ANN001
    """A card integration that charges at once (authorize and capture)."""
    return factories.IntegrationFactory(
        provider_key="fakegw",
        name="Card (charge)",
        secrets={"api_key": "sk_test_charging"},
        payment_action=Integration.PaymentAction.CHARGE,
    )


def pay_by_card(order, integration: Integration, key: str = "card") -> PaymentTransaction:  # noqa: ANN001
    return payment_purchase(
        order_id=order.pk, method=f"fakegw_{integration.pk}", key=key, payment_data={"token": "tok_ok"}
    )


def taken(order) -> Decimal:  # noqa: ANN001
    rows = PaymentTransaction.objects.filter(
        order=order, state=State.SUCCEEDED, action__in=(Action.CAPTURE, Action.CHARGE, Action.PURCHASE)
    )
    return sum((r.amount for r in rows), Decimal("0"))


# --- the pure accounting ---------------------------------------------------------------------------------------


def row(pk: int, action: str, amount: str, state: str = "succeeded", **kw: object) -> AccountRow:
    successful = state == "succeeded"
    active = kw.pop("active", successful and action in ("authorize", "pending"))
    return AccountRow(pk, action, state, Decimal(amount), successful, bool(active), **kw)  # type: ignore[arg-type]


def test_account_counts_taken_held_in_flight_promised_and_invoiced() -> None:
    rows = [
        row(1, "authorize", "60.00"),
        row(2, "capture", "10.00", source_id=1),
        row(3, "capture", "5.00", "reserved", source_id=1),  # in flight: counted once, not held any more
        row(4, "pending", "20.00", invoice_id=9),
        row(5, "charge", "7.00", "declined"),
        row(6, "refund", "4.00", source_id=2),
    ]
    account = account_from_rows(rows, total=Decimal("100.00"), currency="USD", open_invoices={9: Decimal("30.00")})

    assert (account.taken, account.held, account.in_flight, account.promised) == (
        Decimal("10.00"),
        Decimal("45.00"),
        Decimal("5.00"),
        Decimal("20.00"),
    )
    assert account.invoiced == Decimal("10.00")  # the invoice's own promise covers 20 of its 30
    assert account.refunded == Decimal("4.00")
    assert (account.payable, account.invoiceable, account.settleable) == (
        Decimal("10.00"),
        Decimal("30.00"),
        Decimal("40.00"),
    )
    assert account.capture_room(1, promise=False) == Decimal("85.00")  # its own hold is converted, not added
    assert account.outstanding == Decimal("90.00")  # refunds do not re-open what is owed


def test_a_renewal_counts_only_once_the_old_hold_is_released() -> None:
    both = [
        row(1, "authorize", "100.00"),
        row(2, "re_authorize", "100.00", source_id=1, active=False),
        row(3, "authorize", "100.00", source_id=2),
    ]
    account = account_from_rows(both, total=Decimal("100.00"), currency="USD", open_invoices={})
    assert (account.held, account.authorized) == (Decimal("100.00"), Decimal("100.00"))
    assert account.capture_room(3, promise=False) == Decimal("0")  # the renewal waits for the old hold's release

    released = [row(1, "authorize", "100.00", active=False), *both[1:], row(4, "cancel", "100.00", source_id=1)]
    account = account_from_rows(released, total=Decimal("100.00"), currency="USD", open_invoices={})
    assert account.held == Decimal("100.00")
    assert account.capture_room(3, promise=False) == Decimal("100.00")


# --- invoices of paid orders (item 1) --------------------------------------------------------------------------


def test_an_order_paid_in_full_by_card_cannot_be_invoiced(charging) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    pay_by_card(order, charging)

    with pytest.raises(MoneyError, match="Nothing is left to invoice"):
        invoice_create(order=order)

    assert not Invoice.objects.exists()


def test_an_order_held_by_an_open_authorization_cannot_be_invoiced(gateway_integration) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    authorize(order, gateway_integration)

    with pytest.raises(MoneyError, match="Nothing is left to invoice"):
        invoice_create(order=order)
    assert not Invoice.objects.exists()


def test_an_invoice_covers_at_most_what_is_still_owed(gateway_integration) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    payment_capture(source_id=auth.pk, amount=usd("40.00"), key="part")
    payment_cancel(source_id=auth.pk, key="rest", note="Rest not shipped")

    with pytest.raises(MoneyError, match="at most \\$60.00"):
        invoice_create(order=order, amount=Decimal("60.01"))
    invoice = invoice_create(order=order)
    assert invoice.amount == Decimal("60.00")
    with pytest.raises(MoneyError, match="Nothing is left to invoice"):  # a second invoice would ask twice
        invoice_create(order=order, amount=Decimal("1.00"))


def test_an_invoice_amount_finer_than_the_currency_is_refused() -> None:
    order = factories.OrderFactory()
    with pytest.raises(MoneyError, match="at most 2 decimal places"):
        invoice_create(order=order, amount=Decimal("10.005"))
    jpy = factories.OrderFactory(jpy=True)
    with pytest.raises(MoneyError, match="no decimal places"):
        invoice_create(order=jpy, amount=Decimal("5.5"))
    assert not Invoice.objects.exists()


def test_an_open_invoice_is_what_the_order_is_paid_through(settings, charging) -> None:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "fakegw"
    order = factories.OrderFactory()
    invoice = invoice_create(order=order)

    with pytest.raises(PaymentRefused) as refused:  # a second way to pay the same 100.00 (another tab, a phone call)
        pay_by_card(order, charging)
    assert refused.value.code == "already_paid"
    invoice_payment_purchase(invoice_id=invoice.pk, key="inv", payment_data={"token": "tok_ok"})
    with pytest.raises(PaymentRefused):
        pay_by_card(order, charging, key="card-2")

    assert taken(order) == Decimal("100.00")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_a_payment_term_order_paid_through_its_invoice_offers_and_performs_no_capture(
    settings,  # noqa: ANN001
    charging,  # noqa: ANN001
) -> None:
    settings.INVOICE_PAYMENT_METHOD = "fakegw"
    order, promise = payment_term_order()
    invoice = invoice_create(order=order)  # on account: the invoice is how the promise is collected
    assert invoice.amount == Decimal("97.13")
    invoice_payment_purchase(invoice_id=invoice.pk, key="inv", payment_data={"token": "tok_ok"})

    with pytest.raises(PaymentRefused) as refused:
        payment_capture(source_id=promise.pk, amount=None, key="mark-paid")

    assert refused.value.code == "order_settled"
    assert taken(order) == Decimal("97.13")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL
    assert not PaymentTransaction.objects.filter(action=Action.CAPTURE).exists()


def test_an_invoice_of_an_order_settled_by_its_promise_cannot_be_paid(settings, charging) -> None:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "fakegw"
    order, promise = payment_term_order()
    invoice = invoice_create(order=order)
    payment_capture(source_id=promise.pk, amount=None, key="wire-received", note="Wire transfer received")

    with pytest.raises(PaymentRefused) as refused:
        invoice_payment_purchase(invoice_id=invoice.pk, key="inv", payment_data={"token": "tok_ok"})

    assert refused.value.code == "order_settled"
    assert taken(order) == Decimal("97.13")
    assert not PaymentTransaction.objects.filter(invoice=invoice).exists()


def test_a_refund_does_not_reopen_what_is_owed(charging) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    charge = pay_by_card(order, charging)
    payment_refund(source_id=charge.pk, amount=usd("30.00"), key="goodwill", note="Damaged box")

    account = order_account(order=order)
    assert (account.taken, account.refunded, account.outstanding, account.payable) == (
        Decimal("100.00"),
        Decimal("30.00"),
        Decimal("0"),
        Decimal("0"),
    )
    with pytest.raises(MoneyError):
        invoice_create(order=order)


# --- smaller money defects (item 6) ----------------------------------------------------------------------------


def test_after_an_authorization_lapses_the_order_can_be_paid_again(gateway_integration) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    old = authorize(order, gateway_integration)
    PaymentTransaction.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    sweeps.authorizations_expiry_sweep()
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PENDING
    assert order_account(order=order).invoiceable == Decimal("100.00")  # staff may invoice it as well

    again = authorize(order, gateway_integration, key="auth-2")

    assert (again.state, again.amount) == (State.SUCCEEDED, Decimal("100.00"))
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED


@pytest.mark.parametrize(
    ("order_kwargs", "amount", "message"),
    [({}, Money(Decimal("10.005"), "USD"), "at most 2 decimal places"), ({"jpy": True}, None, "no decimal places")],
    ids=["USD-10.005", "JPY-5.5"],
)
def test_capture_and_refund_refuse_amounts_finer_than_the_currency(
    gateway_integration,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
    order_kwargs,  # noqa: ANN001
    amount,  # noqa: ANN001
    message,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(**order_kwargs)
    amount = amount or Money(Decimal("5.5"), order.currency)
    auth = authorize(order, gateway_integration)

    with pytest.raises(PaymentRefused, match=message) as refused:
        payment_capture(source_id=auth.pk, amount=amount, key="fine")
    assert refused.value.code == "amount_precision"
    capture = payment_capture(source_id=auth.pk, amount=None, key="all")
    with pytest.raises(PaymentRefused, match=message):
        payment_refund(source_id=capture.pk, amount=amount, key="fine-refund", note="x")

    assert fake_gateway.calls == {"authorize": 1, "capture": 1}
    assert PaymentTransaction.objects.filter(order=order).count() == 2


def test_an_amount_the_provider_reports_differently_is_recorded_and_flagged(
    gateway_integration,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    fake_gateway.report_next["capture"] = Decimal("50.01")

    capture = payment_capture(source_id=auth.pk, amount=usd("50.00"), key="half")

    assert (capture.state, capture.amount, capture.needs_attention) == (State.SUCCEEDED, Decimal("50.00"), True)
    assert capture.response["amount_mismatch"] == {
        "ledger": "50.00",
        "ledger_currency": "USD",
        "reported": "50.01",
        "reported_currency": "USD",
    }
    notice = Notice.objects.get(key=f"amount-mismatch:{capture.pk}")
    assert (notice.level, notice.order_id) == (Notice.Level.ERROR, order.pk)
    assert "reports 50.01 USD" in notice.message
    matching = payment_capture(source_id=auth.pk, amount=usd("10.00"), key="more")
    assert matching.needs_attention is False


def test_invoice_payment_runs_the_providers_own_applicability_check(settings, stripe_integration) -> None:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "stripe"
    order = factories.OrderFactory(subtotal=Decimal("0.30"))  # below Stripe's 0.50 USD minimum
    invoice = invoice_create(order=order)

    with pytest.raises(PaymentRefused) as refused:
        invoice_payment_purchase(invoice_id=invoice.pk, key="inv", payment_data={"payment_method": "pm_card_visa"})

    assert refused.value.code == "method_not_applicable"
    assert "cannot be paid online" in refused.value.message
    assert not PaymentTransaction.objects.exists()


def test_money_taken_outside_beyond_the_total_is_recorded_and_flagged(gateway_integration) -> None:  # noqa: ANN001
    from payments.models import WebhookEvent
    from payments.webhook_services import webhook_event_process
    from providers.base import EventMovement, MovementAction
    from providers.base import WebhookEvent as ProviderEvent

    order = factories.OrderFactory()
    lapsed = authorize(order, gateway_integration)
    PaymentTransaction.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    sweeps.authorizations_expiry_sweep()
    again = authorize(order, gateway_integration, key="auth-2")
    payment_capture(source_id=again.pk, amount=None, key="capture")
    # ... and someone captured the lapsed hold in the provider's dashboard before it really lapsed there
    event = ProviderEvent(
        "evt_1",
        "capture",
        lapsed.provider_reference,
        movements=(EventMovement(MovementAction.CAPTURE, "cap_dashboard", usd("100.00")),),
    )
    inbox = WebhookEvent.objects.create(
        integration=gateway_integration, provider_event_id="evt_1", event_type="capture", event=event.as_dict()
    )

    webhook_event_process(webhook_event_id=inbox.pk)

    outside = PaymentTransaction.objects.get(provider_reference="cap_dashboard")
    assert (outside.state, outside.needs_attention) == (State.SUCCEEDED, True)
    assert taken(order) == Decimal("200.00")  # recorded as it happened ...
    notice = Notice.objects.get(key=f"overpaid:{outside.pk}")  # ... and staff are told to refund the excess
    assert "has taken $100.00 more than its total" in notice.message
