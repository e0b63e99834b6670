"""The Stripe sandbox refuses and reports what live Stripe does, where an attack on the integration found it did
not (docs.stripe.com: "Save and reuse payment methods", "Refunds: failed refunds", testing cards)."""

from __future__ import annotations

import pytest

from sandbox.stripe import simulator as sandbox
from tests.sandbox.test_stripe import AUTH, intent, post, tokenized

pytestmark = pytest.mark.django_db


def customer(client, name: str) -> str:  # noqa: ANN001
    return post(client, "/v1/customers", {"name": name}).json()["id"]


def test_a_payment_method_attached_to_a_customer_is_that_customers_only(client) -> None:
    owner, stranger = customer(client, "A"), customer(client, "B")
    pm = tokenized(client)
    assert intent(client, payment_method=pm, customer=owner, setup_future_usage="off_session").status_code == 200

    other = intent(client, payment_method=pm, customer=stranger)
    assert (other.status_code, other.json()["error"]["param"]) == (400, "payment_method")
    assert "The customer does not have a payment method with the ID" in other.json()["error"]["message"]
    nobody = intent(client, payment_method=pm)
    assert (nobody.status_code, nobody.json()["error"]["param"]) == (400, "customer")
    assert intent(client, payment_method=pm, customer=owner).json()["status"] == "succeeded"


def test_a_refund_of_the_refund_failure_card_answers_succeeded_then_fails_and_counts_no_more(client) -> None:
    pi = intent(client, payment_method="pm_card_refundFail").json()
    assert pi["status"] == "succeeded"
    refund = post(client, "/v1/refunds", {"payment_intent": pi["id"], "amount": "2000"}).json()
    assert refund["status"] == "succeeded"  # what the answer says

    later = client.get(f"/sandbox/stripe/v1/refunds/{refund['id']}", **AUTH).json()
    assert (later["status"], later["failure_reason"]) == ("failed", "expired_or_canceled_card")
    charge = client.get(f"/sandbox/stripe/v1/charges/{pi['latest_charge']}", **AUTH).json()
    assert (charge["amount_refunded"], charge["refunded"]) == (0, False)
    rest = post(client, "/v1/refunds", {"payment_intent": pi["id"]}).json()  # the failed 20.00 is refundable again
    assert rest["amount"] == 5000


def test_the_dispute_card_is_disputed_once_paid_and_its_charge_refuses_refunds(client) -> None:
    pi = intent(client, payment_method="pm_card_createDispute").json()
    assert pi["status"] == "succeeded"
    events = sandbox.events_about(pi["id"])
    disputes = [e for e in events if e["type"].startswith("charge.dispute.")]
    assert [e["type"] for e in disputes] == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    dispute = disputes[0]["data"]["object"]
    assert (dispute["object"], dispute["amount"], dispute["payment_intent"], dispute["status"]) == (
        "dispute",
        5000,
        pi["id"],
        "needs_response",
    )
    refused = post(client, "/v1/refunds", {"payment_intent": pi["id"], "amount": "1000"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "charge_disputed")
