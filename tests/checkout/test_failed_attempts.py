"""Failed checkout attempts: gone for the buyer, kept for staff (attempt record, order, ledger rows), counted on
the dashboard; an attempt whose submit never came back; a late payment of a given-up order is given back.

The card gateway is the fake one at the network edge; the checkout, ledger and admin are the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from backoffice.roles import SALES
from backoffice.selectors import dashboard
from checkout import services
from checkout.models import CartLine, Checkout, CheckoutAttempt
from core.money import MoneyError
from core.status import PaymentStatus
from integrations.models import Integration
from notifications.models import Delivery, Notice
from notifications.services import endpoint_create
from orders import services as order_services
from orders.models import Invoice, Order
from orders.services import invoice_create
from payments import sweeps
from payments.models import Action, PaymentTransaction, ScheduledCapture, State
from payments.services import invoice_payment_purchase, payment_purchase
from payments.tasks import orders_release_sweep_task
from providers.base import Capability
from tests import factories
from tests.checkout.conftest import add, choose, login, to_payment_step
from tests.fakes import FakeGateway
from tests.notifications.test_delivery import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def erp() -> Iterator[Receiver]:
    """A subscribed system's endpoint (an ERP), answering 200 and keeping what it got."""
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def sales(client: Client) -> Client:
    user = factories.UserFactory(username="sam", staff=True)
    user.groups.add(Group.objects.get(name=SALES))
    staff = Client()
    staff.force_login(user)
    return staff


def submit(client: Client):  # noqa: ANN201
    checkout = Checkout.objects.get(completed_at__isnull=True)
    return client.post("/checkout/review/", {"checkout": checkout.pk, "attempt": checkout.attempt})


def declined_attempt(acme: Client, card: str) -> Order:
    add(acme, "BOLT-M8", 2)
    to_payment_step(acme)
    choose(acme, card, token="tok_decline")
    assert submit(acme)["Location"] == "/checkout/payment/"
    return Order.objects.get(payment_method=card)


def test_a_declined_attempt_leaves_the_buyer_no_order_and_staff_the_attempt_with_its_ledger(
    acme: Client, card: str, sales: Client
) -> None:
    order = declined_attempt(acme, card)

    # the buyer: no order anywhere, the cart as it was
    assert order.number not in acme.get("/account/orders/").content.decode()
    assert acme.get(f"/account/orders/{order.number}/").status_code == 404
    assert acme.get(f"/checkout/confirmation/{order.number}/").status_code == 404
    assert [(line.product.sku, line.quantity) for line in CartLine.objects.all()] == [("BOLT-M8", 2)]

    # staff: the attempt, who and what, the provider's answer, and the ledger row kept
    attempt = CheckoutAttempt.objects.get()
    assert (attempt.status, attempt.reason, attempt.message) == ("declined", "card_declined", "Your card was declined.")
    assert (attempt.customer.name, attempt.customer_user.user.username) == ("ACME Industrial", "buyer@acme.example")
    assert (attempt.amount, attempt.currency, attempt.payment_method) == (Decimal("40.0000"), "USD", card)
    assert attempt.finished_at is not None
    assert attempt.order_id == order.pk
    [row] = order.transactions.all()
    assert (row.action, row.state) == (Action.AUTHORIZE, State.DECLINED)
    assert order.discarded_at is not None

    listing = sales.get("/admin/checkout/checkoutattempt/?outcome=failed").content.decode()
    assert order.number in listing
    assert "Declined" in listing
    assert "card_declined" in listing
    assert order.number not in sales.get("/admin/checkout/checkoutattempt/?outcome=kept").content.decode()
    detail = sales.get(f"/admin/checkout/checkoutattempt/{attempt.pk}/change/").content.decode()
    assert "Payment transactions" in detail
    assert "Your card was declined." in detail
    assert "(not shown to the buyer)" in detail
    order_page = sales.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "Failed checkout attempt" in order_page


def test_a_declined_attempt_counts_as_a_failed_payment_and_not_as_an_order(acme: Client, card: str) -> None:
    order = declined_attempt(acme, card)

    figures = dashboard()

    assert figures.failed_today_count == 1
    assert [txn.order_id for txn in figures.failed_today] == [order.pk]
    assert PaymentStatus.DECLINED not in {figure.status for figure in figures.statuses}


def test_the_order_list_shows_failed_attempts_only_when_asked(acme: Client, card: str, sales: Client) -> None:
    order = declined_attempt(acme, card)
    placed = Order.objects.filter(number__startswith="DEMO-").first()

    default = sales.get("/admin/orders/order/").content.decode()
    failed = sales.get("/admin/orders/order/?checkout=failed").content.decode()

    assert order.number not in default
    assert placed.number in default
    assert order.number in failed
    assert placed.number not in failed


def test_the_attempt_list_is_read_only(acme: Client, card: str, sales: Client) -> None:
    declined_attempt(acme, card)
    attempt = CheckoutAttempt.objects.get()

    assert sales.get("/admin/checkout/checkoutattempt/add/").status_code == 403
    assert sales.post(f"/admin/checkout/checkoutattempt/{attempt.pk}/delete/").status_code == 403
    response = sales.post(f"/admin/checkout/checkoutattempt/{attempt.pk}/change/", {"status": "placed"})
    assert response.status_code == 403
    attempt.refresh_from_db()
    assert attempt.status == "declined"


def test_buyers_cannot_open_the_attempt_list(acme: Client, card: str) -> None:
    declined_attempt(acme, card)
    assert acme.get("/admin/checkout/checkoutattempt/").status_code == 302  # to the staff login


def test_discarding_an_order_keeps_every_ledger_row_with_its_provider_reference(gateway_integration) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    declined = payment_purchase(
        order_id=order.pk,
        method=f"fakegw_{gateway_integration.pk}",
        key="declined-1",
        payment_data={"token": "tok_decline"},
    )
    PaymentTransaction.objects.filter(pk=declined.pk).update(provider_reference="fk_declined_1")

    assert services.checkout_order_discard(order_id=order.pk) is True

    order.refresh_from_db()
    assert order.discarded_at is not None
    assert list(order.transactions.values_list("provider_reference", "state")) == [("fk_declined_1", "declined")]
    assert order.lines.count() == 1


def test_an_authorized_order_is_not_discarded(gateway_integration) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    payment_purchase(
        order_id=order.pk, method=f"fakegw_{gateway_integration.pk}", key="auth-1", payment_data={"token": "ok"}
    )
    assert services.checkout_order_discard(order_id=order.pk) is False
    order.refresh_from_db()
    assert order.discarded_at is None


def test_a_refusal_shows_the_buyer_no_internal_text(acme: Client, card: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**kwargs):  # noqa: ANN003, ANN202
        raise services.PaymentRefused("idempotency_key_reused", "This request key was already used for another.")

    monkeypatch.setattr(services, "order_purchase_reserve", refuse)
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, card, token="tok_ok")

    response = submit(acme)
    page = acme.get(response["Location"]).content.decode()

    assert response["Location"] == "/checkout/payment/"
    assert "We could not start your payment. Please try again, or choose another payment method." in page
    assert "request key" not in page
    attempt = CheckoutAttempt.objects.get()
    assert (attempt.status, attempt.reason) == ("refused", "idempotency_key_reused")


# --- a submit that never came back ------------------------------------------------------------------------------


def a_submit_that_dies(
    acme: Client, card: str, monkeypatch: pytest.MonkeyPatch, *, at: str, token: str
) -> CheckoutAttempt:
    """ "Submit order" whose web worker is killed when it reaches `checkout.services.<at>`: the attempt stays
    "sent to the provider" (submitting), as after a crash."""

    def killed(**kwargs):  # noqa: ANN003, ANN202
        raise RuntimeError(f"the web worker was killed at {at}")

    monkeypatch.setattr(services, at, killed)
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, card, token=token)
    acme.raise_request_exception = False
    assert submit(acme).status_code == 500
    monkeypatch.undo()
    attempt = CheckoutAttempt.objects.get()
    assert attempt.status == "submitting"
    return attempt


def test_an_attempt_whose_submit_died_is_settled_as_unconfirmed_once_overdue(
    acme: Client, card: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempt = a_submit_that_dies(acme, card, monkeypatch, at="purchase_record", token="tok_timeout")
    processing = f"/checkout/processing/{attempt.pk}/"

    again = acme.post("/checkout/review/", {"checkout": attempt.checkout_id, "attempt": 1})
    other_tab = acme.post("/checkout/payment/", {"payment_method": card, "payment_data[token]": "tok_decline"})
    waiting = acme.get(processing)

    assert again["Location"] == processing  # still "with the provider": a second submit sends nothing
    assert other_tab["Location"] == processing  # nor may the payment details change under it
    assert Checkout.objects.get().payment_data == {"token": "tok_timeout"}
    assert waiting.status_code == 200
    assert "We are confirming your payment with the payment provider." in waiting.content.decode()
    CheckoutAttempt.objects.filter(pk=attempt.pk).update(updated_at=timezone.now() - timedelta(minutes=4))

    settled = acme.get(processing)

    assert settled["Location"] == f"/checkout/confirmation/{attempt.order.number}/"
    attempt.refresh_from_db()
    assert attempt.status == "unconfirmed"
    assert attempt.order.transactions.get().state == State.RESERVED  # reconcile asks the provider
    assert CartLine.objects.count() == 0
    assert FakeGateway.calls["authorize"] == 0  # the timeout token: nothing was ever answered


def test_the_processing_page_is_the_buyers_own(acme: Client, globex: Client, card: str) -> None:
    declined_attempt(acme, card)
    attempt = CheckoutAttempt.objects.get()
    assert globex.get(f"/checkout/processing/{attempt.pk}/").status_code == 404


# --- a late payment of a given-up order -------------------------------------------------------------------------


def given_up_order(gateway_integration: Integration, *, charge: bool = False) -> tuple[Order, PaymentTransaction]:
    """An order whose checkout attempt was given up, and whose payment then succeeded at the provider."""
    if charge:
        gateway_integration.payment_action = Integration.PaymentAction.CHARGE
        gateway_integration.save()
    order = factories.OrderFactory()
    Order.objects.filter(pk=order.pk).update(discarded_at=timezone.now())
    txn = payment_purchase(
        order_id=order.pk, method=f"fakegw_{gateway_integration.pk}", key="late-1", payment_data={"token": "ok"}
    )
    return order, txn


def test_a_late_authorization_of_a_given_up_order_is_canceled_and_staff_are_told(
    gateway_integration, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    with django_capture_on_commit_callbacks(execute=True):  # recording it releases it, once committed
        order, auth = given_up_order(gateway_integration)

    order.refresh_from_db()
    assert list(order.transactions.order_by("pk").values_list("action", "state", "idempotency_key")) == [
        ("authorize", "succeeded", "late-1"),
        ("cancel", "succeeded", f"release:{auth.pk}"),
    ]
    assert order.payment_status == PaymentStatus.CANCELED
    assert FakeGateway.calls["cancel"] == 1
    assert "It was canceled automatically." in Notice.objects.get(key=f"released:{auth.pk}").message

    orders_release_sweep_task.apply()  # the sweep finds nothing more to give back
    assert FakeGateway.calls["cancel"] == 1


def test_a_late_charge_of_a_given_up_order_is_refunded(gateway_integration, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    with django_capture_on_commit_callbacks(execute=True):
        order, charge = given_up_order(gateway_integration, charge=True)

    order.refresh_from_db()
    refund = order.transactions.get(action=Action.REFUND)
    assert (refund.state, refund.amount, refund.reason) == (State.SUCCEEDED, charge.amount, "duplicate")
    assert order.payment_status == PaymentStatus.REFUNDED


def test_a_release_the_provider_does_not_answer_is_left_for_reconcile(gateway_integration, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr("payments.ledger._order_release_later", lambda order_id: None)  # the message was lost
    order, auth = given_up_order(gateway_integration)
    FakeGateway.unavailable = True

    assert orders_release_sweep_task.apply().get() == 1  # the sweep finds the order holding money

    release = order.transactions.get(action=Action.CANCEL)
    assert (release.state, release.idempotency_key) == (State.RESERVED, f"release:{auth.pk}")
    assert not Notice.objects.filter(order=order).exists()  # nothing to report yet: reconcile settles it


def test_a_release_refused_by_the_adapter_is_flagged_for_staff(gateway_integration, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr("payments.ledger._order_release_later", lambda order_id: None)
    order, auth = given_up_order(gateway_integration)
    monkeypatch.setattr(FakeGateway, "capabilities", FakeGateway.capabilities - {Capability.CANCEL})

    orders_release_sweep_task.apply()

    notice = Notice.objects.get(key=f"release-failed:{auth.pk}")
    assert (notice.level, notice.order_id) == (Notice.Level.ERROR, order.pk)
    assert "could not be given back automatically: This payment cannot be canceled." in notice.message
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED


@pytest.mark.parametrize("policy", ["after_delay", "on_shipment"])
def test_a_late_authorization_of_a_given_up_order_is_never_captured_by_the_scheduler(
    gateway_integration, monkeypatch, policy: str
) -> None:  # noqa: ANN001
    """The integration captures a day after authorization (or when the order is marked shipped); a given-up
    order's late authorization could not be released (the provider declined the cancel), and staff were told to
    release it at the provider.

    Defect: the authorization still got its scheduled capture, so a day later the scheduler took the money of an
    order the buyer never sees (on top of the order they did place). A given-up order's payment is never
    captured automatically: its schedule is skipped, with the reason, and the release stays with staff."""
    gateway_integration.capture_policy = policy
    gateway_integration.capture_delay_hours = 24
    gateway_integration.save()
    monkeypatch.setattr("payments.ledger._order_release_later", lambda order_id: None)  # the sweep releases
    order, auth = given_up_order(gateway_integration)
    FakeGateway.decline_next["cancel"] = "processing_error"
    orders_release_sweep_task.apply()
    assert Notice.objects.filter(key=f"release-failed:{auth.pk}").exists()
    if policy == "on_shipment":
        order_services.order_mark_shipped(order_id=order.pk)  # from the list of failed attempts, by mistake

    for schedule_id in sweeps.scheduled_captures_claim(now=timezone.now() + timedelta(hours=25)):
        sweeps.scheduled_capture_run(schedule_id=schedule_id)

    assert FakeGateway.calls["capture"] == 0
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED  # held, for staff to release; never taken
    assert not order.transactions.filter(action=Action.CAPTURE).exists()
    assert list(ScheduledCapture.objects.values_list("state", flat=True)) == (
        [] if policy == "after_delay" else [ScheduledCapture.State.SKIPPED]
    )


def test_a_late_payment_of_a_given_up_order_is_not_announced_to_subscribed_systems(
    gateway_integration, erp: Receiver, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    """An ERP subscribes to payment-status changes, to ship what is paid or authorized.

    Defect: the late authorization of an order the buyer gave up (and its automatic release) was announced like
    any placed order's: "PD-…: Payment authorized", so the ERP could ship an order the shop considers never
    placed. Once an order is hidden from the buyer, its status changes are not announced."""
    endpoint_create(name="ERP", url=erp.url, signing_secret="whsec_test_receiver")

    with django_capture_on_commit_callbacks(execute=True):
        order, auth = given_up_order(gateway_integration)

    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.CANCELED  # authorized late, then released
    assert not Delivery.objects.filter(order=order).exists()
    assert erp.received == []


def test_an_invoice_of_an_attempt_that_then_failed_cannot_be_paid_by_the_buyer(
    acme: Client, card: str, settings, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """A submit died before its payment was sent; for minutes its order looked like any order awaiting payment,
    and it was invoiced. Then the attempt was settled as refused: its order hidden, the cart kept.

    Defect: the invoice stayed open and payable in the buyer's invoices, so the buyer could pay an order they
    never see, and then pay again for the same goods in the checkout. Discarding an order voids its unpaid
    invoices (staff are told), and a buyer never sees an invoice of a hidden order.

    `invoice_create` now refuses an order still being placed (see `test_attack_invoice_race`); the invoice here is
    one that got there anyway (written before that check, or imported), so the discard's own guard is what holds."""
    settings.INVOICE_PAYMENT_METHOD = "fakegw"
    login(Client(), "admin")

    # Before sending: the attempt's order and its payment row are now written in one transaction, so a submit
    # that dies leaves both or neither; an attempt without its row is one left so before that (as here).
    attempt = a_submit_that_dies(acme, card, monkeypatch, at="purchase_call", token="tok_ok")
    PaymentTransaction.objects.filter(order=attempt.order).delete()
    order = attempt.order
    with pytest.raises(MoneyError):
        invoice_create(order=order)
    invoice = Invoice.objects.create(
        number="INV-IMPORTED-1",
        order=order,
        customer=order.customer,
        amount=order.total,
        currency=order.currency,
        due_date=timezone.localdate() + timedelta(days=30),
    )
    CheckoutAttempt.objects.filter(pk=attempt.pk).update(updated_at=timezone.now() - timedelta(minutes=4))

    assert acme.get(f"/checkout/processing/{attempt.pk}/")["Location"] == "/checkout/payment/"  # refused

    order.refresh_from_db()
    invoice.refresh_from_db()
    assert order.discarded_at is not None
    assert invoice.status == Invoice.Status.VOID
    assert invoice.number not in acme.get("/account/invoices/").content.decode()
    assert acme.get(f"/account/invoices/{invoice.number}/").status_code == 404
    paid = acme.post(f"/account/invoices/{invoice.number}/pay/", {"key": str(uuid4()), "payment_data[token]": "ok"})
    assert paid.status_code == 404
    assert not PaymentTransaction.objects.filter(order=order).exists()
    assert FakeGateway.calls["charge"] == 0
    assert f"Invoice {invoice.number}" in Notice.objects.get(order=order).message


def test_an_order_whose_invoice_is_being_paid_is_not_discarded(settings) -> None:  # noqa: ANN001
    """An invoice payment under way (a check the buyer promised) makes the order the buyer's: it is kept, and the
    invoice stays as it is."""
    settings.INVOICE_PAYMENT_METHOD = "money_order"
    factories.IntegrationFactory()
    order = factories.OrderFactory()
    invoice = invoice_create(order=order)
    invoice_payment_purchase(invoice_id=invoice.pk, key="inv-check")

    assert services.checkout_order_discard(order_id=order.pk) is False

    order.refresh_from_db()
    invoice.refresh_from_db()
    assert (order.discarded_at, invoice.status) == (None, Invoice.Status.OPEN)


def test_an_order_of_a_failed_attempt_is_not_invoiced() -> None:
    """Not only the back-office action: the service itself refuses (the order owes its whole total)."""
    order = factories.OrderFactory()
    Order.objects.filter(pk=order.pk).update(discarded_at=timezone.now())

    with pytest.raises(MoneyError, match="belongs to a failed checkout attempt"):
        invoice_create(order=order)

    assert not Invoice.objects.filter(order=order).exists()


def test_a_given_up_orders_late_authorization_is_not_offered_on_the_dashboard_for_capture(
    gateway_integration, monkeypatch
) -> None:  # noqa: ANN001
    """A given-up order's late authorization that could not be released automatically waits for staff to cancel
    it (a notice says so).

    Defect: the dashboard counted and listed it under "Awaiting capture" like any placed order's hold, inviting
    staff to capture the money of an order the buyer never sees. It is left out of those figures; the notice and
    the list of failed checkout attempts are where staff find it."""
    monkeypatch.setattr("payments.ledger._order_release_later", lambda order_id: None)
    order, auth = given_up_order(gateway_integration)
    FakeGateway.decline_next["cancel"] = "processing_error"
    orders_release_sweep_task.apply()
    auth.refresh_from_db()
    assert (auth.successful, auth.active) == (True, True)  # still held at the provider

    figures = dashboard()

    assert figures.awaiting_capture_count == 0
    assert auth.pk not in [txn.pk for txn in figures.awaiting_capture]
