"""How the contract suite reaches each provider's sandbox: settings, scenarios and hooks per provider.

A provider joins the contract suite by adding a `SandboxProfile` to `PROFILES`. A scenario the provider cannot
play is skipped with the reason given here, so the suite says what each provider does not do.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import requests

from providers import registry
from providers.base import Adapter, FollowUpRequest, MethodInfo, Money, PaymentRequest, ProviderResult

#: one amount per currency, each exact in the currency's minor units (KWD's last digit 0: Stripe's rule)
AMOUNTS = {"USD": Decimal("100.00"), "JPY": Decimal("12000"), "KWD": Decimal("30.120")}
DECLINES = ["card_declined", "insufficient_funds", "expired_card", "incorrect_cvc", "processing_error"]


@dataclass(frozen=True)
class SandboxProfile:
    key: str
    settings: Mapping[str, str]
    #: scenario -> payment data the browser would have produced for it (a token, never a card number)
    payment_data: Mapping[str, Mapping[str, str]]
    #: scenario -> why this provider cannot play it
    skips: Mapping[str, str] = field(default_factory=dict)
    #: (next_action, outcome "complete"|"fail") -> None: what the buyer does on the provider's challenge page
    complete_challenge: Callable[[Mapping[str, str], str], None] | None = None
    #: (live_server_url, card number) -> payment data, through the provider's own tokenization endpoint
    tokenize: Callable[[str, str], Mapping[str, str]] | None = None
    #: our operation name -> the sandbox's fault operation name
    operations: Mapping[str, str] = field(default_factory=dict)


def _stripe_challenge(next_action: Mapping[str, str], outcome: str) -> None:
    reply = requests.post(next_action["redirect_url"], data={"outcome": outcome}, allow_redirects=False, timeout=10)
    assert reply.status_code in (200, 302), reply.text


def _stripe_tokenize(live_server_url: str, number: str) -> Mapping[str, str]:
    reply = requests.post(
        f"{live_server_url}/sandbox/stripe/v1/payment_methods",
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
        headers={"Authorization": "Bearer pk_test_paydeskcontract"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return {"payment_method": reply.json()["id"]}


PROFILES: dict[str, SandboxProfile] = {
    "stripe": SandboxProfile(
        key="stripe",
        settings={
            "public_key": "pk_test_paydeskcontract",
            "secret_key": "sk_test_paydeskcontract",
            "webhook_secret": "whsec_paydeskcontract",
        },
        payment_data={
            "success": {"payment_method": "pm_card_visa"},
            "card_declined": {"payment_method": "pm_card_chargeDeclined"},
            "insufficient_funds": {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"},
            "expired_card": {"payment_method": "pm_card_chargeDeclinedExpiredCard"},
            "incorrect_cvc": {"payment_method": "pm_card_chargeDeclinedIncorrectCvc"},
            "processing_error": {"payment_method": "pm_card_chargeDeclinedProcessingError"},
            "3ds": {"payment_method": "pm_card_threeDSecure2Required"},
        },
        skips={"second_capture": "a Stripe capture releases the rest of the authorization (no multiple capture)"},
        complete_challenge=_stripe_challenge,
        tokenize=_stripe_tokenize,
    ),
}
SANDBOX_PROVIDERS = sorted(PROFILES)


def sandbox_adapter(key: str, live_server_url: str, *, read_timeout: float | None = None) -> Adapter:
    """The provider's real adapter, pointed at its sandbox in the live test server (only the base URL differs)."""
    profile = PROFILES[key]
    adapter = registry.adapter_class(key)(dict(profile.settings), base_url=f"{live_server_url}/sandbox/{key}")
    if read_timeout is not None:
        adapter.read_timeout = read_timeout  # type: ignore[attr-defined]
    return adapter


def profile(adapter: Adapter) -> SandboxProfile:
    return PROFILES[adapter.key]


def skip_unless(adapter: Adapter, name: str) -> None:
    reason = profile(adapter).skips.get(name)
    if reason:
        pytest.skip(f"{adapter.key}: {reason}")


def method(adapter: Adapter) -> MethodInfo:
    return MethodInfo(identifier=f"{adapter.key}_1", integration_id=1, provider_key=adapter.key)


def scenario(
    adapter: Adapter,
    name: str,
    currency: str = "USD",
    *,
    amount: Decimal | None = None,
    key: str | None = None,
    payment_data: Mapping[str, str] | None = None,
) -> PaymentRequest:
    """A purchase request playing `name` ("success", "card_declined", "3ds" …); skipped if the provider has none."""
    skip_unless(adapter, name)
    data = payment_data or profile(adapter).payment_data.get(name)
    if data is None:
        pytest.skip(f"{adapter.key}: no sandbox scenario {name!r}")
    return PaymentRequest(
        amount=Money(amount if amount is not None else AMOUNTS[currency], currency),
        idempotency_key=key or f"contract-{uuid.uuid4()}",
        method=method(adapter),
        reference="C-000001",
        payment_data=dict(data),
        return_url="http://shop.test/checkout/return",
    )


def follow_up(
    adapter: Adapter, result: ProviderResult, amount: Decimal | None = None, *, reason: str = "", key: str | None = None
) -> FollowUpRequest:
    """Capture, cancel or refund (part of) what `result` made."""
    assert result.provider_reference
    return FollowUpRequest(
        amount=Money(amount if amount is not None else result.amount.amount, result.amount.currency),
        idempotency_key=key or f"contract-{uuid.uuid4()}",
        provider_reference=result.provider_reference,
        method=method(adapter),
        source_amount=result.amount,
        reason=reason,
    )


def fault(
    live_server_url: str, adapter: Adapter, kind: str, operation: str, *, times: int = 5, delay: float = 1.5
) -> None:
    """Switch a fault on in the provider's sandbox (for more calls than the adapter's own retries)."""
    name = profile(adapter).operations.get(operation, operation)
    reply = requests.post(
        f"{live_server_url}/sandbox/__sim/fault",
        data={"provider": adapter.key, "kind": kind, "operation": name, "times": times, "delay": delay},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text


def faults_off(live_server_url: str, adapter: Adapter) -> None:
    reply = requests.post(f"{live_server_url}/sandbox/__sim/reset", data={"provider": adapter.key}, timeout=10)
    assert reply.status_code == 200, reply.text


def dumped(value: Any) -> str:
    return json.dumps(value, default=str)
