"""The webhook inbox when the queue misbehaves: the broker down while an event arrives, a worker killed while it
holds an event. A stored event is answered 200 and processed by the inbox sweep, within minutes.

Against the Stripe sandbox: a 3-D Secure payment waits for the buyer, the buyer completes it at the issuer, and
Stripe's event about it is what arrives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import requests
from celery.exceptions import Retry
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from config.celery import app
from integrations.models import Integration
from orders.models import Order, PaymentStatus
from payments import services
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from payments.tasks import webhook_event_process_task, webhook_events_requeue_task
from payments.webhook_services import webhook_events_requeue
from providers.base import ProviderUnavailable
from sandbox.authorizenet import simulator as anet_sandbox_module
from sandbox.services import sim_fault_add, sim_faults_clear
from tests import factories
from tests.authorizenet_support import card, merchant_interface, post_notification
from tests.sandbox_support import post_event, sandbox_events, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def waiting_for_the_buyer(integration: Integration) -> PaymentTransaction:
    """A 3-D Secure payment the buyer then completes at the issuer; Stripe reports it by event."""
    order = factories.OrderFactory()
    txn = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{integration.pk}",
        key=f"auth-{order.pk}",
        payment_data={"payment_method": "pm_card_authenticationRequired"},
        return_url="http://shop.test/return",
    )
    assert txn.state == State.ACTION_REQUIRED
    reply = requests.post(
        txn.response["next_action"]["redirect_url"], data={"outcome": "complete"}, allow_redirects=False, timeout=10
    )
    assert reply.status_code == 302
    return txn


def authorized_event(txn: PaymentTransaction) -> dict:
    [event] = [e for e in sandbox_events(txn.provider_reference) if e["type"].endswith("amount_capturable_updated")]
    return event


@pytest.fixture
def broker_down() -> Iterator[None]:
    """Messages go to a Redis that refuses connections, as during an outage; restored afterwards."""
    saved = (app.conf.task_always_eager, app.conf.broker_url, app._pool, app.amqp._producer_pool)
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:9/0"  # nothing listens there
    app._pool, app.amqp._producer_pool = None, None
    try:
        yield
    finally:  # kombu keeps producer pools per broker address: leave them open for the next test to reuse
        app.conf.task_always_eager, app.conf.broker_url, app._pool, app.amqp._producer_pool = saved


def test_an_event_stored_while_the_broker_is_down_is_answered_200_and_kept_for_the_sweep(
    stripe_integration, broker_down
) -> None:
    txn = waiting_for_the_buyer(stripe_integration)
    stripe = Client(raise_request_exception=False)

    reply = post_event(stripe, stripe_integration, authorized_event(txn))

    assert reply.status_code == 200  # stored: Stripe must not retry, the event is ours now
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts) == (WebhookEvent.Status.RECEIVED, 0)
    txn.refresh_from_db()
    assert txn.state == State.ACTION_REQUIRED


def test_the_sweep_processes_events_left_unprocessed_past_two_minutes(stripe_integration, broker_down) -> None:
    txn = waiting_for_the_buyer(stripe_integration)
    assert post_event(Client(), stripe_integration, authorized_event(txn)).status_code == 200
    event = WebhookEvent.objects.get()
    app.conf.task_always_eager = True  # the broker is back (the tasks run in this process)

    assert webhook_events_requeue_task.apply().get() == 0  # a minute old: its message may still be on the way
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=3))
    assert webhook_events_requeue_task.apply().get() == 1

    event.refresh_from_db()
    txn.refresh_from_db()
    assert (event.status, event.attempts) == (WebhookEvent.Status.PROCESSED, 1)
    assert (txn.state, txn.successful) == (State.SUCCEEDED, True)
    assert Order.objects.get(pk=txn.order_id).payment_status == PaymentStatus.AUTHORIZED
    assert webhook_events_requeue_task.apply().get() == 0  # processed: never sent again


def test_an_event_enqueued_again_is_not_sent_again_for_two_minutes(stripe_integration, broker_down) -> None:
    txn = waiting_for_the_buyer(stripe_integration)
    post_event(Client(), stripe_integration, authorized_event(txn))
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=3))
    app.conf.broker_url = "memory://"  # a broker that takes messages and keeps them: nobody processes them
    app._pool, app.amqp._producer_pool = None, None

    assert webhook_events_requeue_task.apply().get() == 1
    assert webhook_events_requeue_task.apply().get() == 0
    WebhookEvent.objects.update(enqueued_at=timezone.now() - timedelta(minutes=3))
    assert webhook_events_requeue_task.apply().get() == 1


def test_an_event_whose_processing_never_finishes_is_left_to_staff_not_sent_forever(
    stripe_integration, broker_down
) -> None:
    txn = waiting_for_the_buyer(stripe_integration)
    post_event(Client(), stripe_integration, authorized_event(txn))
    # eight runs started and none finished (a fault in processing, each run killed at the time limit, say)
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=3), attempts=8)
    app.conf.task_always_eager = True

    assert webhook_events_requeue_task.apply().get() == 0

    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert "never finished" in event.result


# --- a worker killed while it holds an event --------------------------------------------------------------------


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker_process() -> subprocess.Popen:
    """A real worker process on the real broker and the test database, as `celery worker` runs in production."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-c", "1", "-l", "WARNING"]
    command += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def held_by_the_broker(client: redis.Redis, task_name: str) -> list[bytes]:
    """Delivery tags of messages a worker took and never acknowledged (kombu's Redis transport keeps them)."""
    return [tag for tag, payload in client.hgetall("unacked").items() if task_name.encode() in payload]


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis broker (REDIS_URL); CI sets it")
@pytest.mark.skipif(connection.vendor == "sqlite", reason="a worker process needs a database it can share")
def test_an_event_held_by_a_killed_worker_is_processed_by_the_sweep_not_after_the_visibility_timeout(
    stripe_integration, request: pytest.FixtureRequest
) -> None:
    broker = redis.Redis.from_url(settings.REDIS_URL)
    txn = waiting_for_the_buyer(stripe_integration)
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # the event goes through Redis
    request.addfinalizer(lambda: setattr(app.conf, "task_always_eager", eager))
    app.control.purge()
    order_locked, release = threading.Event(), threading.Event()

    def hold_the_order() -> None:  # staff on the order page, say: the worker's processing waits for this lock
        try:
            with transaction.atomic():
                services.lock_order(order_id=txn.order_id)
                order_locked.set()
                release.wait(90)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_order)
    holder.start()
    assert order_locked.wait(10)
    process = start_worker_process()
    try:
        assert post_event(Client(), stripe_integration, authorized_event(txn)).status_code == 200
        event = WebhookEvent.objects.get()
        wait_until(lambda: WebhookEvent.objects.get(pk=event.pk).attempts == 1, 60, "the worker to take the event")
        process.send_signal(signal.SIGKILL)  # killed mid-task: the message is neither acknowledged nor rejected
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
        release.set()
        holder.join()
    held = held_by_the_broker(broker, "webhook_event_process_task")
    try:
        assert len(held) == 1  # Redis hands it out again only once the visibility timeout has passed
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == 600
        request.getfixturevalue("worker")  # another worker, in this process; it does not get that message
        assert WebhookEvent.objects.get(pk=event.pk).status == WebhookEvent.Status.RECEIVED

        WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=3))
        assert webhook_events_requeue_task.apply().get() == 1  # beat, two minutes on

        wait_until(lambda: WebhookEvent.objects.get(pk=event.pk).status == WebhookEvent.Status.PROCESSED)
        txn.refresh_from_db()
        assert (txn.state, txn.successful) == (State.SUCCEEDED, True)
    finally:
        for tag in held:  # leave no message behind for a later run's workers
            broker.hdel("unacked", tag)
            broker.zrem("unacked_index", tag)


# --- the broker's visibility timeout -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=False)
def test_the_visibility_timeout_outlasts_any_task_and_is_minutes_not_an_hour() -> None:
    if not settings.REDIS_URL:
        pytest.skip("the visibility timeout is Redis's; the local filesystem transport has none")
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    hard_limit = app.conf.task_time_limit
    assert hard_limit is not None, "without a time limit no visibility timeout can be known to fit"
    for name, task in app.tasks.items():
        if name.startswith("celery."):
            continue
        # the longest a message stays unacknowledged: a retry's countdown in the worker, then a run to the limit
        assert task.default_retry_delay <= settings.TASK_RETRY_COUNTDOWN_MAX, name
        if getattr(task, "retry_backoff", False):
            assert task.retry_backoff_max <= settings.TASK_RETRY_COUNTDOWN_MAX, name
        assert settings.TASK_RETRY_COUNTDOWN_MAX + (task.time_limit or hard_limit) < visibility, name
    assert visibility <= 15 * 60  # what a killed worker's other messages wait; webhook events wait two minutes


# --- the provider unreachable while an event is processed --------------------------------------------------------


def run_as_the_worker(event_id: int, *, retries: int) -> None:
    """One run of the processing task, as a worker runs it `retries` retries into its chain."""
    with suppress(Retry, ProviderUnavailable):  # eager mode raises the retry, and the last failure, a worker logs
        webhook_event_process_task.apply(args=[event_id], retries=retries, throw=False)


def test_an_event_that_waits_for_an_outage_is_retried_until_it_passes_not_given_up(
    client, anet_charging, anet_sandbox, broker_down
) -> None:  # noqa: ANN001
    """A refund made in Authorize.Net's Merchant Interface is notified while the reporting API (which says what
    the refund belongs to) is down. Each run of the event ends at once with "provider unavailable" and the
    task retries it after a backoff.

    Defect: the sweep took the event, waiting for its retry, for a lost message and sent it again (a second,
    then a third chain of retries), and since every run counted as one that "started and never finished", the
    event was marked failed for staff within minutes, while the outage lasted, and never tried again: the
    refund never reached the ledger. A run that ends because the provider is unreachable is a finished run,
    and the event is tried again, by its own retries and then by the sweep, until the outage passes."""
    order = factories.OrderFactory()
    charge = services.payment_purchase(
        order_id=order.pk, method=f"authorizenet_{anet_charging.pk}", key="charge-1", payment_data=card()
    )
    anet_sandbox_module.settle(charge.provider_reference)
    refund_id = merchant_interface(
        f"{anet_sandbox}/xml/v1/request.api", "refundTransaction", charge.provider_reference, "30.00"
    )
    (notice,) = anet_sandbox_module.events_for(refund_id)
    sim_fault_add(provider="authorizenet", kind="error_503", operation="details", times=1000)  # reporting down
    assert post_notification(client, anet_charging, notice).status_code == 200
    event = WebhookEvent.objects.get()
    app.conf.task_always_eager = True  # the worker's runs happen here, in this process

    run_as_the_worker(event.pk, retries=0)  # the first run: unavailable, retried after a backoff
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=3))
    assert webhook_events_requeue() == []  # its retry is on the way: not sent a second time

    for retries in range(1, webhook_event_process_task.max_retries + 1):  # the task's own retries, all in vain
        run_as_the_worker(event.pk, retries=retries)
        WebhookEvent.objects.filter(pk=event.pk).update(enqueued_at=timezone.now() - timedelta(minutes=5))
        for claimed in webhook_events_requeue():  # the sweep, meanwhile: what it sends, a worker runs
            run_as_the_worker(claimed, retries=0)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.RECEIVED  # still to do: the outage is no fault of the event
    assert "could not be reached" in event.result

    sim_faults_clear(provider="authorizenet")  # the outage ends
    WebhookEvent.objects.filter(pk=event.pk).update(enqueued_at=timezone.now() - timedelta(minutes=10))
    assert webhook_events_requeue() == [event.pk]
    run_as_the_worker(event.pk, retries=0)

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    refund = order.transactions.get(action=Action.REFUND)
    assert (refund.provider_reference, refund.amount, refund.state) == (refund_id, Decimal("30.0000"), State.SUCCEEDED)
