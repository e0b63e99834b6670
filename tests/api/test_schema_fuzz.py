"""Schemathesis against a live test server: generated requests to every operation, as an administrator and as a
buyer, find no server error and no answer the schema does not allow (status, content type, body).

At least 1,000 cases in all, derandomized so a run is repeatable; the runtime stays around a minute."""

from __future__ import annotations

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
#: examples per operation and generation mode; with ~45 operations, two modes and two callers: well over 1,000
EXAMPLES = 7


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

    assert not failures, "\n\n".join(failures)
    assert sent >= 500  # per caller: at least 1,000 in the two runs
