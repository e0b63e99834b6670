"""Outbound payment-status notifications: signed, retried after a failure, sent once per status change."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.exceptions import Retry

from notifications.models import Delivery
from notifications.services import endpoint_create
from notifications.tasks import delivery_send_task
from payments.services import payment_capture, payment_purchase
from tests import factories

pytestmark = pytest.mark.django_db
SECRET = "whsec_test_receiver"


class Receiver:
    """A local HTTP endpoint that answers with the queued status codes (then 200) and keeps what it got."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/payments"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


def run_with_retries(delivery_id: int) -> int:
    """Run the task as a worker would: each Retry is delivered again with the retry count raised."""
    for retries in range(20):
        try:
            result = delivery_send_task.apply(args=[delivery_id], retries=retries, throw=False)
        except Retry:  # eager mode sometimes raises what a worker would have re-queued
            continue
        if result.state != "RETRY":
            return retries
    raise AssertionError("the task never stopped retrying")


def verify(headers: dict[str, str], body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in headers["X-Paydesk-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_status_change_is_delivered_signed_and_retried_after_a_500(receiver, django_capture_on_commit_callbacks):
    endpoint_create(name="ERP", url=receiver.url, signing_secret=SECRET)
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    pending = payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key="p1")
    assert not Delivery.objects.exists()  # pending → pending is no change

    receiver.statuses = [500]
    with django_capture_on_commit_callbacks() as callbacks:
        payment_capture(source_id=pending.pk, amount=None, key="c1")
    assert len(callbacks) == 1
    run_with_retries(Delivery.objects.get().pk)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert len(receiver.received) == 2
    headers, body = receiver.received[-1]
    assert verify(headers, body)
    payload = json.loads(body)
    assert payload["id"] == headers["X-Paydesk-Delivery"] == str(delivery.uuid)
    assert {k: payload[k] for k in ("paymentStatus", "paymentStatusLabel", "transactionType", "currency")} == {
        "paymentStatus": "full",
        "paymentStatusLabel": "Paid in full",
        "transactionType": "capture",
        "currency": "USD",
    }
    assert (payload["transactionAmount"], payload["amountPaid"], payload["amountDue"]) == ("100.00", "100.00", "0.00")
    assert payload["topics"] == ["order.payment_status_updated", f"order.payment_status_updated.{order.pk}"]


def test_tampered_body_does_not_verify(receiver, django_capture_on_commit_callbacks) -> None:
    endpoint_create(name="ERP", url=receiver.url, signing_secret=SECRET)
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    pending = payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key="p1")
    with django_capture_on_commit_callbacks(execute=True):
        payment_capture(source_id=pending.pk, amount=None, key="c1")
    headers, body = receiver.received[0]
    assert not verify(headers, body.replace(b'"full"', b'"refunded"'))


def test_one_status_change_is_sent_once(receiver, django_capture_on_commit_callbacks) -> None:
    endpoint_create(name="ERP", url=receiver.url, signing_secret=SECRET)
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    pending = payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key="p1")
    with django_capture_on_commit_callbacks(execute=True):
        payment_capture(source_id=pending.pk, amount=None, key="c1")
        payment_capture(source_id=pending.pk, amount=None, key="c1")  # a repeated request changes nothing
    delivery = Delivery.objects.get()
    delivery_send_task.delay(delivery.pk)  # a redelivered task finds it delivered
    assert len(receiver.received) == 1


def test_endpoint_gives_up_after_the_last_retry(receiver, django_capture_on_commit_callbacks) -> None:
    endpoint_create(name="ERP", url=receiver.url, signing_secret=SECRET)
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    pending = payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key="p1")
    receiver.statuses = [503] * 20
    payment_capture(source_id=pending.pk, amount=None, key="c1")
    run_with_retries(Delivery.objects.get().pk)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("failed", 503)
    assert delivery.attempts == len(receiver.received) > 1


def test_no_endpoint_no_delivery() -> None:
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    pending = payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key="p1")
    payment_capture(source_id=pending.pk, amount=None, key="c1")
    assert not Delivery.objects.exists()


def test_signing_secret_is_encrypted_at_rest() -> None:
    from django.db import connection

    endpoint = endpoint_create(name="ERP", url="http://127.0.0.1:9/x", signing_secret=SECRET)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM notifications_endpoint WHERE id = %s", [endpoint.pk])
        assert SECRET not in cursor.fetchone()[0]
