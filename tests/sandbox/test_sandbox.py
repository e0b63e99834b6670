"""The simulators' shared state: idempotent execution, faults, the clock, reset, and the on/off switch."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.models import SimFault, SimIdempotencyKey, SimObject
from sandbox.services import (
    KeyConflict,
    SimReply,
    sim_advance_time,
    sim_fault_add,
    sim_fault_take,
    sim_idempotent,
    sim_now,
    sim_put,
    sim_reset,
)

pytestmark = pytest.mark.django_db


def run(key: str, request_hash: str, calls: list[str], *, status: int = 200, store: bool = True):  # noqa: ANN201
    def execute() -> SimReply:
        calls.append(key)
        return SimReply(status, f'{{"n": {len(calls)}}}', store=store)

    return sim_idempotent(
        provider="demo", account="acct_1", key=key, request_hash=request_hash, ttl=timedelta(hours=24), execute=execute
    )


def test_a_key_runs_once_and_replays_the_first_reply() -> None:
    calls: list[str] = []
    first = run("k1", "h", calls)
    again = run("k1", "h", calls)
    assert first == (SimReply(200, '{"n": 1}'), False)
    assert again == (SimReply(200, '{"n": 1}'), True)
    assert calls == ["k1"]


def test_the_same_key_with_other_parameters_is_a_conflict_and_runs_nothing() -> None:
    calls: list[str] = []
    run("k1", "h", calls)
    assert run("k1", "other", calls) == KeyConflict("mismatch")
    assert calls == ["k1"]


def test_a_key_in_flight_is_a_conflict() -> None:
    SimIdempotencyKey.objects.create(
        provider="demo", account="acct_1", key="k1", request_hash="h", created_at=sim_now("demo")
    )
    assert run("k1", "h", []) == KeyConflict("in_flight")


def test_server_errors_are_replayed_but_unstored_replies_are_not() -> None:
    calls: list[str] = []
    run("k500", "h", calls, status=500)
    assert run("k500", "h", calls)[0].status == 500  # Stripe replays 500s too
    run("kval", "h", calls, status=400, store=False)
    assert run("kval", "h", calls) == (SimReply(200, '{"n": 3}'), False)  # a validation failure may be retried


def test_keys_are_forgotten_after_the_ttl_of_simulated_time() -> None:
    calls: list[str] = []
    run("k1", "h", calls)
    sim_advance_time(provider="demo", seconds=25 * 3600)
    assert run("k1", "other", calls) == (SimReply(200, '{"n": 2}'), False)


def test_faults_are_used_up_one_call_at_a_time() -> None:
    sim_fault_add(provider="demo", kind="error_500", operation="capture", times=2)
    assert sim_fault_take("demo", "refund") is None
    assert sim_fault_take("demo", "capture").kind == "error_500"
    assert sim_fault_take("demo", "capture").remaining == 0
    assert sim_fault_take("demo", "capture") is None
    assert SimFault.objects.count() == 0


def test_a_wildcard_fault_hits_any_operation() -> None:
    sim_fault_add(provider="demo", kind="timeout", delay=0.1)
    assert sim_fault_take("demo", "create").kind == "timeout"


def test_an_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        sim_fault_add(provider="demo", kind="explode")


def test_reset_forgets_one_provider_only() -> None:
    sim_put("demo", "thing", "t1", {"a": 1})
    sim_put("other", "thing", "t1", {"a": 1})
    sim_fault_add(provider="demo", kind="error_500")
    sim_reset(provider="demo")
    assert list(SimObject.objects.values_list("provider", flat=True)) == ["other"]
    assert SimFault.objects.count() == 0


def test_admin_hooks_switch_faults_and_move_the_clock(client) -> None:
    reply = client.post("/sandbox/__sim/fault", {"provider": "demo", "kind": "error_503", "operation": "refund"})
    assert reply.status_code == 200
    assert reply.json()["kind"] == "error_503"
    before = sim_now("demo")
    assert client.post("/sandbox/__sim/advance_time", {"provider": "demo", "seconds": "3600"}).status_code == 200
    assert sim_now("demo") - before >= timedelta(seconds=3599)
    assert client.post("/sandbox/__sim/reset", {"provider": "demo"}).json() == {"reset": "demo"}
    assert SimFault.objects.count() == 0
    assert client.post("/sandbox/__sim/fault", {"provider": "demo", "kind": "nope"}).status_code == 400


def test_sandboxes_are_not_served_when_disabled(client, settings) -> None:
    settings.SANDBOX_ENABLED = False
    assert client.post("/sandbox/__sim/reset").status_code == 404
    assert client.get("/sandbox/stripe/js/v3.js").status_code == 404
    reply = client.post("/sandbox/stripe/v1/payment_intents", HTTP_AUTHORIZATION="Bearer sk_test_12345678")
    assert reply.status_code == 404


def test_deploy_check_warns_while_sandboxes_are_served(settings) -> None:
    from django.core.checks import run_checks

    settings.SANDBOX_ENABLED = True
    assert "sandbox.W001" in [m.id for m in run_checks(include_deployment_checks=True)]
    settings.SANDBOX_ENABLED = False
    assert "sandbox.W001" not in [m.id for m in run_checks(include_deployment_checks=True)]


@pytest.fixture
def urlconf_reloaded(settings):  # noqa: ANN001, ANN201
    """Reload the URL conf after changing settings it reads at import; restore it afterwards."""
    import importlib

    from django.urls import clear_url_caches

    import config.urls

    def reload() -> None:
        importlib.reload(config.urls)
        clear_url_caches()

    enabled = settings.SANDBOX_ENABLED
    yield reload
    settings.SANDBOX_ENABLED = enabled
    reload()


def test_sandboxes_are_mounted_only_when_enabled(urlconf_reloaded, settings) -> None:
    from django.urls import Resolver404, resolve

    settings.SANDBOX_ENABLED = True
    urlconf_reloaded()
    assert resolve("/sandbox/__sim/reset").url_name == "sandbox-reset"
    assert resolve("/sandbox/stripe/js/v3.js").url_name == "stripe-sandbox-js"
    assert resolve("/sandbox/payflow_pro/").kwargs == {"provider": "payflow_pro"}

    settings.SANDBOX_ENABLED = False
    urlconf_reloaded()
    for path in ("/sandbox/__sim/reset", "/sandbox/stripe/js/v3.js", "/sandbox/authorizenet/xml/v1/request.api"):
        with pytest.raises(Resolver404):
            resolve(path)
