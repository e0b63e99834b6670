"""How long 10,000 due captures take against the Stripe sandbox, with one and with two worker processes, with the
sandbox answering at once and after 300 ms (SANDBOX_LATENCY_MS, a remote provider).

Real parts: PostgreSQL (BENCH_DATABASE_URL, default a fresh `paydesk_bench` database on 127.0.0.1), Redis
(BENCH_REDIS_URL, default db 7), gunicorn serving the sandbox, and `celery worker` processes. Each run makes
N fresh authorizations at the sandbox (threads calling its API), schedules their captures as due, then times
the beat sweep plus the workers until every capture is recorded. Set BENCH_CAPTURES to change N.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._processes import celery_worker, cpu_seconds, environment, free_port, fresh_database, stop, web_server  # noqa: E402

N = int(os.environ.get("BENCH_CAPTURES", "10000"))
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paydesk_bench")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
PORT = free_port()
SITE = f"http://127.0.0.1:{PORT}"
ENV = environment("capture_sweep", db_url=DB_URL, redis_url=REDIS, port=PORT)
fresh_database(DB_URL)

import django  # noqa: E402

django.setup()

import stripe  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from config.celery import app  # noqa: E402
from core.status import PaymentStatus  # noqa: E402
from customers.models import Customer  # noqa: E402
from integrations.models import Integration  # noqa: E402
from orders.models import Order  # noqa: E402
from payments.models import Action, PaymentTransaction, ScheduledCapture, State  # noqa: E402
from payments.tasks import scheduled_captures_sweep_task  # noqa: E402
from sandbox.models import SimIdempotencyKey  # noqa: E402

SECRET = "sk_test_benchmarkcaptures"  # noqa: S105 - a sandbox test key


def authorizations(integration: Integration, customer: Customer, n: int, run: int) -> list[int]:
    """n authorized orders: PaymentIntents made at the sandbox over HTTP, ledger rows written in bulk."""
    client = stripe.StripeClient(SECRET, base_addresses={"api": f"{SITE}/sandbox/stripe"}, max_network_retries=2)

    def authorize(i: int) -> str:
        pi = client.v1.payment_intents.create(
            params={
                "amount": 10000,
                "currency": "usd",
                "capture_method": "manual",
                "confirm": True,
                "payment_method": "pm_card_visa",
                "allowed_payment_method_types": ["card"],
            },
            options={"idempotency_key": f"bench:{run}:{i}"},
        )
        return pi.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        references = list(pool.map(authorize, range(n)))
    orders = Order.objects.bulk_create(
        Order(
            number=f"B{run}-{i:06d}",
            customer=customer,
            currency="USD",
            subtotal=100,
            total=100,
            payment_method=f"stripe_{integration.pk}",
            payment_status=PaymentStatus.AUTHORIZED,
        )
        for i in range(n)
    )
    auths = PaymentTransaction.objects.bulk_create(
        PaymentTransaction(
            order=order,
            integration=integration,
            payment_method=order.payment_method,
            action=Action.AUTHORIZE,
            state=State.SUCCEEDED,
            successful=True,
            active=True,
            amount=100,
            currency="USD",
            provider_reference=ref,
            idempotency_key=f"bench:{run}:{i}",
            fingerprint="bench",
        )
        for i, (order, ref) in enumerate(zip(orders, references, strict=True))
    )
    return [a.pk for a in auths]


def sweep(ids: list[int], processes: int, run: int) -> tuple[float, float]:
    """Seconds until every scheduled capture of `ids` is done, with `processes` worker processes, and the CPU
    seconds those worker processes used for it."""
    ScheduledCapture.objects.bulk_create(ScheduledCapture(authorization_id=pk, due_at=timezone.now()) for pk in ids)
    app.control.purge()
    workers = [celery_worker(ENV, f"bench{run}-{n}", 1) for n in range(processes)]
    try:
        time.sleep(3)  # let the workers connect
        cpu_before = sum(cpu_seconds(worker) for worker in workers)
        started = time.perf_counter()
        while ScheduledCapture.objects.filter(state=ScheduledCapture.State.PENDING).exists():
            scheduled_captures_sweep_task.apply()  # what beat would run every minute, back to back
        left = ScheduledCapture.objects.filter(authorization_id__in=ids).exclude(state=ScheduledCapture.State.DONE)
        while left.exists():
            time.sleep(0.25)
            if time.perf_counter() - started > 1800:
                print("    gave up after 30 minutes")
                break
        return time.perf_counter() - started, sum(cpu_seconds(worker) for worker in workers) - cpu_before
    finally:
        for worker in workers:
            stop(worker)


def main() -> None:
    call_command("migrate", verbosity=0)
    integration = Integration.objects.create(
        provider_key="stripe",
        name="Stripe bench",
        payment_action=Integration.PaymentAction.AUTHORIZE,
        settings={"public_key": "pk_test_benchmarkcaptures"},
        secrets={"secret_key": SECRET},
    )
    customer = Customer.objects.create(name="Bench buyer")
    print(
        f"{N} due captures per run, Stripe sandbox behind gunicorn, PostgreSQL, Redis; "
        f"{os.environ.get('CAPTURE_SWEEP_THREADS', '16')} provider calls in flight per worker process"
    )
    run = 0
    for latency in (0, 300):
        for processes in (1, 2):
            run += 1
            web = web_server(ENV, PORT, workers=2, threads=8)  # the authorizations, made without latency
            try:
                started = time.perf_counter()
                ids = authorizations(integration, customer, N, run)
            finally:
                stop(web)
            made = time.perf_counter() - started
            web = web_server({**ENV, "SANDBOX_LATENCY_MS": str(latency)}, PORT, workers=2, threads=96)
            try:
                sandbox_before = cpu_seconds(web)
                elapsed, worker_cpu = sweep(ids, processes, run)
                sandbox_cpu = cpu_seconds(web) - sandbox_before
            finally:
                stop(web)
            captures = PaymentTransaction.objects.filter(
                action=Action.CAPTURE, state=State.SUCCEEDED, source_id__in=ids
            )
            doubles = captures.values("source_id").annotate(n=Count("id")).filter(n__gt=1).count()
            sent = SimIdempotencyKey.objects.filter(provider="stripe", key__startswith="capture:").count()
            count = captures.count()
            print(
                f"  provider latency {latency} ms, {processes} worker process(es): {count} captures in "
                f"{elapsed:.1f} s = {count / elapsed:.0f}/s (goal {10_000 / 60:.0f}/s: 10,000 in 60 s with 2 "
                f"workers at 300 ms); double captures {doubles} (goal 0); {N} authorizations made in {made:.0f} s"
            )
            # The sandbox and PostgreSQL share the machine's cores with the workers; a live provider spends its
            # CPU elsewhere. What the workers alone spend says what two cores of workers could sustain.
            per_capture, sandbox_per_capture = worker_cpu / max(count, 1), sandbox_cpu / max(count, 1)
            print(
                f"    CPU per capture: workers {per_capture * 1000:.1f} ms, sandbox {sandbox_per_capture * 1000:.1f}"
                f" ms; two cores of workers alone: {2 / per_capture if per_capture else 0:.0f} captures/s"
            )
    print(f"  capture requests the sandbox received, all runs: {sent} for {run * N} captures")


if __name__ == "__main__":
    main()
