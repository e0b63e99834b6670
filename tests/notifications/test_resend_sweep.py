"""The beat sweep that resends buyer e-mails left unsent (the broker was down when the change committed), with a
bounded number of retries and a notice for staff after the last."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from kombu.exceptions import OperationalError

from notifications import emails
from notifications.emails import MAX_RESENDS, RESEND_AFTER, buyer_emails_resend_sweep
from notifications.models import BuyerEmail, Notice
from notifications.tasks import buyer_email_send_task
from payments.services import payment_purchase
from tests import factories

pytestmark = pytest.mark.django_db


def unsent_confirmation(monkeypatch, captured) -> BuyerEmail:  # noqa: ANN001
    """An order confirmation written while the broker was down: stored, never enqueued."""

    def broker_down(*args: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    buyer = factories.CustomerUserFactory(user__email="ada@acme.example")
    order = factories.OrderFactory(customer=buyer.customer, customer_user=buyer, subtotal=Decimal("352.00"))
    integration = factories.IntegrationFactory()
    with monkeypatch.context() as patch:
        patch.setattr(buyer_email_send_task, "delay", broker_down)
        with captured(execute=True):
            payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key=f"p-{order.pk}")
    email = BuyerEmail.objects.get(order=order)
    assert (email.kind, email.sent_at, mail.outbox) == ("order_confirmation", None, [])
    return email


def age(email: BuyerEmail, by: timedelta) -> None:
    """Move the row's times back, as if `by` had passed."""
    BuyerEmail.objects.filter(pk=email.pk).update(
        created_at=email.created_at - by, resent_at=email.resent_at - by if email.resent_at else None
    )
    email.refresh_from_db()


def test_an_e_mail_the_broker_could_not_take_is_sent_by_the_sweep(
    monkeypatch,
    django_capture_on_commit_callbacks,  # noqa: ANN001
) -> None:
    email = unsent_confirmation(monkeypatch, django_capture_on_commit_callbacks)
    age(email, RESEND_AFTER + timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert buyer_emails_resend_sweep() == 1
    email.refresh_from_db()
    assert email.sent_at is not None
    assert [m.to for m in mail.outbox] == [["ada@acme.example"]]
    with django_capture_on_commit_callbacks(execute=True):
        assert buyer_emails_resend_sweep() == 0  # sent: never again
    assert len(mail.outbox) == 1


def test_a_fresh_unsent_e_mail_is_left_to_the_worker(monkeypatch, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    email = unsent_confirmation(monkeypatch, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert buyer_emails_resend_sweep() == 0
    email.refresh_from_db()
    assert (email.resends, email.sent_at, mail.outbox) == (0, None, [])


def test_retries_are_bounded_back_off_and_end_in_a_notice(monkeypatch, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    email = unsent_confirmation(monkeypatch, django_capture_on_commit_callbacks)
    enqueued: list[tuple] = []
    monkeypatch.setattr(emails, "_enqueue", lambda *args: enqueued.append(args))  # the mail server stays down
    age(email, RESEND_AFTER + timedelta(minutes=1))
    for attempt in range(1, MAX_RESENDS + 1):
        with django_capture_on_commit_callbacks(execute=True):
            assert buyer_emails_resend_sweep() == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert buyer_emails_resend_sweep() == 0  # backing off: not again at once
        email.refresh_from_db()
        assert email.resends == attempt
        age(email, RESEND_AFTER * 2**attempt)
    unsent = Notice.objects.filter(key__startswith="buyer-email-unsent:")
    assert not unsent.exists(), list(Notice.objects.values_list("key", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert buyer_emails_resend_sweep() == 0
        assert buyer_emails_resend_sweep() == 0
    assert len(enqueued) == MAX_RESENDS
    assert enqueued[0] == (email.order_id, "order_confirmation", "")
    (notice,) = unsent
    assert notice.order_id == email.order_id
    assert "order confirmation e-mail" in notice.message
    assert "could not be sent" in notice.message


def test_the_sweep_runs_on_beat(settings) -> None:  # noqa: ANN001
    entry = settings.CELERY_BEAT_SCHEDULE["unsent-buyer-emails"]
    assert entry["task"] == buyer_email_send_task.name.replace(
        "buyer_email_send_task", "buyer_emails_resend_sweep_task"
    )
    assert entry["schedule"] <= RESEND_AFTER.total_seconds()
