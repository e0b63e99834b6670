"""The Stripe adapter on its own: the API version it names on the wire, Stripe's minor units, and what it reads
out of every event shape a live endpoint of a supported version sends (the sandbox's events, per version)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from urllib.parse import unquote, urlencode

import pytest
import requests
import stripe

from providers.base import Money, MovementAction, Outcome, ProviderUnavailable, UnreadableEvent
from providers.stripe.adapter import API_VERSION, event_from_stripe, from_stripe, to_stripe
from sandbox.services import sim_fault_add
from tests.providers.sandboxes import sandbox_adapter, scenario
from tests.sandbox_support import dashboard, sandbox_events

VERSIONS = ["2022-08-01", "2024-06-20", "2024-12-18.acacia", API_VERSION]


# --- the API version -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_every_request_names_the_version_the_adapter_is_written_for_whatever_the_sdk_default(
    live_server, monkeypatch
) -> None:
    """An SDK upgrade (or downgrade) moves its default version; the adapter's requests must not move with it."""
    monkeypatch.setattr(stripe._api_version._ApiVersion, "CURRENT", "2024-06-20")  # noqa: SLF001 - the SDK's default
    sent: list[str | None] = []
    real = requests.Session.request

    def record(self, method, url, **kwargs):  # noqa: ANN001, ANN003, ANN202 - the network edge, passed through
        sent.append((kwargs.get("headers") or {}).get("Stripe-Version"))
        return real(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", record)
    adapter = sandbox_adapter("stripe", live_server.url)
    result = adapter.authorize(scenario(adapter, "success"))
    assert result.outcome == Outcome.SUCCEEDED
    assert sent
    assert set(sent) == {API_VERSION}


def test_the_sdk_major_is_capped_in_pyproject() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"stripe>=16,<17"' in text
    assert stripe.VERSION.split(".")[0] == "16"


# --- Stripe's minor units --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("5000", "ISK", 500000),  # ISO 4217: no decimals; Stripe: two, whole krónur only
        ("25000", "HUF", 2500000),  # CLDR: no decimals; Stripe: two
        ("150000", "IDR", 15000000),
        ("50000", "UGX", 50000),  # zero-decimal at Stripe and in ISO 4217
        ("12000", "JPY", 12000),
        ("30.120", "KWD", 30120),
        ("1000.50", "TWD", 100050),
        ("100.00", "USD", 10000),
    ],
)
def test_amounts_go_to_stripe_in_its_own_minor_units_and_come_back_exact(amount, currency, minor) -> None:
    money = Money(Decimal(amount), currency)
    assert to_stripe(money) == minor
    assert from_stripe(minor, currency) == money


@pytest.mark.parametrize(
    ("amount", "currency"), [("30.125", "KWD"), ("5000.50", "ISK"), ("12000.5", "JPY"), ("10.001", "USD")]
)
def test_amounts_stripe_cannot_take_are_refused_before_the_call(amount, currency) -> None:
    with pytest.raises(ValueError, match="Stripe"):
        to_stripe(Money(Decimal(amount), currency))


# --- events in every supported shape ---------------------------------------------------------------------------


def refunds_in(event) -> list[tuple[str, Decimal]]:  # noqa: ANN001
    parsed = event_from_stripe(event)
    return [(m.provider_reference[:3], m.amount.amount) for m in parsed.movements if m.action == MovementAction.REFUND]


@pytest.fixture
def partial_capture_then_refund(live_server, settings) -> str:
    """At Stripe: 100.00 authorized, 60.00 captured (40.00 released), then 40.00 refunded in the dashboard."""
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    adapter = sandbox_adapter("stripe", live_server.url)
    auth = adapter.authorize(scenario(adapter, "success"))
    client = dashboard(f"{live_server.url}/sandbox/stripe", secret_key=adapter.settings["secret_key"])
    client.v1.payment_intents.capture(auth.provider_reference, params={"amount_to_capture": 6000})
    client.v1.refunds.create(params={"payment_intent": auth.provider_reference, "amount": 4000})
    return str(auth.provider_reference)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version", VERSIONS)
def test_a_partial_capture_releasing_the_rest_is_no_refund_in_any_version(partial_capture_then_refund, version) -> None:
    events = sandbox_events(partial_capture_then_refund, api_version=version)
    refund_events = [e for e in events if e["type"] in ("charge.refunded", "refund.created")]
    release, *later = refund_events
    parsed = event_from_stripe(release)
    assert parsed.movements[0].action == MovementAction.CAPTURE
    assert refunds_in(release) == []  # the 40.00 a capture released went back to nobody's account
    if version < "2022-11-15":  # the charge lists the release (oldest) and the dashboard refund of the same amount
        assert refunds_in(later[-1]) == [("re_", Decimal("40.00"))]
        assert not event_from_stripe(later[-1]).needs_details


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version", VERSIONS[1:])
def test_without_a_refunds_list_the_refunds_are_read_from_stripe(
    partial_capture_then_refund, live_server, version
) -> None:
    events = sandbox_events(partial_capture_then_refund, api_version=version)
    refunded = [e for e in events if e["type"] == "charge.refunded"][-1]
    assert "refunds" not in refunded["data"]["object"]
    parsed = event_from_stripe(refunded)
    assert parsed.needs_details  # the refund is not in the event: it must be fetched
    done = sandbox_adapter("stripe", live_server.url).webhook_event_complete(parsed)
    assert [(m.action, m.amount.amount) for m in done.movements] == [
        (MovementAction.CAPTURE, Decimal("60.00")),
        (MovementAction.REFUND, Decimal("40.00")),
    ]


@pytest.mark.django_db(transaction=True)
def test_refund_created_of_a_release_before_basil_is_told_apart_by_asking_stripe(
    partial_capture_then_refund, live_server
) -> None:
    """From 2024-10-28 to 2025-03-31 a partial capture's release even sends `refund.created`."""
    events = sandbox_events(partial_capture_then_refund, api_version="2024-12-18.acacia")
    created = [e for e in events if e["type"] == "refund.created"]
    assert [e["data"]["object"]["amount"] for e in created] == [4000, 4000]  # the release, then the real refund
    adapter = sandbox_adapter("stripe", live_server.url)
    for event in created:
        parsed = event_from_stripe(event)
        assert parsed.needs_details  # not ours: Stripe says what it is
        assert not parsed.movements
        refunds = [m for m in adapter.webhook_event_complete(parsed).movements if m.action == MovementAction.REFUND]
        assert [(m.provider_reference, m.amount.amount) for m in refunds] == [
            (created[1]["data"]["object"]["id"], Decimal("40.00"))
        ]


# --- completing an event: the charge with its refunds expanded, in one read ------------------------------------


def record_requests(monkeypatch) -> list[str]:  # noqa: ANN001
    """The URLs of the HTTP requests made to Stripe from now on (the network edge, passed through)."""
    sent: list[str] = []
    real = requests.Session.request

    def record(self, method, url, **kwargs):  # noqa: ANN001, ANN003, ANN202
        sent.append(f"{method} {url}?{urlencode(kwargs.get('params') or {})}" if kwargs.get("params") else url)
        return real(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", record)
    return sent


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version", VERSIONS[1:])
def test_a_refunded_charge_is_completed_with_one_read_of_the_charge_with_its_refunds_expanded(
    partial_capture_then_refund, live_server, monkeypatch, version
) -> None:
    events = sandbox_events(partial_capture_then_refund, api_version=version)
    parsed = event_from_stripe([e for e in events if e["type"] == "charge.refunded"][-1])
    assert parsed.needs_details
    adapter = sandbox_adapter("stripe", live_server.url)
    sent = record_requests(monkeypatch)
    done = adapter.webhook_event_complete(parsed)
    assert len(sent) == 1
    assert f"/v1/charges/{parsed.data['charge']}?" in sent[0]
    assert "expand[0]=refunds" in unquote(sent[0])
    assert [(m.action, m.amount.amount) for m in done.movements] == [
        (MovementAction.CAPTURE, Decimal("60.00")),
        (MovementAction.REFUND, Decimal("40.00")),
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version", ["2024-06-20", API_VERSION])
def test_a_charge_with_more_refunds_than_its_expanded_list_holds_has_the_rest_listed_after_them(
    live_server, settings, monkeypatch, version
) -> None:
    """Twelve refunds made in the dashboard: the expanded list holds the 10 newest, one list call the 2 oldest."""
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    adapter = sandbox_adapter("stripe", live_server.url)
    auth = adapter.authorize(scenario(adapter, "success"))
    client = dashboard(f"{live_server.url}/sandbox/stripe", secret_key=adapter.settings["secret_key"])
    client.v1.payment_intents.capture(auth.provider_reference)
    made = [
        client.v1.refunds.create(params={"payment_intent": auth.provider_reference, "amount": 101 + i}).id
        for i in range(12)
    ]
    events = sandbox_events(str(auth.provider_reference), api_version=version)
    parsed = event_from_stripe([e for e in events if e["type"] == "charge.refunded"][-1])
    assert parsed.needs_details
    sent = record_requests(monkeypatch)
    done = adapter.webhook_event_complete(parsed)
    assert [(m.action, m.provider_reference, m.amount.amount) for m in done.movements] == [
        (MovementAction.CAPTURE, parsed.data["charge"], Decimal("100.00")),
        *[(MovementAction.REFUND, made[i], Decimal(101 + i) / 100) for i in range(12)],  # oldest first
    ]
    assert len(sent) == 2
    assert "/v1/refunds?" in sent[1]
    assert f"starting_after={made[2]}" in sent[1]  # the oldest of the 10 newest: only the page after it is read


@pytest.mark.django_db(transaction=True)
def test_completing_an_event_keeps_its_errors_an_unknown_charge_is_unreadable_an_unreachable_stripe_unavailable(
    partial_capture_then_refund, live_server
) -> None:
    events = sandbox_events(partial_capture_then_refund)
    parsed = event_from_stripe([e for e in events if e["type"] == "charge.refunded"][-1])
    adapter = sandbox_adapter("stripe", live_server.url)
    with pytest.raises(UnreadableEvent, match="no charge ch_unknown"):
        adapter.webhook_event_complete(replace(parsed, data={**parsed.data, "charge": "ch_unknown"}))
    sim_fault_add(provider="stripe", kind="error_500", operation="retrieve", times=2)  # the SDK retries once
    with pytest.raises(ProviderUnavailable):
        adapter.webhook_event_complete(parsed)


def test_an_event_with_the_payment_intents_charges_list_of_old_versions_names_its_charge() -> None:
    pi = {
        "id": "pi_old",
        "object": "payment_intent",
        "amount": 10000,
        "amount_capturable": 0,
        "amount_received": 6000,
        "capture_method": "manual",
        "currency": "usd",
        "status": "succeeded",
        "metadata": {"paydesk_key": "auth-7"},
        "charges": {"object": "list", "data": [{"id": "ch_old", "object": "charge"}], "has_more": False},
    }
    event = {"id": "evt_1", "object": "event", "api_version": "2020-08-27", "type": "payment_intent.succeeded"}
    parsed = event_from_stripe({**event, "data": {"object": pi}, "request": "req_1"})  # `request` was a string then
    assert [(m.action, m.provider_reference, m.amount.amount) for m in parsed.movements] == [
        (MovementAction.AUTHORIZE, "pi_old", Decimal("100.00")),
        (MovementAction.CAPTURE, "ch_old", Decimal("60.00")),
    ]
    assert parsed.payment_key == "auth-7"
