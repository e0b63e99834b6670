"""The request pipeline every simulator shares: faults, idempotency, hold-back and sparse replies."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
from django.http import HttpResponse

from sandbox.pipeline import Idempotency, cors, serve, sim_account_id
from sandbox.services import SimReply, sim_fault_add

pytestmark = pytest.mark.django_db


def call(calls: list[str], *, key: str = "", request_hash: str = "h", **options: object) -> HttpResponse:
    def execute() -> SimReply:
        calls.append("ran")
        return SimReply(200, f"reply {len(calls)}")

    return serve(
        provider="demo",
        operation="capture",
        execute=execute,
        respond=lambda reply, replayed: HttpResponse(reply.body + (" (replayed)" if replayed else "")),
        idempotency=Idempotency(account="a", key=key, request_hash=request_hash, ttl=timedelta(hours=1))
        if key
        else None,
        conflict=lambda refusal: HttpResponse(refusal.reason, status=409),
        **options,  # type: ignore[arg-type]
    )


def test_a_5xx_fault_answers_without_running_the_call() -> None:
    calls: list[str] = []
    sim_fault_add(provider="demo", kind="error_503", operation="capture")
    reply = call(calls)
    assert (reply.status_code, reply.content, calls) == (503, b"Service Unavailable", [])
    assert call(calls).content == b"reply 1"  # used up: the next call runs


def test_a_timeout_fault_runs_the_call_then_holds_the_answer_back() -> None:
    calls: list[str] = []
    sim_fault_add(provider="demo", kind="timeout", operation="capture", delay=0.3)
    started = time.monotonic()
    reply = call(calls)
    assert (reply.content, calls) == (b"reply 1", ["ran"])
    assert time.monotonic() - started >= 0.3


def test_a_repeated_key_replays_the_first_reply_and_another_request_with_it_conflicts() -> None:
    calls: list[str] = []
    assert call(calls, key="k1").content == b"reply 1"
    assert call(calls, key="k1").content == b"reply 1 (replayed)"
    conflict = call(calls, key="k1", request_hash="other")
    assert (conflict.status_code, conflict.content, calls) == (409, b"mismatch", ["ran"])


def test_a_sparse_fault_thins_the_reply_after_the_call_ran() -> None:
    calls: list[str] = []
    thin = lambda reply: SimReply(reply.status, "thin")  # noqa: E731
    assert call(calls, sparse=thin).content == b"reply 1"
    sim_fault_add(provider="demo", kind="sparse", operation="capture")
    assert (call(calls, sparse=thin).content, calls) == (b"thin", ["ran", "ran"])


def test_an_account_id_is_a_stable_digest_of_the_credential() -> None:
    digest = hashlib.sha256(b"login").hexdigest()[:16]
    assert (sim_account_id("login"), sim_account_id("login", prefix="anet_")) == (digest, f"anet_{digest}")
    assert sim_account_id("other") != digest


def test_cors_lets_the_browser_script_call_from_the_shop() -> None:
    response = cors(HttpResponse(), methods="POST, OPTIONS")
    assert (
        response["Access-Control-Allow-Origin"],
        response["Access-Control-Allow-Methods"],
        response["Access-Control-Allow-Headers"],
    ) == ("*", "POST, OPTIONS", "Content-Type")
