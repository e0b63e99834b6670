"""The webhook pipeline: verify, store once, process through the ledger; duplicates and any order are harmless."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal

import pytest

from integrations.models import Integration
from notifications.models import Notice
from orders.models import PaymentStatus
from payments import services
from payments.models import PaymentTransaction, WebhookEvent
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
        "api_version": "2026-06-24.dahlia",
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
    assert (row.status, row.attempts) == (WebhookEvent.Status.IGNORED, 1)
    assert "No payment of this integration has reference pi_unknown" in row.result


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
    event = pi_event()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        codes = [post_event(client, integration, event).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    assert (WebhookEvent.objects.count(), len(callbacks)) == (1, 1)
    assert WebhookEvent.objects.get().attempts == 1


def test_webhook_url_is_the_site_url_plus_the_integration_path(integration, settings) -> None:
    settings.SITE_URL = "https://shop.example.com"
    assert integration.get_webhook_url() == f"https://shop.example.com/webhooks/{integration.uuid}/"


def test_processing_a_row_again_changes_nothing(client, integration, django_capture_on_commit_callbacks) -> None:
    from payments.webhook_services import webhook_event_process

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, integration, pi_event())
    row = WebhookEvent.objects.get()
    assert webhook_event_process(webhook_event_id=row.pk).attempts == 1
    assert webhook_event_process(webhook_event_id=10**9) is None  # a message for a row that is gone


# --- processing against the sandbox's real events ---------------------------------------------------------------


def authorize(integration: Integration, order, key: str = "auth-1", pm: str = "pm_card_visa") -> PaymentTransaction:  # noqa: ANN001
    return services.payment_purchase(
        order_id=order.pk, method=f"stripe_{integration.pk}", key=key, payment_data={"payment_method": pm}
    )


DASHBOARD_LEDGER = [
    ("authorize", "100.0000", "succeeded", True, False, "pi_"),
    ("capture", "60.0000", "succeeded", True, False, "ch_"),
    ("refund", "20.0000", "succeeded", True, False, "re_"),
    ("refund", "40.0000", "succeeded", True, False, "re_"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("delivery", ["orderly", "reversed", "three_times", "three_times_reversed"])
def test_dashboard_capture_and_refunds_end_in_the_same_ledger_in_any_order(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks, delivery
) -> None:
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order)
    stripe = dashboard(stripe_sandbox)  # capture and refunds made in Stripe's dashboard, not in our ledger
    stripe.v1.payment_intents.capture(auth.provider_reference, params={"amount_to_capture": 6000})
    stripe.v1.refunds.create(params={"payment_intent": auth.provider_reference, "amount": 2000})
    stripe.v1.refunds.create(params={"payment_intent": auth.provider_reference, "amount": 4000})
    events = sandbox_events(auth.provider_reference)
    assert [e["type"] for e in events] == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "charge.refunded",
        "charge.refunded",
    ]
    ordered = {
        "orderly": events,
        "reversed": events[::-1],
        "three_times": [e for e in events for _ in range(3)],
        "three_times_reversed": events[::-1] * 3,
    }[delivery]

    with django_capture_on_commit_callbacks(execute=True):
        assert set(deliver_all(client, stripe_integration, ordered)) == {200}

    order.refresh_from_db()
    assert ledger(order) == DASHBOARD_LEDGER
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    assert WebhookEvent.objects.count() == 4
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
    made_outside = PaymentTransaction.objects.filter(idempotency_key__startswith="webhook:").count()
    assert made_outside == 3


@pytest.mark.django_db(transaction=True)
def test_a_dashboard_cancel_is_recorded(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks
) -> None:
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order)
    dashboard(stripe_sandbox).v1.payment_intents.cancel(
        auth.provider_reference, params={"cancellation_reason": "fraudulent"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(client, stripe_integration, sandbox_events(auth.provider_reference)[::-1])
    order.refresh_from_db()
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, "pi_"),
        ("cancel", "100.0000", "succeeded", True, False, "pi_"),
    ]
    assert order.payment_status == PaymentStatus.CANCELED


@pytest.mark.django_db(transaction=True)
def test_events_for_our_own_capture_and_refund_add_nothing_even_when_they_arrive_first(
    stripe_integration, stripe_sandbox
) -> None:
    """The sandbox delivers each event before it answers our call, so the webhook completes our open row and
    our own step 3 then finds it final: one capture, one refund, nothing twice."""
    register_webhooks(stripe_integration)
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order, key="auth-own")
    capture = services.payment_capture(source_id=auth.pk, amount=usd("30.00"), key="capture-own")
    refund = services.payment_refund(source_id=capture.pk, amount=usd("10.00"), key="refund-own", reason="duplicate")

    order.refresh_from_db()
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, "pi_"),
        ("capture", "30.0000", "succeeded", True, False, "ch_"),
        ("refund", "10.0000", "succeeded", True, False, "re_"),
    ]
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    events = WebhookEvent.objects.order_by("pk")
    assert [e.event_type for e in events] == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "charge.refunded",
    ]
    assert set(events.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
    capture_event = events.get(event_type="payment_intent.succeeded")
    assert "Capture 30.00 USD completed." in capture_event.result  # the webhook got there before our step 3
    assert (capture.state, refund.state, refund.reason) == ("succeeded", "succeeded", "duplicate")


@pytest.mark.django_db(transaction=True)
def test_3d_secure_completion_by_webhook_then_the_return_page_changes_nothing(
    stripe_integration, stripe_sandbox
) -> None:
    import requests

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
    import requests

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


def usd(amount: str):  # noqa: ANN201
    from providers.base import Money

    return Money(Decimal(amount), "USD")


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
