"""Idempotency-Key with Stripe's semantics: replay, another body (422), concurrent use (409), per user, 24 hours."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from api.models import IdempotencyKey
from api.services import idempotency_keys_purge
from api.tasks import idempotency_keys_purge_task
from payments.models import Action, PaymentTransaction
from tests import factories
from tests.api.conftest import token_client
from tests.conftest import authorize
from tests.fakes import FakeGateway


@pytest.fixture
def authorization(callers, company_a, gateway_integration) -> PaymentTransaction:  # noqa: ANN001
    return authorize(factories.OrderFactory(customer=company_a), gateway_integration)


def capture(client, txn: PaymentTransaction, key: str, amount: str = "30.00"):  # noqa: ANN001, ANN201
    return client.post(
        f"/api/v1/transactions/{txn.pk}/capture/", {"amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.django_db
def test_the_same_key_and_body_replays_status_and_body_and_moves_money_once(admin_client, authorization, fake_gateway):  # noqa: ANN001
    first = capture(admin_client, authorization, "k-1")
    second = capture(admin_client, authorization, "k-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert fake_gateway.calls["capture"] == 1
    assert PaymentTransaction.objects.filter(action=Action.CAPTURE).count() == 1


@pytest.mark.django_db
def test_a_refusal_is_replayed_too(admin_client, authorization, fake_gateway):  # noqa: ANN001
    first = capture(admin_client, authorization, "k-big", amount="500.00")
    second = capture(admin_client, authorization, "k-big", amount="500.00")

    assert (first.status_code, second.status_code) == (409, 409)
    assert second.json() == first.json()
    assert fake_gateway.calls["capture"] == 0


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422_and_moves_nothing(admin_client, authorization, fake_gateway):  # noqa: ANN001
    capture(admin_client, authorization, "k-2", amount="30.00")

    other = capture(admin_client, authorization, "k-2", amount="31.00")

    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert other.json()["error"]["field"] == "Idempotency-Key"
    assert fake_gateway.calls["capture"] == 1


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_422(admin_client, authorization):  # noqa: ANN001
    capture(admin_client, authorization, "k-3")

    cancel = admin_client.post(
        f"/api/v1/transactions/{authorization.pk}/cancel/",
        {"amount": "30.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-3",
    )

    assert cancel.status_code == 422


@pytest.mark.django_db
def test_keys_are_scoped_per_user(callers, authorization, fake_gateway):  # noqa: ANN001
    other_admin = token_client(factories.UserFactory(username="root", superuser=True))

    first = capture(callers["admin"].client, authorization, "shared")
    second = capture(other_admin, authorization, "shared")

    assert (first.status_code, second.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in second
    assert first.json()["id"] != second.json()["id"]
    assert fake_gateway.calls["capture"] == 2


@pytest.mark.django_db
def test_keys_are_kept_24_hours_then_forgotten(admin_client, authorization):  # noqa: ANN001
    capture(admin_client, authorization, "k-old")
    row = IdempotencyKey.objects.get(key="k-old")

    assert idempotency_keys_purge(now=row.created_at + timedelta(hours=23, minutes=59)) == 0
    assert idempotency_keys_purge(now=row.created_at + timedelta(hours=24, seconds=1)) == 1


@pytest.mark.django_db
def test_an_expired_key_reused_with_another_body_still_moves_no_money_twice(admin_client, authorization, fake_gateway):  # noqa: ANN001
    capture(admin_client, authorization, "k-late")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(days=2))

    again = capture(admin_client, authorization, "k-late", amount="31.00")

    assert again.status_code == 409  # the ledger knows the key: another capture with it is refused
    assert fake_gateway.calls["capture"] == 1


@pytest.mark.django_db
def test_a_request_without_a_key_is_a_new_request_each_time(admin_client, authorization, fake_gateway):  # noqa: ANN001
    for _ in range(2):
        response = admin_client.post(
            f"/api/v1/transactions/{authorization.pk}/capture/", {"amount": "10.00"}, format="json"
        )
        assert response.status_code == 201

    assert fake_gateway.calls["capture"] == 2
    assert IdempotencyKey.objects.count() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and concurrent requests need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_request_with_the_same_key_is_409_and_money_moves_once(
    admin_client,
    authorization,
    fake_gateway,
    monkeypatch,  # noqa: ANN001
):
    """Two real threads: the first request waits at the provider while the second arrives with its key."""
    at_provider = threading.Event()
    release = threading.Event()
    original = FakeGateway.capture

    def slow_capture(self, request):  # noqa: ANN001, ANN202
        at_provider.set()
        assert release.wait(10)
        return original(self, request)

    monkeypatch.setattr(FakeGateway, "capture", slow_capture)

    def post():  # noqa: ANN202
        try:
            return capture(admin_client, authorization, "k-race")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(post)
        assert at_provider.wait(10)
        second = pool.submit(post).result(timeout=10)
        release.set()
        first_response = first.result(timeout=10)

    assert first_response.status_code == 201
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "idempotency_key_in_use"
    assert fake_gateway.calls["capture"] == 1
    replay = capture(admin_client, authorization, "k-race")
    assert (replay.status_code, replay.json()) == (201, first_response.json())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent inserts need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_requests_with_one_key_claim_it_once(admin_client, authorization, fake_gateway):  # noqa: ANN001
    """Several threads start together; exactly one runs, the others are 409 or a replay of it."""
    barrier = threading.Barrier(4)

    def post():  # noqa: ANN202
        try:
            barrier.wait(10)
            return capture(admin_client, authorization, "k-burst")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = [f.result(timeout=30) for f in [pool.submit(post) for _ in range(4)]]

    assert sorted(r.status_code for r in responses).count(201) >= 1
    assert {r.status_code for r in responses} <= {201, 409}
    assert fake_gateway.calls["capture"] == 1
    assert PaymentTransaction.objects.filter(action=Action.CAPTURE).count() == 1


@pytest.mark.django_db
def test_a_key_left_in_progress_by_a_request_that_died_is_claimed_again(admin_client, authorization, fake_gateway):  # noqa: ANN001
    IdempotencyKey.objects.create(
        user=User.objects.get(username="admin"), key="k-dead", fingerprint="x", state=IdempotencyKey.State.IN_PROGRESS
    )
    assert capture(admin_client, authorization, "k-dead").status_code == 422  # another request's, still fresh

    IdempotencyKey.objects.filter(key="k-dead").update(created_at=timezone.now() - timedelta(minutes=11))

    assert capture(admin_client, authorization, "k-dead").status_code == 201
    assert fake_gateway.calls["capture"] == 1


@pytest.mark.django_db
def test_the_beat_task_purges_old_keys(admin_client, authorization):  # noqa: ANN001
    capture(admin_client, authorization, "k-purge")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))

    assert idempotency_keys_purge_task.delay().get() == 1
    assert not IdempotencyKey.objects.exists()
