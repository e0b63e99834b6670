"""Authorize.Net notifications through the generic webhook pipeline: X-ANET-Signature, duplicates, any order."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from integrations.models import Integration
from orders.models import PaymentStatus
from payments import services
from payments.models import PaymentTransaction, State, WebhookEvent
from providers.authorizenet import sandbox
from providers.authorizenet.adapter import AuthorizeNetAdapter
from providers.base import FollowUpRequest, MethodInfo, Money
from sandbox.services import sim_fault_add
from tests import factories
from tests.authorizenet_support import (
    ANET_SECRETS,
    ANET_SETTINGS,
    card,
    merchant_interface,
    post_notification,
    register_webhooks,
)
from tests.sandbox_support import ledger


@pytest.fixture
def integration(db) -> Integration:  # noqa: ANN001
    return factories.IntegrationFactory(
        provider_key="authorizenet", name="Authorize.Net", settings=dict(ANET_SETTINGS), secrets=dict(ANET_SECRETS)
    )


def notification(event_type: str = "net.authorize.payment.authcapture.created", **payload) -> dict:  # noqa: ANN003
    return {
        "notificationId": str(uuid.uuid4()),
        "eventType": event_type,
        "eventDate": "2026-11-23T10:00:00.000Z",
        "webhookId": str(uuid.uuid4()),
        "payload": {
            "responseCode": 1,
            "authCode": "ABC123",
            "avsResponse": "Y",
            "authAmount": 45.0,
            "entityName": "transaction",
            "id": "60000000001",
            **payload,
        },
    }


# --- verification ----------------------------------------------------------------------------------------------


def test_a_valid_signature_is_accepted_and_stored_once(client, integration, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        reply = post_notification(client, integration, notification())
    assert reply.status_code == 200
    row = WebhookEvent.objects.get()
    assert (row.event_type, row.provider_reference, row.status) == (
        "net.authorize.payment.authcapture.created",
        "60000000001",
        WebhookEvent.Status.WAITING,  # no payment has this reference (yet)
    )
    assert row.event["movements"][0]["action"] == "charge"
    assert row.event["movements"][0]["amount"] == "45.00"


def test_a_lowercase_signature_is_accepted(client, integration) -> None:
    body = json.dumps(notification())
    header = sandbox.sign(body, ANET_SECRETS["signature_key"], 0)["X-ANET-Signature"]
    reply = client.post(
        f"/webhooks/{integration.uuid}/",
        data=body,
        content_type="application/json",
        HTTP_X_ANET_SIGNATURE=header.lower(),
    )
    assert reply.status_code == 200


def test_a_tampered_body_is_rejected_and_stored_nowhere(client, integration) -> None:
    body = json.dumps(notification())
    header = sandbox.sign(body, ANET_SECRETS["signature_key"], 0)["X-ANET-Signature"]
    reply = client.post(
        f"/webhooks/{integration.uuid}/",
        data=body.replace("45.0", "4500.0"),
        content_type="application/json",
        HTTP_X_ANET_SIGNATURE=header,
    )
    assert reply.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_a_wrong_signature_key_is_rejected_and_stored_nowhere(client, integration) -> None:
    reply = post_notification(client, integration, notification(), key="AB" * 64)
    assert reply.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_a_missing_signature_or_signature_key_is_rejected(client, integration) -> None:
    reply = client.post(f"/webhooks/{integration.uuid}/", data="{}", content_type="application/json")
    assert reply.status_code == 400
    integration.secrets = {"transaction_key": ANET_SECRETS["transaction_key"]}
    integration.save()
    body = json.dumps(notification())
    header = sandbox.sign(body, "", 0)["X-ANET-Signature"]  # signed with an empty key
    reply = client.post(
        f"/webhooks/{integration.uuid}/", data=body, content_type="application/json", HTTP_X_ANET_SIGNATURE=header
    )
    assert reply.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_the_same_notification_three_times_is_stored_and_processed_once(
    client, integration, django_capture_on_commit_callbacks
) -> None:
    event = notification()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        codes = [post_notification(client, integration, event).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    assert (WebhookEvent.objects.count(), len(callbacks)) == (1, 1)


# --- processing against the sandbox's real notifications -----------------------------------------------------------


def authorize(integration: Integration, order, key: str = "auth-1", **fields: str) -> PaymentTransaction:  # noqa: ANN001
    return services.payment_purchase(
        order_id=order.pk, method=f"authorizenet_{integration.pk}", key=key, payment_data=card(**fields)
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("delivery", ["orderly", "reversed", "three_times", "three_times_reversed"])
def test_a_capture_made_at_authorize_net_ends_in_the_same_ledger_in_any_order(
    client, anet_integration, anet_sandbox, django_capture_on_commit_callbacks, delivery
) -> None:
    order = factories.OrderFactory()
    auth = authorize(anet_integration, order)
    merchant_interface = AuthorizeNetAdapter(anet_integration.adapter_settings(), base_url=anet_sandbox)
    method = MethodInfo(identifier="x", integration_id=anet_integration.pk, provider_key="authorizenet")
    merchant_interface.capture(
        FollowUpRequest(Money(Decimal("60.00"), "USD"), "merchant-interface", auth.provider_reference, method)
    )
    events = sandbox.events_for(auth.provider_reference)
    assert [e["eventType"] for e in events] == [
        "net.authorize.payment.authorization.created",
        "net.authorize.payment.priorAuthCapture.created",
    ]
    ordered = {
        "orderly": events,
        "reversed": events[::-1],
        "three_times": [e for e in events for _ in range(3)],
        "three_times_reversed": events[::-1] * 3,
    }[delivery]
    with django_capture_on_commit_callbacks(execute=True):
        assert {post_notification(client, anet_integration, e).status_code for e in ordered} == {200}
    order.refresh_from_db()
    reference = auth.provider_reference[:3]
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, reference),
        ("capture", "60.0000", "succeeded", True, False, reference),
    ]
    assert order.payment_status == PaymentStatus.PARTIALLY
    assert WebhookEvent.objects.count() == 2
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}


@pytest.mark.django_db(transaction=True)
def test_notifications_for_our_own_capture_and_cancel_add_nothing(anet_integration) -> None:
    """The sandbox delivers each notification before it answers our call: the webhook completes our open row
    and our own step 3 finds it final."""
    register_webhooks(anet_integration)
    order = factories.OrderFactory()
    auth = authorize(anet_integration, order)
    capture = services.payment_capture(source_id=auth.pk, amount=Money(Decimal("30.00"), "USD"), key="capture-own")
    order.refresh_from_db()
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, auth.provider_reference[:3]),
        ("capture", "30.0000", "succeeded", True, False, auth.provider_reference[:3]),
    ]
    assert capture.state == State.SUCCEEDED
    events = WebhookEvent.objects.order_by("pk")
    assert [e.event_type for e in events] == [
        "net.authorize.payment.authorization.created",
        "net.authorize.payment.priorAuthCapture.created",
    ]
    # the authorization's notification overtook our call's answer: Authorize.Net does not echo our key, so the
    # row is not known by its transaction id yet and the notification waits; our step 3 records the row and lets
    # it apply, finding the authorization recorded (reconcile would find it by our key if that step never ran)
    assert list(events.values_list("status", flat=True)) == [
        WebhookEvent.Status.PROCESSED,
        WebhookEvent.Status.PROCESSED,
    ]
    assert "already recorded" in events.first().result

    other_order = factories.OrderFactory()
    other = authorize(anet_integration, other_order, key="auth-2")
    services.payment_cancel(source_id=other.pk, key="cancel-own")
    other_order.refresh_from_db()
    assert [row[:3] for row in ledger(other_order)] == [
        ("authorize", "100.0000", "succeeded"),
        ("cancel", "100.0000", "succeeded"),
    ]
    assert other_order.payment_status == PaymentStatus.CANCELED


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("decision", "state", "status"),
    [("approve", State.SUCCEEDED, PaymentStatus.AUTHORIZED), ("decline", State.DECLINED, PaymentStatus.DECLINED)],
)
def test_the_fraud_review_decision_arrives_by_webhook(anet_integration, decision, state, status) -> None:
    register_webhooks(anet_integration)
    order = factories.OrderFactory(subtotal=Decimal("253.00"))
    held = authorize(anet_integration, order, cardNumber="4222222222222")
    assert held.state == State.PROCESSING
    sandbox.review(held.provider_reference, decision)
    held.refresh_from_db()
    order.refresh_from_db()
    assert (held.state, order.payment_status) == (state, status)
    assert WebhookEvent.objects.filter(event_type=f"net.authorize.payment.fraud.{decision}d").count() == 1


# --- made in the Merchant Interface: the notification names the transaction, the details name the payment -----------


def deliver(client, integration: Integration, events: list[dict], capture) -> list[WebhookEvent]:  # noqa: ANN001
    with capture(execute=True):
        assert {post_notification(client, integration, e).status_code for e in events} == {200}
    return list(WebhookEvent.objects.order_by("pk"))


@pytest.mark.django_db(transaction=True)
def test_a_refund_made_in_the_merchant_interface_is_recorded_as_a_refund_of_its_payment(
    client, anet_charging, anet_sandbox, django_capture_on_commit_callbacks
) -> None:
    order = factories.OrderFactory()
    charge = authorize(anet_charging, order)
    sandbox.settle(charge.provider_reference)
    refund_id = merchant_interface(
        f"{anet_sandbox}/xml/v1/request.api", "refundTransaction", charge.provider_reference, "30.00"
    )
    (event,) = sandbox.events_for(refund_id)
    assert (event["eventType"], event["payload"]["id"]) == ("net.authorize.payment.refund.created", refund_id)
    (row,) = deliver(client, anet_charging, [event, event], django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert ledger(order) == [
        ("charge", "100.0000", "succeeded", True, False, charge.provider_reference[:3]),
        ("refund", "30.0000", "succeeded", True, False, refund_id[:3]),
    ]
    assert order.transactions.get(action="refund").provider_reference == refund_id
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    assert (row.status, row.provider_reference) == (WebhookEvent.Status.PROCESSED, charge.provider_reference)


@pytest.mark.django_db(transaction=True)
def test_a_void_of_a_charge_made_in_the_merchant_interface_gives_the_money_back(
    client, anet_charging, anet_sandbox, django_capture_on_commit_callbacks
) -> None:
    order = factories.OrderFactory()
    charge = authorize(anet_charging, order)
    merchant_interface(f"{anet_sandbox}/xml/v1/request.api", "voidTransaction", charge.provider_reference)
    events = sandbox.events_for(charge.provider_reference)
    assert [e["eventType"] for e in events] == [
        "net.authorize.payment.authcapture.created",
        "net.authorize.payment.void.created",
    ]
    deliver(client, anet_charging, events * 2, django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert [row[:5] for row in ledger(order)] == [
        ("charge", "100.0000", "succeeded", True, False),
        ("refund", "100.0000", "succeeded", True, False),
    ]
    assert order.payment_status == PaymentStatus.REFUNDED
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("captured", [False, True], ids=["authorization", "captured authorization"])
def test_a_void_of_an_authorization_made_in_the_merchant_interface_closes_it(
    client, anet_integration, anet_sandbox, django_capture_on_commit_callbacks, captured
) -> None:
    order = factories.OrderFactory()
    auth = authorize(anet_integration, order)
    if captured:
        services.payment_capture(source_id=auth.pk, amount=Money(Decimal("60.00"), "USD"), key="capture-1")
    merchant_interface(f"{anet_sandbox}/xml/v1/request.api", "voidTransaction", auth.provider_reference)
    (void,) = [e for e in sandbox.events_for(auth.provider_reference) if e["eventType"].endswith("void.created")]
    deliver(client, anet_integration, [void], django_capture_on_commit_callbacks)
    order.refresh_from_db()
    if captured:  # the capture never settles: its money goes back
        assert [row[:5] for row in ledger(order)] == [
            ("authorize", "100.0000", "succeeded", True, False),
            ("capture", "60.0000", "succeeded", True, False),
            ("refund", "60.0000", "succeeded", True, False),
        ]
        assert order.transactions.get(action="refund").source.action == "capture"
    else:
        assert [row[:5] for row in ledger(order)] == [
            ("authorize", "100.0000", "succeeded", True, False),
            ("cancel", "100.0000", "succeeded", True, False),
        ]
        assert order.payment_status == PaymentStatus.CANCELED


@pytest.mark.django_db(transaction=True)
def test_the_notification_of_our_own_refund_adds_nothing(anet_charging) -> None:
    register_webhooks(anet_charging)
    order = factories.OrderFactory()
    charge = authorize(anet_charging, order)
    sandbox.settle(charge.provider_reference)
    refund = services.payment_refund(source_id=charge.pk, amount=Money(Decimal("40.00"), "USD"), key="refund-own")
    order.refresh_from_db()
    assert [row[:5] for row in ledger(order)] == [
        ("charge", "100.0000", "succeeded", True, False),
        ("refund", "40.0000", "succeeded", True, False),
    ]
    row = WebhookEvent.objects.get(event_type="net.authorize.payment.refund.created")
    assert (row.status, row.provider_reference) == (WebhookEvent.Status.PROCESSED, charge.provider_reference)
    assert refund.provider_reference == row.event["movements"][0]["provider_reference"]


@pytest.mark.django_db(transaction=True)
def test_after_a_failed_void_of_a_refused_card_the_later_void_notification_is_applied(
    client, anet_integration, anet_sandbox, django_capture_on_commit_callbacks
) -> None:
    anet_integration.settings = {**anet_integration.settings, "allowed_card_types": ["visa"]}
    anet_integration.save()
    order = factories.OrderFactory()
    sim_fault_add(provider="authorizenet", kind="error_503", operation="void", times=1)
    open_row = authorize(anet_integration, order, cardNumber="5424000000000015")
    assert (open_row.state, open_row.error_code) == (State.RESERVED, "void_failed")
    merchant_interface(f"{anet_sandbox}/xml/v1/request.api", "voidTransaction", open_row.provider_reference)
    (void,) = [e for e in sandbox.events_for(open_row.provider_reference) if e["eventType"].endswith("void.created")]
    (row,) = deliver(client, anet_integration, [void], django_capture_on_commit_callbacks)
    open_row.refresh_from_db()
    order.refresh_from_db()
    assert (row.status, open_row.state, open_row.successful, order.payment_status) == (
        WebhookEvent.Status.PROCESSED,
        State.DECLINED,
        False,
        PaymentStatus.DECLINED,
    )
    assert "canceled before it completed" in row.result


def test_a_signed_notification_that_cannot_be_read_is_kept_for_staff_and_answered_200(client, integration) -> None:
    """A signed notification whose payload is not an object (a shape we do not know) answered 500 and was stored
    nowhere; it is kept, failed, for staff, and Authorize.Net gets its 200."""
    event = notification()
    event["payload"] = ["60000000001"]
    client.raise_request_exception = False

    assert post_notification(client, integration, event).status_code == 200

    row = WebhookEvent.objects.get()
    assert (row.provider_event_id, row.status) == (event["notificationId"], WebhookEvent.Status.FAILED)
    assert row.event["unreadable"]["payload"] == ["60000000001"]
    assert not PaymentTransaction.objects.exists()
