"""Fixtures and helpers for tests that run the payment services against a provider's sandbox.

Import the fixtures you use into the test module (`from tests.sandbox_support import stripe_sandbox`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any

import pytest
import stripe
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connection, connections

from config.celery import app
from integrations.models import Integration
from providers import registry
from sandbox.profiles import profile as sandbox_profile
from sandbox.stripe import simulator as stripe_sandbox_module
from tests import factories

STRIPE_SETTINGS, STRIPE_SECRETS = sandbox_profile("stripe").credentials("paydeskservices", "")


@pytest.fixture
def stripe_sandbox(live_server, settings) -> str:
    """The live test server as site and sandbox host; returns the Stripe sandbox's base URL."""
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    return f"{live_server.url}/sandbox/stripe"


@pytest.fixture
def stripe_integration(stripe_sandbox) -> Integration:  # noqa: ANN001
    return factories.IntegrationFactory(
        provider_key="stripe",
        name="Stripe",
        settings=dict(STRIPE_SETTINGS),
        secrets=dict(STRIPE_SECRETS),
        payment_action=Integration.PaymentAction.AUTHORIZE,
    )


def register_webhooks(integration: Integration, *, api_version: str = "") -> None:
    """Tell the sandbox to send this integration's account events to its webhook URL (as the dashboard would),
    in `api_version` (default: the version the adapter asks for), with the events the adapter asks for."""
    adapter = registry.adapter_class("stripe")
    register = sandbox_profile("stripe").register_webhooks
    assert register is not None
    register(
        {**integration.settings, **integration.secrets},
        integration.get_webhook_url(),
        adapter.webhook_events,
        api_version or adapter.webhook_api_version,
    )


def dashboard(stripe_sandbox_url: str, secret_key: str = STRIPE_SECRETS["secret_key"]) -> stripe.StripeClient:
    """A client standing for someone using Stripe's dashboard: it knows nothing of our ledger or keys."""
    return stripe.StripeClient(secret_key, base_addresses={"api": stripe_sandbox_url}, max_network_retries=0)


def sandbox_events(payment_intent: str, *, api_version: str = "") -> list[dict[str, Any]]:
    """The events the Stripe sandbox made about one PaymentIntent, oldest first, as an endpoint of
    `api_version` (default: the adapter's) receives them."""
    version = api_version or registry.adapter_class("stripe").webhook_api_version
    return stripe_sandbox_module.events_about(payment_intent, api_version=version)


def signed_headers(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    header = stripe_sandbox_module.sign(body, secret, int(time.time()) if timestamp is None else timestamp)
    return {"HTTP_STRIPE_SIGNATURE": header["Stripe-Signature"]}


def post_event(client, integration: Integration, event: dict[str, Any] | str, **sign: Any):  # noqa: ANN001, ANN201
    body = event if isinstance(event, str) else json.dumps(event)
    secret = sign.pop("secret", None) or integration.secrets["webhook_secret"]
    return client.post(
        integration.get_webhook_url().removeprefix(_site(integration)),
        data=body,
        content_type="application/json",
        **signed_headers(body, secret, **sign),
    )


def _site(integration: Integration) -> str:
    url = integration.get_webhook_url()
    return url[: url.index("/webhooks/")]


def ledger(order) -> list[tuple]:  # noqa: ANN001
    """An order's rows as (action, amount, state, successful, active, reference prefix), in order."""
    rows = order.transactions.order_by("pk").values_list(
        "action", "amount", "state", "successful", "active", "provider_reference"
    )
    return [(a, str(amt), st, s, act, (ref or "")[:3]) for a, amt, st, s, act, ref in rows]


def deliver_all(client, integration: Integration, events: Iterable[dict[str, Any]]) -> list[int]:  # noqa: ANN001
    return [post_event(client, integration, event).status_code for event in events]


# --- a real Celery worker ------------------------------------------------------------------------------------


@pytest.fixture
def worker():  # noqa: ANN201
    """A Celery worker consuming from the real broker (Redis in CI), in a thread sharing the test database."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs a Redis broker (REDIS_URL); CI sets it")
    if connection.vendor == "sqlite":
        pytest.skip("SQLite's shared in-memory test database locks whole tables between threads; run on PostgreSQL")
    assert app.conf.broker_url.startswith("redis://")
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    task_postrun.connect(close_worker_connections)  # the test database is dropped at the end: leave no session
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10) as w:
            yield w
    finally:
        task_postrun.disconnect(close_worker_connections)
        app.conf.task_always_eager = eager


def close_worker_connections(**kwargs) -> None:  # noqa: ANN003
    connections.close_all()


def wait_until(predicate, timeout: float = 30, what: str = "the worker to finish") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
