"""Schemathesis against a live test server: generated requests to every operation, as an administrator and as a
buyer, find no server error and no answer the schema does not allow (status, content type, body).

At least 1,000 cases in all, derandomized so a run is repeatable; the runtime stays within a few minutes.

Requests that would point the site at hosts other than this machine are left out: an integration's
settings (a generated "live" environment would send payments to the provider's real host, a generated URL
would be called by the connection check) and notification endpoints (deliveries are POSTed to their URL).
Those are tested by hand in their own modules; here a guard also refuses any name but the loopback's."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.cache import cache
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.services import api_token_create
from demo.seed import seed_demo
from orders.services import invoice_create
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: examples per operation and generation mode: about 600 requests per caller, 1,200 in all
EXAMPLES = 5
#: operations that make the site call out to a generated address (see the module docstring)
CALLS_OUT = {
    ("POST", "/api/v1/integrations/"),
    ("PATCH", "/api/v1/integrations/{id}/"),
    ("POST", "/api/v1/integrations/{id}/check-connection/"),
    ("POST", "/api/v1/notification-endpoints/"),
    ("PATCH", "/api/v1/notification-endpoints/{id}/"),
}
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):  # noqa: ANN001, ANN201
    """Name resolution for anything but this machine fails, so no generated request reaches another host."""
    resolve = socket.getaddrinfo

    def guarded(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if host not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not this machine")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def site(live_server, settings) -> str:  # noqa: ANN001
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    seed_demo()
    for order in factories.OrderFactory.create_batch(
        3, customer=User.objects.get(username="buyer@globex.example").customer_user.customer
    ):
        invoice_create(order=order)
    cache.clear()
    return live_server.url


def fuzz(base_url: str, token: str) -> tuple[int, list[str]]:
    """Run every operation's strategy; returns the number of cases sent and what failed, per operation."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json")
    sent = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in CALLS_OUT:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            def call(case: Any) -> None:
                nonlocal sent
                sent += 1
                case.call_and_validate(
                    base_url=base_url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=30
                )

            run: Callable[[], None] = hypothesis_settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )(given(case=operation.as_strategy(generation_mode=mode))(call))
            try:
                run()
            except Exception as exc:  # noqa: BLE001  a failure report per operation, all of them at the end
                failures.append(f"{operation.verbose_name} ({mode.value}): {str(exc)[:1500]}")
    return sent, failures


@pytest.mark.parametrize("username", ["admin", "buyer@globex.example"])
def test_generated_requests_find_no_server_error_and_no_schema_contradiction(site, username):  # noqa: ANN001
    _, token = api_token_create(user=User.objects.get(username=username), name="fuzz")

    sent, failures = fuzz(site, token)

    print(f"{username}: {sent} generated requests")  # noqa: T201  the count the acceptance asks for
    assert not failures, "\n\n".join(failures)
    assert sent >= 500  # per caller: at least 1,000 in the two runs
