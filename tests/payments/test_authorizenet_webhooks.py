"""Authorize.Net notifications through the generic webhook pipeline: X-ANET-Signature, duplicates, any order."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from integrations.models import Integration
from notifications.models import Notice
from orders.models import PaymentStatus
from payments import services
from payments.models import PaymentTransaction, State, WebhookEvent
from providers.authorizenet.adapter import AuthorizeNetAdapter, key_reference
from providers.base import FollowUpRequest, MethodInfo, Money
from sandbox.authorizenet import simulator as sandbox
from sandbox.services import sim_fault_add
from tests import factories
from tests.authorizenet_support import (
    ANET_SECRETS,
    ANET_SETTINGS,
    answer_lost,
    card,
    made_at_anet,
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
        ("release", "40.0000", "succeeded", True, False, reference),
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
        ("release", "70.0000", "succeeded", True, False, auth.provider_reference[:3]),
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
            ("release", "40.0000", "succeeded", True, False),
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


# --- a refund voided in the Merchant Interface before it settled: no money went back ---------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "timing",
    ["refund recorded before the void", "both notified after the void", "void notified first", "our own refund"],
)
def test_a_refund_voided_in_the_merchant_interface_gives_no_money_back(
    client, anet_charging, anet_sandbox, django_capture_on_commit_callbacks, timing
) -> None:
    """A refund can be voided in the Merchant Interface until it settles; then no money goes back to the buyer.

    The void's notification names the refund's own id, which no payment of ours carries, so it used to be
    stored and ignored: the ledger kept the refund as made ("Refunded partially", 30.00 less left to refund)
    while the buyer got nothing back. And a refund notification read after the void recorded the voided refund
    as money returned."""
    api = f"{anet_sandbox}/xml/v1/request.api"
    order = factories.OrderFactory()
    charge = authorize(anet_charging, order)
    sandbox.settle(charge.provider_reference)
    if timing == "our own refund":
        refund_id = services.payment_refund(
            source_id=charge.pk, amount=Money(Decimal("30.00"), "USD"), key="refund-own"
        ).provider_reference
    else:
        refund_id = merchant_interface(api, "refundTransaction", charge.provider_reference, "30.00")
    if timing == "refund recorded before the void":
        deliver(client, anet_charging, sandbox.events_for(refund_id), django_capture_on_commit_callbacks)
        order.refresh_from_db()
        assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    merchant_interface(api, "voidTransaction", refund_id)
    events = sandbox.events_for(refund_id)
    assert [e["eventType"] for e in events] == [
        "net.authorize.payment.refund.created",
        "net.authorize.payment.void.created",
    ]
    if timing == "void notified first":
        events = events[::-1]
    deliver(client, anet_charging, events * 2, django_capture_on_commit_callbacks)

    order.refresh_from_db()
    charge.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL
    assert not order.transactions.filter(action="refund", successful=True).exists()
    assert services.refundable_amount(charge) == Decimal("100.00")
    assert sandbox.sim_get("authorizenet", "transaction", charge.provider_reference).data["refunded"] == "0.00"
    voided = order.transactions.filter(action="refund").first()
    if timing in ("refund recorded before the void", "our own refund"):
        assert (voided.state, voided.error_code, voided.provider_reference) == (
            State.DECLINED,
            "refund_voided",
            refund_id,
        )
        assert Notice.objects.filter(order=order, key__startswith="refund-voided:").exists()
    else:  # never recorded as money returned
        assert voided is None
    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).count() == 0


# --- made in the Merchant Interface while our own answer was lost: applied once reconcile knows the payment ---------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("made", ["capture", "void"])
def test_what_the_merchant_interface_did_while_our_answer_was_lost_is_applied_once_reconcile_finds_the_payment(
    client, anet_integration, anet_sandbox, django_capture_on_commit_callbacks, monkeypatch, made
) -> None:
    """Our authorization's answer was lost, so the row knows no transaction id. Meanwhile staff captured (or
    voided) it in the Merchant Interface. Those notifications matched no payment and were ignored for good;
    reconcile then found the authorization by our invoice number and recorded it as a live hold of 100.00:
    "Payment authorized" while 60.00 had been taken (the hold would later "lapse" and leave the order payable
    again), or while nothing was held any more."""
    from payments import sweeps

    order = factories.OrderFactory()
    with answer_lost(monkeypatch, "authorize"):
        auth = authorize(anet_integration, order)
    assert (auth.state, auth.provider_reference) == (State.RESERVED, "")
    (made,) = made_at_anet("authOnlyTransaction")
    trans_id = made["transId"]
    if made == "capture":
        merchant_interface(f"{anet_sandbox}/xml/v1/request.api", "priorAuthCaptureTransaction", trans_id, "60.00")
    else:
        merchant_interface(f"{anet_sandbox}/xml/v1/request.api", "voidTransaction", trans_id)
    deliver(client, anet_integration, sandbox.events_for(trans_id), django_capture_on_commit_callbacks)
    assert not order.transactions.exclude(pk=auth.pk).exists()  # nothing to attach them to yet

    with django_capture_on_commit_callbacks(execute=True):
        done = sweeps.payment_reconcile(transaction_id=auth.pk)

    order.refresh_from_db()
    assert (done.state, done.provider_reference) == (State.SUCCEEDED, trans_id)
    if made == "capture":
        assert [row[:5] for row in ledger(order)] == [
            ("authorize", "100.0000", "succeeded", True, False),
            ("capture", "60.0000", "succeeded", True, False),
            ("release", "40.0000", "succeeded", True, False),
        ]
        assert order.payment_status == PaymentStatus.PARTIALLY
    else:
        assert [row[:5] for row in ledger(order)] == [
            ("authorize", "100.0000", "succeeded", True, False),
            ("cancel", "100.0000", "succeeded", True, False),
        ]
        assert order.payment_status == PaymentStatus.CANCELED
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}


@pytest.mark.django_db(transaction=True)
def test_two_open_refunds_of_the_same_amount_are_each_completed_by_their_own_notification(
    client, anet_charging, anet_sandbox, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """Two partial refunds of 10.00 are open at once (the first one's answer was lost). The second one's
    notification arrives before its answer; it was matched to "an open refund of the same amount", which is the
    first one, so both rows ended with the second refund's id, and the first refund's own notification then
    recorded it a third time: 30.00 refunded in the ledger for 20.00 given back. The refund's details carry our
    key (as its invoice number), which says which row it is."""
    from payments import sweeps

    order = factories.OrderFactory()
    charge = authorize(anet_charging, order)
    sandbox.settle(charge.provider_reference)
    with answer_lost(monkeypatch, "refund"):
        first = services.payment_refund(source_id=charge.pk, amount=Money(Decimal("10.00"), "USD"), key="refund-a")
    assert first.state == State.RESERVED
    register_webhooks(anet_charging)  # from here on notifications arrive, before each answer
    second = services.payment_refund(source_id=charge.pk, amount=Money(Decimal("10.00"), "USD"), key="refund-b")
    made = {t["invoiceNumber"]: t["transId"] for t in made_at_anet("refundTransaction", count=2)}
    first_id, second_id = made[key_reference("refund-a")], made[key_reference("refund-b")]
    deliver(client, anet_charging, sandbox.events_for(first_id), django_capture_on_commit_callbacks)
    sweeps.payment_reconcile(transaction_id=first.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.provider_reference) == (State.SUCCEEDED, first_id)
    assert (second.state, second.provider_reference) == (State.SUCCEEDED, second_id)
    assert order.transactions.filter(action="refund").count() == 2
    assert services.refundable_amount(charge) == Decimal("80.00")


@pytest.mark.django_db(transaction=True)
def test_a_refund_made_and_voided_while_our_charge_answer_was_lost_leaves_the_charge_whole(
    client, anet_charging, anet_sandbox, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """While our charge's answer was lost, a refund was made in the Merchant Interface and voided again. Both
    notifications were completed from the transaction details (they now name the charge) and ignored: the
    charge was unknown. Taken up again once reconcile records the charge, the void's notification was completed
    a second time, from the charge's details this time, and read as a void of the charge: a refund of all
    100.00 that never happened."""
    from payments import sweeps

    order = factories.OrderFactory()
    with answer_lost(monkeypatch, "charge"):
        charge = authorize(anet_charging, order)
    assert charge.state == State.RESERVED
    (made,) = made_at_anet("authCaptureTransaction")
    sandbox.settle(made["transId"])
    api = f"{anet_sandbox}/xml/v1/request.api"
    refund_id = merchant_interface(api, "refundTransaction", made["transId"], "30.00")
    merchant_interface(api, "voidTransaction", refund_id)
    deliver(client, anet_charging, sandbox.events_for(refund_id), django_capture_on_commit_callbacks)
    # the refund names the charge, which is not known yet: it waits; the void names only the refund
    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.WAITING).exists()

    with django_capture_on_commit_callbacks(execute=True):
        sweeps.payment_reconcile(transaction_id=charge.pk)

    order.refresh_from_db()
    assert [row[:5] for row in ledger(order)] == [("charge", "100.0000", "succeeded", True, False)]
    assert order.payment_status == PaymentStatus.FULL


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("delivery", ["orderly", "refund first"])
def test_a_capture_and_a_refund_made_in_the_merchant_interface_end_in_one_ledger_in_any_order(
    client, anet_integration, anet_sandbox, django_capture_on_commit_callbacks, delivery
) -> None:
    """Staff capture 60.00 of our authorization in the Merchant Interface and, after settlement, refund 20.00.
    Notifications can arrive (or be worked on) in any order: the refund processed before the capture found no
    capture to return money from, was marked processed with "ignored", and was never recorded; the buyer got
    20.00 back that the ledger does not show. The refund's payment says it was captured: that comes first."""
    order = factories.OrderFactory()
    auth = authorize(anet_integration, order)
    api = f"{anet_sandbox}/xml/v1/request.api"
    merchant_interface(api, "priorAuthCaptureTransaction", auth.provider_reference, "60.00")
    sandbox.settle(auth.provider_reference)
    refund_id = merchant_interface(api, "refundTransaction", auth.provider_reference, "20.00")
    (capture_event,) = [
        e for e in sandbox.events_for(auth.provider_reference) if e["eventType"].endswith("priorAuthCapture.created")
    ]
    (refund_event,) = sandbox.events_for(refund_id)
    events = [capture_event, refund_event] if delivery == "orderly" else [refund_event, capture_event]

    deliver(client, anet_integration, events, django_capture_on_commit_callbacks)

    order.refresh_from_db()
    assert [row[:5] for row in ledger(order)] == [
        ("authorize", "100.0000", "succeeded", True, False),
        ("capture", "60.0000", "succeeded", True, False),
        ("release", "40.0000", "succeeded", True, False),
        ("refund", "20.0000", "succeeded", True, False),
    ]
    assert order.transactions.get(action="refund").source.action == "capture"
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY


@pytest.mark.django_db(transaction=True)
def test_a_void_of_a_captured_authorization_notified_before_its_capture_gives_the_money_back(
    client, anet_integration, anet_sandbox, django_capture_on_commit_callbacks
) -> None:
    """Captured in the Merchant Interface and voided there before settlement: nothing was taken. Taken before the
    capture's notification, the void found no capture to undo and was dropped; the capture then recorded 60.00
    as taken."""
    order = factories.OrderFactory()
    auth = authorize(anet_integration, order)
    api = f"{anet_sandbox}/xml/v1/request.api"
    merchant_interface(api, "priorAuthCaptureTransaction", auth.provider_reference, "60.00")
    merchant_interface(api, "voidTransaction", auth.provider_reference)
    events = [e for e in sandbox.events_for(auth.provider_reference) if not e["eventType"].endswith("tion.created")]
    assert [e["eventType"] for e in events] == [
        "net.authorize.payment.priorAuthCapture.created",
        "net.authorize.payment.void.created",
    ]

    deliver(client, anet_integration, events[::-1], django_capture_on_commit_callbacks)

    order.refresh_from_db()
    assert [row[:5] for row in ledger(order)] == [
        ("authorize", "100.0000", "succeeded", True, False),
        ("capture", "60.0000", "succeeded", True, False),
        ("release", "40.0000", "succeeded", True, False),
        ("refund", "60.0000", "succeeded", True, False),
    ]
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY


@pytest.mark.django_db(transaction=True)
def test_a_void_in_the_merchant_interface_of_a_capture_whose_answer_was_lost_gives_its_money_back(
    client, anet_integration, anet_sandbox, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    from payments import sweeps

    order = factories.OrderFactory()
    auth = authorize(anet_integration, order)
    monkeypatch.setattr(AuthorizeNetAdapter, "read_timeout", 0.5)
    sim_fault_add(provider="authorizenet", kind="timeout", operation="capture", times=1, delay=1.5)
    capture = services.payment_capture(source_id=auth.pk, amount=Money(Decimal("60.00"), "USD"), key="capture-1")
    assert capture.state == State.RESERVED  # taken at Authorize.Net, the answer lost
    merchant_interface(f"{anet_sandbox}/xml/v1/request.api", "voidTransaction", auth.provider_reference)
    (void,) = [e for e in sandbox.events_for(auth.provider_reference) if e["eventType"].endswith("void.created")]
    deliver(client, anet_integration, [void], django_capture_on_commit_callbacks)
    sweeps.payment_reconcile(transaction_id=capture.pk)

    auth.refresh_from_db()
    order.refresh_from_db()
    # the capture was taken before the void (recorded from the notification), and the void gave it back
    assert [row[:5] for row in ledger(order)] == [
        ("authorize", "100.0000", "succeeded", True, False),
        ("capture", "60.0000", "succeeded", True, False),
        ("release", "40.0000", "succeeded", True, False),
        ("refund", "60.0000", "succeeded", True, False),
    ]
    assert (auth.active, services.capturable_amount(auth)) == (False, Decimal("0.00"))
