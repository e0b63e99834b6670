"""E-mails to buyers: written with the ledger change, sent by the worker after commit, once, in the buyer's language."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from notifications.emails import buyer_email_send
from notifications.models import BuyerEmail
from orders.services import invoice_create
from payments import sweeps
from payments.services import invoice_payment_purchase, payment_capture, payment_purchase, payment_refund
from tests import factories
from tests.conftest import authorize

pytestmark = pytest.mark.django_db


def buyer_order(language: str = "en", **fields):  # noqa: ANN003, ANN201
    buyer = factories.CustomerUserFactory(user__email="ada@acme.example", customer__name="ACME Industrial")
    return factories.OrderFactory(customer=buyer.customer, customer_user=buyer, language=language, **fields)


def paid(order, captured, integration=None):  # noqa: ANN001, ANN201
    integration = integration or factories.IntegrationFactory(short_labels={"en": "Check", "de": "Scheck"})
    with captured(execute=True):
        pending = payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key=f"p-{order.pk}")
    with captured(execute=True):
        capture = payment_capture(source_id=pending.pk, amount=None, key=f"c-{order.pk}")
    return pending, capture


def test_order_confirmation_and_receipt_in_english(django_capture_on_commit_callbacks) -> None:
    order = buyer_order("en", subtotal=Decimal("352.00"))
    paid(order, django_capture_on_commit_callbacks)

    assert [m.subject for m in mail.outbox] == [
        f"Order {order.number} confirmed",
        f"Payment received for order {order.number}",
    ]
    confirmation, receipt = mail.outbox
    assert confirmation.to == ["ada@acme.example"]
    assert "Dear ACME Industrial," in confirmation.body
    assert "of $352.00." in confirmation.body
    assert "Payment method: Check" in confirmation.body
    assert "we have received your payment of $352.00" in receipt.body
    html, mimetype = receipt.alternatives[0]
    assert mimetype == "text/html"
    assert "$352.00" in html
    rows = BuyerEmail.objects.filter(order=order)
    assert [(row.kind, row.sent_at is not None) for row in rows] == [
        ("order_confirmation", True),
        ("payment_receipt", True),
    ]


def test_e_mails_are_written_in_the_buyers_language_with_its_money_format(django_capture_on_commit_callbacks) -> None:
    order = buyer_order("de", subtotal=Decimal("352.00"))
    paid(order, django_capture_on_commit_callbacks)

    assert [m.subject for m in mail.outbox] == [
        f"Bestellung {order.number} bestätigt",
        f"Zahlung für Bestellung {order.number} erhalten",
    ]
    assert "Ihre Zahlung über 352,00\xa0$" in mail.outbox[1].body
    assert "Zahlungsart: Scheck" in mail.outbox[0].body


def test_a_language_the_site_does_not_write_falls_back_to_the_default(django_capture_on_commit_callbacks) -> None:
    order = buyer_order("pt-br")
    paid(order, django_capture_on_commit_callbacks)
    assert mail.outbox[0].subject == f"Order {order.number} confirmed"


def test_a_replayed_send_or_change_sends_nothing_twice(django_capture_on_commit_callbacks) -> None:
    order = buyer_order()
    pending, capture = paid(order, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):  # the same request again: the same key
        payment_capture(source_id=pending.pk, amount=None, key=f"c-{order.pk}")
    for email in BuyerEmail.objects.all():  # a task delivered again
        buyer_email_send(order_id=email.order_id, kind=email.kind, key=email.key)

    assert len(mail.outbox) == 2
    assert BuyerEmail.objects.count() == 2


def test_refund_notice(gateway_integration, django_capture_on_commit_callbacks) -> None:
    order = buyer_order("de", subtotal=Decimal("100.00"))
    with django_capture_on_commit_callbacks(execute=True):
        auth = authorize(order, gateway_integration)
    with django_capture_on_commit_callbacks(execute=True):
        capture = payment_capture(source_id=auth.pk, amount=None, key="c-1")
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund(source_id=capture.pk, amount=None, key="r-1")

    notice = mail.outbox[-1]
    assert notice.subject == f"Erstattung für Bestellung {order.number}"
    assert "wir haben 100,00\xa0$ der Bestellung" in notice.body


def test_invoice_issued_and_paid(settings, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "money_order"
    order = buyer_order("en", subtotal=Decimal("250.00"))
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_create(order=order)

    issued = mail.outbox[-1]
    assert issued.subject == f"Invoice {invoice.number} for order {order.number}"
    assert "invoice " + invoice.number + " of $250.00" in issued.body

    factories.IntegrationFactory()
    with django_capture_on_commit_callbacks(execute=True):
        pending = invoice_payment_purchase(invoice_id=invoice.pk, key="p-inv")
    with django_capture_on_commit_callbacks(execute=True):
        payment_capture(source_id=pending.pk, amount=None, key="c-inv")

    paid_mail = [m for m in mail.outbox if m.subject == f"Invoice {invoice.number} paid"]
    assert len(paid_mail) == 1
    assert f"invoice {invoice.number} of $250.00 for order {order.number} is paid" in paid_mail[0].body


def test_payment_failed_after_the_authorization_lapsed(gateway_integration, django_capture_on_commit_callbacks) -> None:
    order = buyer_order("en", subtotal=Decimal("80.00"))
    with django_capture_on_commit_callbacks(execute=True):
        auth = authorize(order, gateway_integration)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        sweeps.authorizations_expiry_sweep(now=auth.expires_at + timedelta(minutes=1))
    buyer_mail = [m for m in mail.outbox if m.to == ["ada@acme.example"]]

    assert [m.subject for m in buyer_mail] == [f"Payment for order {order.number} could not be completed"]
    assert "the authorization of $80.00" in buyer_mail[0].body
    assert auth.expires_at < timezone.now() + timedelta(days=8)


def test_nothing_is_sent_for_an_order_without_a_buyer(django_capture_on_commit_callbacks) -> None:
    order = factories.OrderFactory()
    paid(order, django_capture_on_commit_callbacks)
    assert mail.outbox == []
    assert not BuyerEmail.objects.exists()


def test_a_broker_that_cannot_take_the_e_mail_leaves_the_payment_recorded(
    django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """The e-mail is enqueued after the ledger change committed; a broker outage then must not raise into the
    checkout or the capture that recorded the money (the buyer would see an error for a payment made)."""
    from kombu.exceptions import OperationalError

    from notifications.tasks import buyer_email_send_task

    def broker_down(*args: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(buyer_email_send_task, "delay", broker_down)
    order = buyer_order("en", subtotal=Decimal("352.00"))
    pending, capture = paid(order, django_capture_on_commit_callbacks)

    capture.refresh_from_db()
    assert capture.state == "succeeded"
    assert mail.outbox == []
    assert [(row.kind, row.sent_at) for row in BuyerEmail.objects.filter(order=order)] == [
        ("order_confirmation", None),
        ("payment_receipt", None),
    ]
