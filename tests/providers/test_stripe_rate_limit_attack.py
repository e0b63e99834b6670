"""A 429 means "nothing was done" only for the request that got it. The SDK retries a request whose reply was lost
(a timeout, a reset connection) with the same key; when that retry is the one refused for the rate limit, the first
try may have moved the money, so the outcome is unknown (reconcile asks), never a decline tried again with a new
key (a second charge or capture)."""

from __future__ import annotations

import json

import pytest
import requests

from providers.base import Outcome, ProviderUnavailable
from providers.stripe.adapter import API_VERSION, event_from_stripe
from tests.providers.sandboxes import sandbox_adapter, scenario
from tests.sandbox_support import dashboard, sandbox_events


def _rate_limited() -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response._content = json.dumps(  # noqa: SLF001 - a hand-made reply
        {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}
    ).encode()
    response.headers["Content-Type"] = "application/json"
    return response


@pytest.mark.django_db(transaction=True)
def test_a_429_on_the_retry_of_a_lost_reply_is_an_unknown_outcome_not_a_decline(live_server, monkeypatch) -> None:
    real = requests.Session.request
    tries: list[str] = []

    def lossy(self, method, url, **kwargs):  # noqa: ANN001, ANN003, ANN202 - the network edge
        tries.append(url)
        if len(tries) == 1:  # the provider does it, its reply is lost on the way back
            real(self, method, url, **kwargs)
            raise requests.exceptions.ReadTimeout("reply lost")
        return _rate_limited()  # the SDK's retry, same key, is refused for the rate limit

    adapter = sandbox_adapter("stripe", live_server.url)
    request = scenario(adapter, "success")
    monkeypatch.setattr(requests.Session, "request", lossy)
    try:
        result = adapter.charge(request)
    except ProviderUnavailable:
        result = None
    assert len(tries) == 2
    assert result is None or result.outcome != Outcome.DECLINED, "charged once, reported as nothing done"


@pytest.mark.django_db(transaction=True)
def test_a_429_on_the_first_try_is_still_a_retryable_decline(live_server, monkeypatch) -> None:
    adapter = sandbox_adapter("stripe", live_server.url)
    request = scenario(adapter, "success")
    monkeypatch.setattr(requests.Session, "request", lambda self, method, url, **kwargs: _rate_limited())
    result = adapter.charge(request)
    assert result.outcome == Outcome.DECLINED
    assert result.error_code == "rate_limited"


@pytest.mark.django_db(transaction=True)
def test_a_refund_event_whose_charge_read_is_rate_limited_is_tried_again_not_kept_as_unreadable(
    live_server, monkeypatch
) -> None:
    adapter = sandbox_adapter("stripe", live_server.url)
    auth = adapter.authorize(scenario(adapter, "success"))
    client = dashboard(f"{live_server.url}/sandbox/stripe", secret_key=adapter.settings["secret_key"])
    client.v1.payment_intents.capture(auth.provider_reference, params={"amount_to_capture": 6000})
    client.v1.refunds.create(params={"payment_intent": auth.provider_reference, "amount": 4000})
    events = sandbox_events(str(auth.provider_reference), api_version=API_VERSION)
    parsed = event_from_stripe([e for e in events if e["type"] == "charge.refunded"][-1])
    assert parsed.needs_details
    monkeypatch.setattr(requests.Session, "request", lambda self, method, url, **kwargs: _rate_limited())

    with pytest.raises(ProviderUnavailable):  # the inbox tries it again; a refund is not lost as "unreadable"
        adapter.webhook_event_complete(parsed)
