"""A storm of about 10,000 Stripe events, shuffled, with 30% duplicates and a worker killed midway; then how many
payments' ledgers differ from what Stripe holds.

Real parts: PostgreSQL (BENCH_DATABASE_URL, default a fresh `paydesk_bench_storm` database on 127.0.0.1), Redis
(BENCH_REDIS_URL, default db 8), gunicorn serving the webhook endpoint and the Stripe sandbox, and two `celery
worker` processes. Payments of five kinds are made at the sandbox over HTTP (for a third of them our answer is
"lost": the ledger row stays open without a reference), changed in the sandbox as Stripe's dashboard would
(capture 70.00 and refund 25.00; capture and refund all; refund part of a charge; cancel), and their events,
rendered in the endpoint version BENCH_API_VERSION (default the adapter's), are signed and posted to the webhook
URL in a shuffled order with 30% duplicates, while no worker runs: the ingest rate is the endpoint's alone (and the
CPU gunicorn spent per delivery says what two cores of it alone would take). Then two workers of one process each
start and the processing rate is measured until a quarter of the events are processed, then two workers of two
processes each until half, when one worker is killed with SIGKILL and a new one started;
the inbox sweep (run as beat would) enqueues again the rows it left unprocessed past REQUEUE_AFTER, the waiting-events
sweep too, and every ledger is compared with the sandbox's state.
BENCH_PAYMENTS changes the number of payments (3,600 make about 10,000 events).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._processes import celery_worker, cpu_seconds, environment, free_port, fresh_database, stop, web_server  # noqa: E402

N = int(os.environ.get("BENCH_PAYMENTS", "3600"))
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paydesk_bench_storm")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
DUPLICATES = 0.3
KINDS = ("lost_capture_refund", "capture_refund_all", "charge_refund", "lost_cancel", "authorized", "lost_plain")
PORT = free_port()
SITE = f"http://127.0.0.1:{PORT}"
ENV = environment("webhook_storm", db_url=DB_URL, redis_url=REDIS, port=PORT)
fresh_database(DB_URL)

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
import stripe  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import Count  # noqa: E402

from config.celery import app  # noqa: E402
from core.status import PaymentStatus  # noqa: E402
from customers.models import Customer  # noqa: E402
from integrations.models import Integration  # noqa: E402
from orders.models import Order  # noqa: E402
from payments.models import Action, PaymentTransaction, State, WebhookEvent  # noqa: E402
from payments.services import capturable_amount  # noqa: E402
from payments.tasks import webhook_events_requeue_task  # noqa: E402
from payments.webhook_services import webhook_events_waiting_sweep  # noqa: E402
from providers.stripe.adapter import METADATA_KEY, StripeAdapter  # noqa: E402
from sandbox.models import SimObject  # noqa: E402
from sandbox.stripe.simulator import render_event, sign  # noqa: E402
from sandbox.stripe.versions import receives, version_of  # noqa: E402

SECRET = "sk_test_benchmarkstorm"  # noqa: S105 - a sandbox test key
WEBHOOK_SECRET = "whsec_benchmarkstorm"  # noqa: S105 - a sandbox test key
VERSION = os.environ.get("BENCH_API_VERSION", StripeAdapter.webhook_api_version)


def worker(name: str, concurrency: int) -> subprocess.Popen:
    return celery_worker(ENV, name, concurrency)


def processing(workers: list[subprocess.Popen], done: Any, until: int) -> tuple[int, float, float]:
    """Events the workers processed from their first one until `until` are done, the seconds it took, and the
    workers' CPU seconds per event."""
    waited = time.perf_counter()
    at_start = done.count()
    while done.count() == at_start and time.perf_counter() - waited < 120:  # starting is not processing
        time.sleep(0.05)
    first, at_first = time.perf_counter(), done.count()
    cpu_first = sum(cpu_seconds(process) for process in workers)
    while done.count() < until and time.perf_counter() - first < 1800:
        time.sleep(0.2)
    took = time.perf_counter() - first
    processed = done.count() - at_first
    return processed, took, (sum(cpu_seconds(p) for p in workers) - cpu_first) / max(processed, 1)


def payments(integration: Integration, customer: Customer) -> dict[int, tuple[str, str]]:
    """N payments made and changed at the sandbox; the ledger as we would have it. Returns order id -> (kind, pi)."""
    client = stripe.StripeClient(
        SECRET, base_addresses={"api": f"{SITE}/sandbox/stripe"}, max_network_retries=2, stripe_version=VERSION
    )

    def make(i: int) -> tuple[str, str]:
        kind = KINDS[i % len(KINDS)]
        pi = client.v1.payment_intents.create(
            params={
                "amount": 10000,
                "currency": "usd",
                "capture_method": "automatic" if kind == "charge_refund" else "manual",
                "confirm": True,
                "payment_method": "pm_card_visa",
                "allowed_payment_method_types": ["card"],
                "metadata": {METADATA_KEY: f"storm:{i}"},
            },
            options={"idempotency_key": f"storm:{i}"},
        )
        if kind == "lost_capture_refund":
            client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 7000})
            client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 2500})
        elif kind == "capture_refund_all":
            client.v1.payment_intents.capture(pi.id)
            client.v1.refunds.create(params={"payment_intent": pi.id})
        elif kind == "charge_refund":
            client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 3000})
        elif kind == "lost_cancel":
            client.v1.payment_intents.cancel(pi.id)
        return kind, pi.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(make, range(N)))
    orders = Order.objects.bulk_create(
        Order(
            number=f"S-{i:06d}",
            customer=customer,
            currency="USD",
            subtotal=100,
            total=100,
            payment_method=f"stripe_{integration.pk}",
            payment_status=PaymentStatus.PENDING,
        )
        for i in range(N)
    )
    PaymentTransaction.objects.bulk_create(
        PaymentTransaction(
            order=order,
            integration=integration,
            payment_method=order.payment_method,
            action=Action.CHARGE if kind == "charge_refund" else Action.AUTHORIZE,
            state=State.RESERVED,  # every answer is known only from events, the lost ones without a reference
            successful=False,
            active=True,
            amount=100,
            currency="USD",
            provider_reference="" if kind.startswith("lost") else reference,
            idempotency_key=f"storm:{i}",
            fingerprint="storm",
        )
        for i, (order, (kind, reference)) in enumerate(zip(orders, made, strict=True))
    )
    return {order.pk: pair for order, pair in zip(orders, made, strict=True)}


def rendered_events() -> list[dict]:
    version = version_of(VERSION)
    events = [o.data for o in SimObject.objects.filter(provider="stripe", kind="event").order_by("id")]
    return [render_event(e, version) for e in events if receives(version, e["_audience"])]


def post_all(bodies: list[str], url: str) -> None:
    session = requests.Session()

    def post(body: str) -> int:
        headers = {"Content-Type": "application/json", **sign(body, WEBHOOK_SECRET, int(time.time()))}
        return session.post(url, data=body.encode(), headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(post, bodies))
    bad = [c for c in codes if c != 200]
    if bad:
        print(f"  {len(bad)} posts were not answered 200: {sorted(set(bad))}")


def at_stripe(reference: str, refunds: dict[str, int]) -> tuple[Decimal, Decimal, Decimal]:
    pi = SimObject.objects.get(provider="stripe", kind="payment_intent", object_id=reference).data
    values = (pi["amount_received"], refunds.get(reference, 0), pi["amount_capturable"])
    return tuple(Decimal(v) / 100 for v in values)  # type: ignore[return-value]


def in_ledger(rows: list[PaymentTransaction]) -> tuple[Decimal, Decimal, Decimal]:
    done = [r for r in rows if r.state == State.SUCCEEDED]
    captured = sum((r.amount for r in done if r.action in (Action.CAPTURE, Action.CHARGE)), Decimal(0))
    refunded = sum((r.amount for r in done if r.action == Action.REFUND), Decimal(0))
    held = sum((capturable_amount(r) for r in done if r.action == Action.AUTHORIZE and r.active), Decimal(0))
    return captured, refunded, held


def main() -> None:
    call_command("migrate", verbosity=0)
    web = web_server(ENV, PORT, workers=2)  # two cores
    workers: list = []
    try:
        integration = Integration.objects.create(
            provider_key="stripe",
            name="Stripe storm",
            payment_action=Integration.PaymentAction.AUTHORIZE,
            settings={"public_key": "pk_test_benchmarkstorm"},
            secrets={"secret_key": SECRET, "webhook_secret": WEBHOOK_SECRET},
        )
        customer = Customer.objects.create(name="Storm buyer")
        started = time.perf_counter()
        made = payments(integration, customer)
        print(f"{N} payments made and changed at the sandbox in {time.perf_counter() - started:.0f} s")
        events = rendered_events()
        rng = random.Random(2026)  # noqa: S311 - a reproducible storm
        deliveries = events + rng.sample(events, int(len(events) * DUPLICATES))
        rng.shuffle(deliveries)
        print(f"  {len(events)} events (endpoint version {VERSION}), {len(deliveries)} deliveries with duplicates")

        app.control.purge()
        cpu_before = cpu_seconds(web)
        started = time.perf_counter()
        post_all([json.dumps(e) for e in deliveries], integration.get_webhook_url())
        posted = time.perf_counter() - started
        per_delivery = (cpu_seconds(web) - cpu_before) / len(deliveries)
        stored = WebhookEvent.objects.count()
        print(
            f"  ingest: {len(deliveries)} deliveries posted in {posted:.1f} s = {len(deliveries) / posted:.0f} "
            f"events/s (goal ≥ 500); stored {stored} of {len(events)} distinct events, "
            f"lost {len(events) - stored} (goal 0)"
        )
        print(
            f"    gunicorn CPU per delivery {per_delivery * 1000:.2f} ms (the posting client shares the cores): "
            f"two cores of the endpoint alone: {2 / per_delivery if per_delivery else 0:.0f} events/s"
        )

        unfinished = WebhookEvent.objects.filter(status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.WAITING])
        done = WebhookEvent.objects.exclude(status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.WAITING])
        started = time.perf_counter()
        # two worker processes with one task at a time each, until a quarter of the events; then two with two each
        # (Celery's default on two cores is one worker of two): processing waits on PostgreSQL and the provider
        for concurrency, until in ((1, len(events) // 4), (2, len(events) // 2)):
            workers = [worker(f"storm{concurrency}a", concurrency), worker(f"storm{concurrency}b", concurrency)]
            processed, took, per_event = processing(workers, done, until)
            print(
                f"  processing: {processed} events in {took:.1f} s = {processed / took:.0f} events/s with 2 workers "
                f"of {concurrency} process{'es' if concurrency > 1 else ''} each (goal ≥ 200)"
            )
            print(
                f"    worker CPU per event {per_event * 1000:.1f} ms (the sandbox answers the workers' reads on the "
                f"same cores): two cores of workers alone: {2 / per_event if per_event else 0:.0f} events/s"
            )
            if concurrency == 1:
                for process in workers:  # a warm shutdown: the tasks in hand finish and are acknowledged
                    process.send_signal(signal.SIGTERM)  # to the worker only: its pool processes finish their task
                for process in workers:
                    process.wait(timeout=60)
        stop(workers.pop(0), signal.SIGKILL)
        workers.append(worker("storm3", 2))
        print("  then one worker killed with SIGKILL, a new one started")
        deadline = time.perf_counter() + 1800
        swept, by_sweep = time.perf_counter(), 0
        while unfinished.exists() and time.perf_counter() < deadline:
            time.sleep(1)
            if time.perf_counter() - swept > 10:  # beat runs these every minute; the storm is shorter than that
                by_sweep += webhook_events_waiting_sweep()[0]
                by_sweep += webhook_events_requeue_task.apply().get()  # rows left unprocessed past REQUEUE_AFTER
                swept = time.perf_counter()
        elapsed = time.perf_counter() - started
        statuses = dict(WebhookEvent.objects.order_by().values_list("status").annotate(n=Count("id")))
        print(f"  all processed after {elapsed:.0f} s (the killed worker's events enqueued again by the inbox sweep)")
        print(f"  event rows by status: {statuses}; events the sweeps had to enqueue: {by_sweep}")

        refunds: dict[str, int] = defaultdict(int)
        for o in SimObject.objects.filter(provider="stripe", kind="refund"):
            if not o.data.get("_release"):
                refunds[o.data["payment_intent"]] += o.data["amount"]
        rows: dict[int, list[PaymentTransaction]] = defaultdict(list)
        for txn in PaymentTransaction.objects.filter(order_id__in=made):
            rows[txn.order_id].append(txn)
        wrong = [
            order_id for order_id, (_, ref) in made.items() if in_ledger(rows[order_id]) != at_stripe(ref, refunds)
        ]
        print(f"  payments whose ledger differs from Stripe's: {len(wrong)} of {len(made)}")
        for order_id in wrong[:5]:
            kind, ref = made[order_id]
            print(f"    {kind} {ref}: ledger {in_ledger(rows[order_id])}, Stripe {at_stripe(ref, refunds)}")
    finally:
        for process in workers:
            stop(process)
        stop(web)


if __name__ == "__main__":
    main()
