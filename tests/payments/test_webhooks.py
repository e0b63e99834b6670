"""The webhook pipeline: verify, store once, process through the ledger; duplicates and any order are harmless.

The Stripe sandbox renders each event in the API version of the endpoint that receives it, so the processing tests
run for endpoints of a version before 2022-11-15 (charges and refunds listed inline), of 2024 before and after
2024-10-28 (no lists; `refund.created` for card refunds only from then), and of the version the adapter pins.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from integrations.models import Integration
from notifications.models import Notice
from orders.models import PaymentStatus
from payments import services
from payments.models import PaymentTransaction, WebhookEvent
from payments.sweeps import payment_reconcile
from payments.webhook_services import webhook_event_process, webhook_events_waiting_sweep
from providers.base import Money
from providers.stripe.adapter import API_VERSION, StripeAdapter
from sandbox.services import sim_fault_add
from sandbox.stripe.simulator import redeliver
from tests import factories
from tests.sandbox_support import (
    dashboard,
    deliver_all,
    ledger,
    post_event,
    register_webhooks,
    sandbox_events,
    signed_headers,
)

SECRETS = {"secret_key": "sk_test_paydeskwebhooks", "webhook_secret": "whsec_paydeskwebhooks"}
#: endpoint versions the processing tests run for: before 2022-11-15, 2024 before and after 2024-10-28, pinned
VERSIONS = ["2022-08-01", "2024-06-20", "2024-12-18.acacia", API_VERSION]


@pytest.fixture
def integration(db) -> Integration:  # noqa: ANN001
    return factories.IntegrationFactory(
        provider_key="stripe", name="Stripe", settings={"public_key": "pk_test_x"}, secrets=dict(SECRETS)
    )


def pi_event(type_: str = "payment_intent.succeeded", **fields) -> dict:  # noqa: ANN003
    pi = {
        "id": "pi_unknown",
        "object": "payment_intent",
        "amount": 5000,
        "amount_capturable": 0,
        "amount_received": 5000,
        "capture_method": "automatic",
        "currency": "usd",
        "status": "succeeded",
        "latest_charge": "ch_1",
        **fields,
    }
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": pi},
        "livemode": False,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


# --- verification ----------------------------------------------------------------------------------------------


def test_a_valid_signature_is_accepted_and_stored_once(client, integration, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        reply = post_event(client, integration, pi_event())
    assert reply.status_code == 200
    row = WebhookEvent.objects.get()
    assert (row.integration, row.event_type, row.provider_reference) == (
        integration,
        "payment_intent.succeeded",
        "pi_unknown",
    )
    assert (row.status, row.attempts) == (WebhookEvent.Status.WAITING, 1)
    assert "No payment of this integration has reference pi_unknown yet" in row.result


def test_a_tampered_body_is_rejected_and_stored_nowhere(client, integration) -> None:
    body = json.dumps(pi_event())
    headers = signed_headers(body, SECRETS["webhook_secret"])
    reply = client.post(
        f"/webhooks/{integration.uuid}/", data=body.replace("5000", "9000"), content_type="application/json", **headers
    )
    assert reply.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_a_wrong_secret_is_rejected_and_stored_nowhere(client, integration) -> None:
    reply = post_event(client, integration, pi_event(), secret="whsec_someone_else")
    assert reply.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_a_timestamp_older_than_five_minutes_is_rejected(client, integration) -> None:
    reply = post_event(client, integration, pi_event(), timestamp=int(time.time()) - 301)
    assert reply.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert post_event(client, integration, pi_event(), timestamp=int(time.time()) - 240).status_code == 200


def test_a_missing_signature_or_secret_is_rejected(client, integration) -> None:
    reply = client.post(f"/webhooks/{integration.uuid}/", data="{}", content_type="application/json")
    assert reply.status_code == 400
    integration.secrets = {"secret_key": SECRETS["secret_key"]}
    integration.save()
    assert post_event(client, integration, pi_event(), secret=SECRETS["webhook_secret"]).status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_an_unknown_integration_is_404_and_get_is_not_allowed(client, integration) -> None:
    assert client.post(f"/webhooks/{uuid.uuid4()}/", data="{}", content_type="application/json").status_code == 404
    assert client.get(f"/webhooks/{integration.uuid}/").status_code == 405


def test_the_same_event_three_times_is_stored_and_processed_once(
    client, integration, django_capture_on_commit_callbacks
) -> None:
    event = pi_event("payment_intent.processing")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        codes = [post_event(client, integration, event).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    assert (WebhookEvent.objects.count(), len(callbacks)) == (1, 1)
    assert WebhookEvent.objects.get().attempts == 1


def test_webhook_url_is_the_site_url_plus_the_integration_path(integration, settings) -> None:
    settings.SITE_URL = "https://shop.example.com"
    assert integration.get_webhook_url() == f"https://shop.example.com/webhooks/{integration.uuid}/"


def test_processing_a_finished_row_again_changes_nothing(
    client, integration, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, integration, pi_event("payment_intent.processing"))
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.IGNORED
    assert webhook_event_process(webhook_event_id=row.pk).attempts == 1
    assert webhook_event_process(webhook_event_id=10**9) is None  # a message for a row that is gone


# --- malformed but signed events: 400 or stored as failed, never 500 ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda e: e.update(data="not an object"), "data.object is not an object"),
        (lambda e: e.update(data={"object": ["a", "list"]}), "data.object is not an object"),
        (lambda e: e["data"]["object"].update(amount="50.00"), "amount is not an integer"),
        (lambda e: e["data"]["object"].update(amount_received=12.5), "amount_received is not an integer"),
        (lambda e: e["data"]["object"].update(currency=None), "currency is not a currency code"),
        (lambda e: e["data"]["object"].update(id=7), "object has no id"),
    ],
    ids=["data-a-string", "object-a-list", "amount-a-string", "amount-a-float", "no-currency", "id-a-number"],
)
def test_a_signed_event_with_an_unreadable_object_is_stored_as_failed(
    client, integration, django_capture_on_commit_callbacks, change, problem
) -> None:
    event = pi_event()
    change(event)
    with django_capture_on_commit_callbacks(execute=True):
        reply = post_event(client, integration, event)
    assert reply.status_code == 200
    row = WebhookEvent.objects.get()
    assert (row.provider_event_id, row.status) == (event["id"], WebhookEvent.Status.FAILED)
    assert problem in row.result
    assert PaymentTransaction.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    ['["a list"]', '{"object": "event"}', '{"id": 42, "object": "event"}', "not json at all", '{"id": "x"}'],
    ids=["a-list", "no-id", "id-a-number", "not-json", "not-an-event"],
)
def test_a_signed_body_that_is_no_event_is_refused_with_400(client, integration, body) -> None:
    reply = post_event(client, integration, body)
    assert reply.status_code == 400
    assert WebhookEvent.objects.count() == 0


# --- processing against the sandbox's real events, per endpoint version ------------------------------------------


def authorize(integration: Integration, order, key: str = "auth-1", pm: str = "pm_card_visa") -> PaymentTransaction:  # noqa: ANN001
    return services.payment_purchase(
        order_id=order.pk, method=f"stripe_{integration.pk}", key=key, payment_data={"payment_method": pm}
    )


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


DASHBOARD_LEDGER = [
    ("authorize", "100.0000", "succeeded", True, False, "pi_"),
    ("capture", "60.0000", "succeeded", True, False, "ch_"),
    ("release", "40.0000", "succeeded", True, False, "pi_"),  # what Stripe let go with the partial capture
    ("refund", "20.0000", "succeeded", True, False, "re_"),
    ("refund", "40.0000", "succeeded", True, False, "re_"),
]
#: what an endpoint of each version receives for: authorization, a capture of 60.00 of 100.00 (40.00 released),
#: then refunds of 20.00 and 40.00, all made in Stripe's dashboard
DASHBOARD_EVENTS = {
    "2022-08-01": ["charge.refunded"] * 3,
    "2024-06-20": ["charge.refunded"] * 3,
    "2024-12-18.acacia": ["charge.refunded", "refund.created"] * 3,
    API_VERSION: ["charge.refunded", "refund.created"] * 2,
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("delivery", ["orderly", "reversed", "three_times_reversed"])
def test_dashboard_capture_and_refunds_end_in_the_same_ledger_in_any_order_and_version(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks, delivery, version
) -> None:
    """The partial capture's released 40.00 is no refund, though versions before 2025-03-31 show it as one (and
    the dashboard's refund of 40.00 has the same amount); refunds are found whether events list them or not."""
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order)
    stripe = dashboard(stripe_sandbox)  # capture and refunds made in Stripe's dashboard, not in our ledger
    stripe.v1.payment_intents.capture(auth.provider_reference, params={"amount_to_capture": 6000})
    stripe.v1.refunds.create(params={"payment_intent": auth.provider_reference, "amount": 2000})
    stripe.v1.refunds.create(params={"payment_intent": auth.provider_reference, "amount": 4000})
    events = sandbox_events(auth.provider_reference, api_version=version)
    assert [e["type"] for e in events] == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        *DASHBOARD_EVENTS[version],
    ]
    assert {e["api_version"] for e in events} == {version}
    ordered = {
        "orderly": events,
        "reversed": events[::-1],
        "three_times_reversed": events[::-1] * 3,
    }[delivery]

    with django_capture_on_commit_callbacks(execute=True):
        assert set(deliver_all(client, stripe_integration, ordered)) == {200}

    order.refresh_from_db()
    assert ledger(order) == DASHBOARD_LEDGER
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    assert WebhookEvent.objects.count() == len(events)
    assert not WebhookEvent.objects.exclude(status__in=["processed", "ignored"]).exists()
    made_outside = PaymentTransaction.objects.filter(idempotency_key__startswith="webhook:").count()
    assert made_outside == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version", VERSIONS)
def test_a_dashboard_cancel_is_recorded_and_its_release_is_no_refund(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks, version
) -> None:
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order)
    dashboard(stripe_sandbox).v1.payment_intents.cancel(
        auth.provider_reference, params={"cancellation_reason": "fraudulent"}
    )
    events = sandbox_events(auth.provider_reference, api_version=version)
    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(client, stripe_integration, events[::-1])
    order.refresh_from_db()
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, "pi_"),
        ("cancel", "100.0000", "succeeded", True, False, "pi_"),
    ]
    assert order.payment_status == PaymentStatus.CANCELED


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version", VERSIONS)
def test_our_partial_capture_and_refund_add_nothing_even_when_their_events_arrive_first(
    stripe_integration, stripe_sandbox, version
) -> None:
    """The sandbox delivers each event before it answers our call, so the webhook completes our open row and
    our own step 3 then finds it final: one capture, one refund, nothing twice, and the 70.00 the capture
    released is not "a refund made outside Paydesk" on any endpoint version."""
    register_webhooks(stripe_integration, api_version=version)
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order, key="auth-own")
    capture = services.payment_capture(source_id=auth.pk, amount=usd("30.00"), key="capture-own")
    refund = services.payment_refund(source_id=capture.pk, amount=usd("10.00"), key="refund-own", reason="duplicate")

    order.refresh_from_db()
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, "pi_"),
        ("capture", "30.0000", "succeeded", True, False, "ch_"),
        ("release", "70.0000", "succeeded", True, False, "pi_"),
        ("refund", "10.0000", "succeeded", True, False, "re_"),
    ]
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    events = WebhookEvent.objects.order_by("pk")
    assert [e.event_type for e in events] == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        *{
            "2022-08-01": ["charge.refunded", "charge.refunded"],
            "2024-06-20": ["charge.refunded", "charge.refunded"],
            "2024-12-18.acacia": ["charge.refunded", "refund.created", "charge.refunded", "refund.created"],
            API_VERSION: ["charge.refunded", "refund.created"],
        }[version],
    ]
    assert not events.exclude(status__in=["processed", "ignored"]).exists()
    capture_event = events.get(event_type="payment_intent.succeeded")
    assert "Capture 30.00 USD completed." in capture_event.result  # the webhook got there before our step 3
    assert (capture.state, refund.state, refund.reason) == ("succeeded", "succeeded", "duplicate")
    assert not PaymentTransaction.objects.filter(idempotency_key__startswith="webhook:").exists()


@pytest.mark.django_db(transaction=True)
def test_3d_secure_completion_by_webhook_then_the_return_page_changes_nothing(
    stripe_integration, stripe_sandbox
) -> None:
    register_webhooks(stripe_integration)
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order, key="auth-3ds", pm="pm_card_threeDSecure2Required")
    assert auth.state == "action_required"
    requests.post(
        auth.response["next_action"]["redirect_url"], data={"outcome": "complete"}, allow_redirects=False, timeout=10
    )
    auth.refresh_from_db()
    assert (auth.state, auth.successful) == ("succeeded", True)  # the webhook completed it
    again = services.payment_complete(transaction_id=auth.pk)  # the buyer's return page
    assert again.updated_at == auth.updated_at
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED


@pytest.mark.django_db(transaction=True)
def test_a_failed_3d_secure_event_declines_the_waiting_row(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks
) -> None:
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order, key="auth-3ds-fail", pm="pm_card_authenticationRequired")
    requests.post(
        auth.response["next_action"]["redirect_url"], data={"outcome": "fail"}, allow_redirects=False, timeout=10
    )
    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(client, stripe_integration, sandbox_events(auth.provider_reference))
    auth.refresh_from_db()
    assert (auth.state, auth.error_code) == ("declined", "authentication_failed")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.DECLINED


# --- events that arrive before we know the payment's reference ------------------------------------------------------


def lost_reply_authorization(
    integration: Integration,
    order,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
    key: str = "auth-lost",
) -> PaymentTransaction:
    """An authorization Stripe made whose answer never reached us: the row is open and has no reference."""
    monkeypatch.setattr(StripeAdapter, "read_timeout", 0.5)
    sim_fault_add(provider="stripe", kind="timeout", operation="create", times=2, delay=1.5)
    txn = authorize(integration, order, key=key)
    assert (txn.state, txn.provider_reference) == ("reserved", "")
    monkeypatch.setattr(StripeAdapter, "read_timeout", 30.0)
    return txn


def stripe_reference_of(key: str) -> str:
    """The PaymentIntent Stripe made for our request key (what the dashboard shows)."""
    from sandbox.models import SimObject

    found = [o for o in SimObject.objects.filter(provider="stripe", kind="payment_intent")]
    return next(o.object_id for o in found if o.data["metadata"].get("paydesk_key") == key)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version", VERSIONS)
def test_events_before_the_reference_is_known_are_matched_by_our_key_or_wait_for_it(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks, monkeypatch, version
) -> None:
    """Our answer to the authorization was lost; Stripe's dashboard captured 70.00 and refunded 25.00. Every
    event, in the worst order, ends in the ledger Stripe has, before reconcile has even run."""
    order = factories.OrderFactory()
    auth = lost_reply_authorization(stripe_integration, order, monkeypatch)
    reference = stripe_reference_of("auth-lost")
    stripe = dashboard(stripe_sandbox)
    stripe.v1.payment_intents.capture(reference, params={"amount_to_capture": 7000})
    stripe.v1.refunds.create(params={"payment_intent": reference, "amount": 2500})
    events = sandbox_events(reference, api_version=version)
    refunds_first = [e for e in events if not e["type"].startswith("payment_intent")][::-1] + [
        e for e in events if e["type"].startswith("payment_intent")
    ][::-1]

    with django_capture_on_commit_callbacks(execute=True):
        assert set(deliver_all(client, stripe_integration, refunds_first)) == {200}

    order.refresh_from_db()
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, "pi_"),
        ("capture", "70.0000", "succeeded", True, False, "ch_"),
        ("release", "30.0000", "succeeded", True, False, "pi_"),
        ("refund", "25.0000", "succeeded", True, False, "re_"),
    ]
    auth.refresh_from_db()
    assert auth.provider_reference == reference
    assert not WebhookEvent.objects.exclude(status__in=["processed", "ignored"]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_waiting_event_is_applied_once_reconcile_finds_the_payment(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    order = factories.OrderFactory()
    auth = lost_reply_authorization(stripe_integration, order, monkeypatch)
    reference = stripe_reference_of("auth-lost")
    dashboard(stripe_sandbox).v1.payment_intents.capture(reference, params={"amount_to_capture": 7000})
    dashboard(stripe_sandbox).v1.refunds.create(params={"payment_intent": reference, "amount": 2500})
    refund_created = [e for e in sandbox_events(reference) if e["type"] == "refund.created"]
    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(client, stripe_integration, refund_created)
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.WAITING  # a refund names only the PaymentIntent, still unknown

    PaymentTransaction.objects.filter(pk=auth.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    with django_capture_on_commit_callbacks(execute=True):
        payment_reconcile(transaction_id=auth.pk)  # finds the PaymentIntent by our key, then releases the event

    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.PROCESSED
    order.refresh_from_db()
    assert [r[:3] for r in ledger(order)] == [
        ("authorize", "100.0000", "succeeded"),
        ("capture", "70.0000", "succeeded"),
        ("release", "30.0000", "succeeded"),
        ("refund", "25.0000", "succeeded"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_waiting_event_is_processed_again_not_dropped_as_a_duplicate(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    order = factories.OrderFactory()
    auth = lost_reply_authorization(stripe_integration, order, monkeypatch)
    reference = stripe_reference_of("auth-lost")
    dashboard(stripe_sandbox).v1.payment_intents.capture(reference, params={"amount_to_capture": 7000})
    dashboard(stripe_sandbox).v1.refunds.create(params={"payment_intent": reference, "amount": 2500})
    register_webhooks(stripe_integration)
    refund_created = next(e for e in sandbox_events(reference) if e["type"] == "refund.created")
    with django_capture_on_commit_callbacks(execute=True):
        redeliver(refund_created["id"])  # Stripe sends it: the payment is not known yet
    row = WebhookEvent.objects.get()
    assert row.status == WebhookEvent.Status.WAITING
    # the payment becomes known by a path that lets no waiting event apply (the release and sweep are missed)
    PaymentTransaction.objects.filter(pk=auth.pk).update(provider_reference=reference)
    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.WAITING

    with django_capture_on_commit_callbacks(execute=True):
        redeliver(refund_created["id"])  # Stripe sends it again: processed now, not dropped as a duplicate

    row.refresh_from_db()
    assert (row.status, row.attempts) == (WebhookEvent.Status.PROCESSED, 2)
    assert WebhookEvent.objects.count() == 1
    order.refresh_from_db()
    assert [r[:3] for r in ledger(order)] == [
        ("authorize", "100.0000", "succeeded"),
        ("capture", "70.0000", "succeeded"),
        ("release", "30.0000", "succeeded"),
        ("refund", "25.0000", "succeeded"),
    ]


@pytest.mark.django_db
def test_the_sweep_applies_waiting_events_whose_payment_is_known_and_gives_up_after_three_days(
    client, integration, django_capture_on_commit_callbacks
) -> None:
    order = factories.OrderFactory()
    payment = PaymentTransaction.objects.create(
        order=order,
        integration=integration,
        payment_method=f"stripe_{integration.pk}",
        action="authorize",
        amount=Decimal("50.00"),
        currency="USD",
        idempotency_key="auth-swept",
        active=True,
    )
    known = pi_event("payment_intent.amount_capturable_updated", id="pi_later", status="requires_capture")
    known["data"]["object"].update(capture_method="manual", amount_capturable=5000, amount_received=0)
    stale = pi_event(id="pi_never")
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, integration, known)
        post_event(client, integration, stale)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.WAITING}
    WebhookEvent.objects.filter(provider_reference="pi_never").update(received_at=timezone.now() - timedelta(days=4))
    PaymentTransaction.objects.filter(pk=payment.pk).update(provider_reference="pi_later")

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_events_waiting_sweep() == (1, 1)

    assert dict(WebhookEvent.objects.values_list("provider_reference", "status")) == {
        "pi_later": WebhookEvent.Status.PROCESSED,
        "pi_never": WebhookEvent.Status.IGNORED,
    }
    payment.refresh_from_db()
    assert (payment.state, payment.successful) == ("succeeded", True)


def test_admin_lists_an_integrations_webhook_events_with_their_result(
    client, integration, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, integration, pi_event())
    client.force_login(factories.UserFactory(superuser=True))
    page = client.get(f"/admin/payments/webhookevent/?integration__id__exact={integration.pk}")
    assert page.status_code == 200
    text = page.content.decode()
    assert "payment_intent.succeeded" in text
    assert "No payment of this integration has reference pi_unknown" in text
    assert client.get("/admin/payments/webhookevent/add/").status_code == 403


# --- signed, but not what we can read -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda e: e["data"]["object"].update(amount_received="50.00"), id="amount-as-text"),
        pytest.param(lambda e: e["data"].update(object="pi_unknown"), id="object-as-an-id"),
        pytest.param(lambda e: e.update(data=["pi_unknown"]), id="data-as-a-list"),
    ],
)
def test_a_signed_event_that_cannot_be_read_is_kept_for_staff_and_answered_200(
    client, integration, django_capture_on_commit_callbacks, damage
) -> None:  # noqa: ANN001
    """An event whose signature verifies but whose content does not read as its type (a shape we do not know).

    Defect: reading it raised, so the endpoint answered 500, stored nothing and logged a traceback; the provider
    sent it again for days (Stripe then disables the endpoint), and nobody saw what it said. It is stored, marked
    failed with what could not be read, staff are told, and the provider gets its 200; nothing else changes."""
    event = pi_event()
    damage(event)
    client.raise_request_exception = False

    with django_capture_on_commit_callbacks(execute=True):
        replies = [post_event(client, integration, event).status_code for _ in range(2)]  # and its redelivery

    assert replies == [200, 200]
    row = WebhookEvent.objects.get()
    assert (row.provider_event_id, row.event_type, row.status) == (
        event["id"],
        "payment_intent.succeeded",
        WebhookEvent.Status.FAILED,
    )
    assert row.result.startswith("The event's signature verified, but its content could not be read")
    assert row.event["unreadable"]["id"] == event["id"]
    notice = Notice.objects.get(key=f"webhook-unreadable:{row.pk}")
    assert (notice.level, integration.name in notice.message) == (Notice.Level.ERROR, True)
    assert not PaymentTransaction.objects.exists()


def test_an_event_of_an_endpoint_on_an_older_api_version_is_read(
    client, integration, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    """Endpoints made before Stripe's API version 2017-05-25 send `request` as the request's id, a string, not an
    object with the idempotency key. Such an event is read (it names no key), not refused with a 500."""
    order = factories.OrderFactory()
    txn = PaymentTransaction.objects.create(
        order=order,
        integration=integration,
        payment_method=f"stripe_{integration.pk}",
        action="charge",
        amount=Decimal("50.00"),
        currency="USD",
        provider_reference="pi_old_version",
        idempotency_key="charge-old-version",
        state="reserved",
        active=True,
    )
    event = pi_event(id="pi_old_version")
    event["request"] = "req_8mOwaaYSNFpnKd"
    client.raise_request_exception = False

    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, integration, event).status_code == 200

    txn.refresh_from_db()
    assert (txn.state, txn.successful) == ("succeeded", True)
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
