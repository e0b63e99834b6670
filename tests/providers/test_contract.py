"""One contract suite for every sandbox-backed adapter: the live code path against the provider's simulator.

Each test plays a scenario through the real adapter (the official SDK for Stripe) over HTTP to the sandbox in
pytest-django's live server. A provider that cannot play a scenario skips it, saying why (tests/providers/sandboxes.py).
"""

from __future__ import annotations

import ast
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from providers import registry
from providers.authorizenet.results import REASON_CODES
from providers.base import (
    NOT_FOUND,
    Adapter,
    AddressInfo,
    Capability,
    CheckoutContext,
    ErrorCode,
    Money,
    Outcome,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
    to_minor,
)
from providers.payflow.results import DECLINES as PAYFLOW_DECLINES
from providers.stripe.results import DECLINE_CODES as STRIPE_DECLINE_CODES
from providers.stripe.results import REQUEST_CODES as STRIPE_REQUEST_CODES
from tests.imports import imported_modules
from tests.providers.sandboxes import (
    AMOUNTS,
    DECLINES,
    PROFILES,
    SANDBOX_PROVIDERS,
    dumped,
    fault,
    faults_off,
    final,
    follow_up,
    method,
    profile,
    profile_key,
    sandbox_adapter,
    scenario,
    settled,
    skip_unless,
)

pytestmark = pytest.mark.django_db(transaction=True)
CURRENCIES = ["USD", "JPY", "KWD"]
SIMULATORS_DIR = Path(__file__).resolve().parents[2] / "sandbox"
PROVIDERS_DIR = Path(__file__).resolve().parents[2] / "providers"


@pytest.fixture(autouse=True)
def strict_sandboxes(settings) -> None:  # noqa: ANN001
    """Every sandbox refuses what it does not model, as its provider refuses what it does not know."""
    settings.SANDBOX_STRICT = "true"


#: the contract's verbs whose results the suite checks against the error vocabulary
VERBS = ("pending", "authorize", "charge", "capture", "cancel", "refund", "abandon", "reauthorize", "fetch_status")


def _in_vocabulary(result: ProviderResult) -> ProviderResult:
    """Every code an adapter reports is an `ErrorCode` member itself, not a string that happens to match one."""
    for reported in (result, result.validation):
        if reported is not None and reported.error_code is not None:
            assert type(reported.error_code) is ErrorCode, (reported.outcome, reported.error_code)
    return result


def _vocabulary_checked(adapter: Adapter) -> Adapter:
    """The adapter, with each money verb's result checked by `_in_vocabulary` (the instance's own attribute)."""
    for name in (*VERBS, "validate"):
        verb = getattr(adapter, name, None)
        if verb is None:
            continue

        def checked(*args: Any, _verb: Callable[..., ProviderResult] = verb, **kwargs: Any) -> ProviderResult:
            return _in_vocabulary(_verb(*args, **kwargs))

        setattr(adapter, name, checked)
    return adapter


@pytest.fixture(params=SANDBOX_PROVIDERS)
def adapter(request, live_server) -> Adapter:
    return _vocabulary_checked(sandbox_adapter(request.param, live_server.url))


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(path, id=f"{path.parent.name}/{path.name}")
        for path in sorted(SIMULATORS_DIR.glob("*/*.py"))
        if path.parent.name != "migrations"
    ],
)
def test_a_sandbox_imports_nothing_from_its_adapter(path: Path) -> None:
    """A sandbox is an oracle written from the provider's documentation, not a mirror of the adapter: it may share
    wire syntax (Payflow's name-value pairs) but nothing of the adapter, its client, results or webhooks."""
    adapter_modules = tuple(
        f"providers.{path.parent.name}.{part}" for part in ("adapter", "client", "results", "webhooks")
    )
    assert not {name for name in imported_modules(path) if name.startswith(adapter_modules)}


PROVIDER_MODULES = sorted(
    path
    for path in PROVIDERS_DIR.glob("*/*.py")
    if path.name in ("adapter.py", "client.py", "results.py", "webhooks.py")
)


@pytest.mark.parametrize(
    "path", [pytest.param(path, id=f"{path.parent.name}/{path.name}") for path in PROVIDER_MODULES]
)
def test_an_adapter_names_its_codes_from_the_vocabulary(path: Path) -> None:
    """No code is written as a string: `error_code=`, `code=` and the code of `declined` / `error` are members."""
    written = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        values = [k.value for k in node.keywords if k.arg in ("error_code", "code")]
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("declined", "error") and node.args:
            values.append(node.args[0])
        written += [v.value for v in values if isinstance(v, ast.Constant | ast.JoinedStr) and not _is_none(v)]
    assert written == []


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def test_the_providers_code_tables_map_onto_the_vocabulary() -> None:
    tables = {
        "authorizenet": REASON_CODES.values(),
        "payflow": [code for code, _ in PAYFLOW_DECLINES.values()],
        "stripe": [*STRIPE_DECLINE_CODES.values(), *STRIPE_REQUEST_CODES.values()],
    }
    assert {key: [c for c in codes if type(c) is not ErrorCode] for key, codes in tables.items()} == {
        "authorizenet": [],
        "payflow": [],
        "stripe": [],
    }


def test_the_vocabulary_has_one_name_per_code() -> None:
    assert len(ErrorCode.__members__) == len(ErrorCode)  # no alias: a code means one thing
    assert NOT_FOUND is ErrorCode.NOT_FOUND


def status_of(adapter: Adapter, action: str, result, amount=None, key: str = "status") -> StatusRequest:  # noqa: ANN001
    return StatusRequest(
        idempotency_key=key,
        provider_reference=result.provider_reference,
        action=action,
        amount=amount or result.amount,
        method=method(adapter),
    )


@pytest.mark.parametrize("currency", CURRENCIES)
def test_authorize_holds_the_amount(adapter, currency) -> None:
    skip_unless(adapter, "authorize")
    result = adapter.authorize(scenario(adapter, "success", currency))
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, Money(AMOUNTS[currency], currency))
    assert result.provider_reference
    assert result.error_code is None


@pytest.mark.parametrize("currency", CURRENCIES)
def test_jpy_and_kwd_amounts_survive_minor_units(adapter, currency) -> None:
    skip_unless(adapter, "charge")
    request = scenario(adapter, "success", currency)
    result = adapter.charge(request)
    back = adapter.fetch_status(status_of(adapter, "charge", result))
    assert result.amount == back.amount == request.amount
    assert result.raw["amount"] == to_minor(request.amount) == {"USD": 10000, "JPY": 12000, "KWD": 30120}[currency]


def test_charge_takes_the_amount(adapter) -> None:
    skip_unless(adapter, "charge")
    result = final(adapter, adapter.charge(scenario(adapter, "success")))
    assert (result.outcome, result.amount.amount) == (Outcome.SUCCEEDED, Decimal("100.00"))
    back = adapter.fetch_status(status_of(adapter, "charge", result))
    assert (back.outcome, back.amount) == (Outcome.SUCCEEDED, result.amount)


@pytest.mark.parametrize("currency", CURRENCIES)
def test_partial_capture_takes_only_that_part(adapter, currency) -> None:
    skip_unless(adapter, "capture")
    auth = adapter.authorize(scenario(adapter, "success", currency))
    part = {"USD": Decimal("30.00"), "JPY": Decimal("5000"), "KWD": Decimal("10.050")}[currency]
    capture = adapter.capture(follow_up(adapter, auth, part))
    assert (capture.outcome, capture.amount) == (Outcome.SUCCEEDED, Money(part, currency))
    assert capture.provider_reference


def test_second_capture_where_allowed(adapter) -> None:
    skip_unless(adapter, "second_capture")
    assert adapter.supports(Capability.MULTIPLE_CAPTURE)
    auth = adapter.authorize(scenario(adapter, "success"))
    first = adapter.capture(follow_up(adapter, auth, Decimal("30.00")))
    second = adapter.capture(follow_up(adapter, auth, Decimal("20.00")))
    assert (first.outcome, second.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED)


def test_without_multiple_capture_a_second_capture_is_refused(adapter) -> None:
    skip_unless(adapter, "capture")
    if adapter.supports(Capability.MULTIPLE_CAPTURE):
        pytest.skip(f"{adapter.key} allows several captures")
    auth = adapter.authorize(scenario(adapter, "success"))
    adapter.capture(follow_up(adapter, auth, Decimal("30.00")))
    second = adapter.capture(follow_up(adapter, auth, Decimal("20.00")))
    assert second.outcome == Outcome.DECLINED
    assert second.error_code


def test_full_capture_without_amount_left_over(adapter) -> None:
    skip_unless(adapter, "capture")
    auth = adapter.authorize(scenario(adapter, "success"))
    capture = adapter.capture(follow_up(adapter, auth))
    assert (capture.outcome, capture.amount) == (Outcome.SUCCEEDED, auth.amount)


def test_cancel_releases_the_authorization(adapter) -> None:
    skip_unless(adapter, "cancel")
    auth = adapter.authorize(scenario(adapter, "success"))
    cancel = adapter.cancel(follow_up(adapter, auth, reason="requested_by_customer"))
    assert cancel.outcome == Outcome.SUCCEEDED
    if not adapter.supports(Capability.CAPTURE):
        return  # a provider without captures (Apruve) shows what its cancel released in its own tests
    capture = adapter.capture(follow_up(adapter, auth))
    assert capture.outcome == Outcome.DECLINED  # nothing left to take


@pytest.mark.parametrize("currency", CURRENCIES)
def test_partial_then_full_refunds(adapter, currency) -> None:
    skip_unless(adapter, "charge")
    charge = settled(adapter, final(adapter, adapter.charge(scenario(adapter, "success", currency))))
    part = {"USD": Decimal("30.00"), "JPY": Decimal("2000"), "KWD": Decimal("10.000")}[currency]
    first = adapter.refund(follow_up(adapter, charge, part, reason="requested_by_customer"))
    rest = adapter.refund(follow_up(adapter, charge, charge.amount.amount - part))
    assert (first.outcome, first.amount.amount) == (Outcome.SUCCEEDED, part)
    assert (rest.outcome, rest.amount.amount) == (Outcome.SUCCEEDED, charge.amount.amount - part)
    assert first.provider_reference != rest.provider_reference
    too_much = adapter.refund(follow_up(adapter, charge, Decimal(1)))
    assert too_much.outcome == Outcome.DECLINED


def test_refund_of_a_partial_capture_is_limited_to_what_was_captured(adapter) -> None:
    skip_unless(adapter, "capture")
    skip_unless(adapter, "refund_of_capture")
    auth = adapter.authorize(scenario(adapter, "success"))
    capture = settled(adapter, adapter.capture(follow_up(adapter, auth, Decimal("40.00"))))
    over = adapter.refund(follow_up(adapter, capture, Decimal("40.01")))
    assert over.outcome == Outcome.DECLINED
    refund = adapter.refund(follow_up(adapter, capture, Decimal("40.00")))
    assert (refund.outcome, refund.amount.amount) == (Outcome.SUCCEEDED, Decimal("40.00"))


@pytest.mark.parametrize("decline", DECLINES)
def test_decline_is_a_result_not_an_exception(adapter, decline) -> None:
    # a bank returns an ACH debit when it settles: the decline is what the purchase ends as
    result = final(adapter, adapter.authorize(scenario(adapter, decline)), "authorize")
    assert (result.outcome, result.error_code) == (Outcome.DECLINED, decline)
    assert result.message


@pytest.mark.parametrize("currency", ["JPY", "KWD"])
def test_decline_in_other_currencies(adapter, currency) -> None:
    skip_unless(adapter, "charge")
    result = adapter.charge(scenario(adapter, "card_declined", currency))
    assert (result.outcome, result.error_code, result.amount.currency) == (Outcome.DECLINED, "card_declined", currency)


@pytest.mark.parametrize("outcome", ["complete", "fail"])
def test_3d_secure_requires_action_then_completes_on_return(adapter, outcome) -> None:
    skip_unless(adapter, "3ds")
    first = adapter.authorize(scenario(adapter, "3ds"))
    assert first.outcome == Outcome.ACTION_REQUIRED
    assert first.next_action["redirect_url"].startswith("http")
    profile(adapter).complete_challenge(first.next_action, outcome)
    back = adapter.fetch_status(status_of(adapter, "authorize", first))
    if outcome == "complete":
        assert (back.outcome, back.amount) == (Outcome.SUCCEEDED, first.amount)
    else:
        assert (back.outcome, back.error_code) == (Outcome.DECLINED, profile(adapter).challenge_failure)


def test_timeout_raises_provider_unavailable_and_status_tells_the_outcome(live_server) -> None:
    for key in SANDBOX_PROVIDERS:
        adapter = sandbox_adapter(key, live_server.url, read_timeout=0.5)
        if not adapter.supports(Capability.CAPTURE):
            continue  # Apruve: its lost invoice reply is found by reconcile in tests/payments/test_apruve_payments.py
        if "capture" in profile(adapter).skips:
            continue  # a method without captures (OroPay's ACH): its lost purchase reply is found further down
        auth = adapter.authorize(scenario(adapter, "success"))
        fault(live_server.url, adapter, "timeout", "capture", delay=1.5)
        started = time.monotonic()
        capture = follow_up(adapter, auth, Decimal("25.00"))
        with pytest.raises(ProviderUnavailable):
            adapter.capture(capture)
        assert time.monotonic() - started < 10
        money = Money(Decimal("25.00"), "USD")  # asked as reconcile asks: with the capture's own key
        back = adapter.fetch_status(status_of(adapter, "capture", auth, money, key=capture.idempotency_key))
        assert (back.outcome, back.amount.amount) == (Outcome.SUCCEEDED, Decimal("25.00"))  # the money did move


@pytest.mark.parametrize("kind", ["error_500", "error_503"])
def test_5xx_raises_provider_unavailable_and_a_retry_with_the_key_works(adapter, live_server, kind) -> None:
    request = scenario(adapter, "success")
    fault(live_server.url, adapter, kind, "create")
    with pytest.raises(ProviderUnavailable):
        adapter.authorize(request)
    faults_off(live_server.url, adapter)
    retried = final(adapter, adapter.authorize(request), "authorize")
    assert retried.outcome == Outcome.SUCCEEDED  # a 5xx before execution is not stored


def test_malformed_reply_is_an_error_result_not_a_success(adapter, live_server) -> None:
    fault(live_server.url, adapter, "malformed", "create", times=1)
    result = adapter.authorize(scenario(adapter, "success"))
    assert result.outcome == Outcome.ERROR


def test_idempotent_replay_returns_the_same_reference(adapter) -> None:
    skip_unless(adapter, "replay")
    request = scenario(adapter, "success")
    first = adapter.authorize(request)
    again = adapter.authorize(request)
    assert again.provider_reference == first.provider_reference
    assert again.outcome == first.outcome


def test_replayed_capture_moves_money_once(adapter) -> None:
    skip_unless(adapter, "capture")
    skip_unless(adapter, "replay")
    auth = adapter.authorize(scenario(adapter, "success"))
    request = follow_up(adapter, auth, Decimal("30.00"))
    first = adapter.capture(request)
    again = adapter.capture(request)
    assert (first.outcome, again.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED)
    assert again.provider_reference == first.provider_reference


def test_bad_credentials_raise_provider_misconfigured(adapter, live_server) -> None:
    broken = registry.adapter_class(adapter.key)(
        {**profile(adapter).settings, **profile(adapter).bad_settings}, base_url=adapter.base_url
    )
    with pytest.raises(ProviderMisconfigured):
        broken.authorize(scenario(adapter, "success"))


def test_raw_holds_no_card_number_and_no_secret(adapter, live_server) -> None:
    number = "4242424242424242"
    tokenize = profile(adapter).tokenize
    if tokenize is None:
        pytest.skip(f"{profile_key(adapter)}: {profile(adapter).skips.get('tokenize', 'no tokenization endpoint')}")
    data = tokenize(live_server.url, number)
    auth = adapter.authorize(scenario(adapter, "success", payment_data=data))
    capture = settled(adapter, adapter.capture(follow_up(adapter, auth, Decimal("60.00"))))
    refund = adapter.refund(follow_up(adapter, capture, Decimal("10.00")))
    declined = adapter.authorize(scenario(adapter, "card_declined"))
    secret_fields = registry.settings_form_class(adapter.key).secret_fields  # type: ignore[attr-defined]
    secrets = [v for k, v in profile(adapter).settings.items() if "secret" in k or k in secret_fields]
    assert secrets
    for result in (auth, capture, refund, declined):
        text = dumped(result.raw) + dumped(result.next_action) + result.message
        assert number not in text
        for secret in secrets:
            assert secret not in text
        assert "_secret_" not in text  # nor a PaymentIntent's client secret


def test_every_post_carries_our_idempotency_key(adapter) -> None:
    """The sandbox stores replies per key: our key returns the stored reply, marked as a replay."""
    skip_unless(adapter, "idempotency_key_header")
    request = scenario(adapter, "success", key=f"ours-{uuid.uuid4()}")
    adapter.authorize(request)
    from sandbox.models import SimIdempotencyKey

    wire_key = profile(adapter).wire_key(request.idempotency_key)
    assert SimIdempotencyKey.objects.filter(provider=adapter.key, key=wire_key).count() == 1


def test_a_retried_refund_moves_money_once(adapter) -> None:
    skip_unless(adapter, "charge")
    skip_unless(adapter, "replay")
    charge = settled(adapter, final(adapter, adapter.charge(scenario(adapter, "success"))))
    request = follow_up(adapter, charge, Decimal("25.00"))
    first = adapter.refund(request)
    again = adapter.refund(request)
    assert (first.outcome, again.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED)
    assert again.provider_reference == first.provider_reference
    rest = adapter.refund(follow_up(adapter, charge, Decimal("75.00")))
    assert rest.outcome == Outcome.SUCCEEDED  # only 25.00 was taken back before


# --- settlement: providers that refund only settled payments -------------------------------------------------------


def needs_settlement(adapter: Adapter) -> None:
    if profile(adapter).settle is None:
        reason = profile(adapter).skips.get("settlement", "refunds a payment whether or not it has settled")
        pytest.skip(f"{profile_key(adapter)}: {reason}")


def test_a_full_refund_before_settlement_becomes_a_void(adapter) -> None:
    needs_settlement(adapter)
    charge = adapter.charge(scenario(adapter, "success"))
    refund = adapter.refund(follow_up(adapter, charge))
    assert (refund.outcome, refund.amount, refund.provider_reference) == (
        Outcome.SUCCEEDED,
        charge.amount,
        charge.provider_reference,
    )
    assert refund.raw["converted_to_void"] is True
    back = adapter.fetch_status(status_of(adapter, "refund", charge))
    assert back.outcome == Outcome.SUCCEEDED
    after = adapter.refund(follow_up(adapter, settled(adapter, charge), Decimal("1.00")))
    assert after.outcome == Outcome.DECLINED  # voided: nothing settles, nothing to refund


def test_a_partial_refund_before_settlement_is_refused_and_works_after_it(adapter) -> None:
    needs_settlement(adapter)
    auth = adapter.authorize(scenario(adapter, "success"))
    capture = adapter.capture(follow_up(adapter, auth, Decimal("60.00")))
    early = adapter.refund(follow_up(adapter, capture, Decimal("20.00")))
    assert (early.outcome, early.error_code) == (Outcome.DECLINED, "partial_refund_before_settlement")
    assert "voided in full (60.00 USD)" in early.message
    late = adapter.refund(follow_up(adapter, settled(adapter, capture), Decimal("20.00")))
    assert (late.outcome, late.amount.amount) == (Outcome.SUCCEEDED, Decimal("20.00"))
    assert late.provider_reference != capture.provider_reference
    rest = adapter.refund(follow_up(adapter, capture, Decimal("40.00")))
    assert (rest.outcome, rest.amount.amount) == (Outcome.SUCCEEDED, Decimal("40.00"))


# --- purchases that settle later: pending when answered, final days later ------------------------------------------

SETTLES_LATER = [key for key in SANDBOX_PROVIDERS if PROFILES[key].settles_later is not None]


@pytest.mark.parametrize("adapter", SETTLES_LATER, indirect=True)
def test_a_purchase_that_settles_later_is_refunded_only_once_final(adapter) -> None:
    debit = adapter.charge(scenario(adapter, "success"))
    assert (debit.outcome, debit.error_code) == (Outcome.PENDING, ErrorCode.PENDING_AT_PROVIDER)
    early = adapter.refund(follow_up(adapter, debit, Decimal("10.00")))
    assert (early.outcome, early.error_code) == (Outcome.DECLINED, ErrorCode.INVALID_STATE)
    funded = final(adapter, debit)
    assert (funded.outcome, funded.provider_reference, funded.amount) == (
        Outcome.SUCCEEDED,
        debit.provider_reference,
        debit.amount,
    )
    late = adapter.refund(follow_up(adapter, funded, Decimal("10.00")))
    assert (late.outcome, late.amount.amount) == (Outcome.SUCCEEDED, Decimal("10.00"))
    assert late.provider_reference != debit.provider_reference


# --- fraud review ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["approve", "decline"])
def test_held_for_review_is_pending_until_the_review_decides(adapter, decision) -> None:
    review = profile(adapter).review
    if review is None:
        pytest.skip(f"{profile_key(adapter)}: {profile(adapter).skips.get('review', 'no fraud review hold')}")
    held = adapter.authorize(scenario(adapter, "held_for_review"))
    assert (held.outcome, held.error_code) == (Outcome.PENDING, "held_for_review")
    assert held.provider_reference
    still = adapter.fetch_status(status_of(adapter, "authorize", held))
    assert still.outcome == Outcome.PENDING
    review(held.provider_reference, decision)
    back = adapter.fetch_status(status_of(adapter, "authorize", held))
    if decision == "approve":
        assert (back.outcome, back.amount) == (Outcome.SUCCEEDED, held.amount)
        capture = adapter.capture(follow_up(adapter, back))
        assert capture.outcome == Outcome.SUCCEEDED
    else:
        assert back.outcome == Outcome.DECLINED


# --- what a lost reply leaves behind: found by our key wherever the provider keeps it ------------------------------


def test_a_charge_whose_reply_was_lost_is_found_by_our_key_even_after_it_settled(adapter, live_server, request) -> None:
    skip_unless(adapter, "charge")
    skip_unless(adapter, "lost_purchase_reply")
    slow = sandbox_adapter(profile_key(adapter), live_server.url, read_timeout=0.5)
    request = scenario(adapter, "success")
    operation = "charge" if "charge" in profile(adapter).operations else "create"
    fault(live_server.url, adapter, "timeout", operation, delay=1.5)  # more times than the SDK retries
    # as reconcile asks: a few minutes later (a provider may wait until a request still on its way has arrived)
    sent_at = datetime.now(UTC) - timedelta(minutes=3)
    with pytest.raises(ProviderUnavailable):
        slow.charge(request)
    settle = profile(adapter).settle
    if settle is not None:
        settle("")  # the nightly settlement: everything captured
    finish = profile(adapter).settles_later
    if finish is not None:
        finish("")  # days later: every pending purchase is funded
    status = StatusRequest(request.idempotency_key, None, "charge", request.amount, method(adapter), sent_at)
    found = adapter.fetch_status(status)
    assert (found.outcome, found.amount) == (Outcome.SUCCEEDED, request.amount)
    assert found.provider_reference
    never = StatusRequest(f"never-{uuid.uuid4()}", None, "charge", request.amount, method(adapter), sent_at)
    missing = adapter.fetch_status(never)
    assert (missing.outcome, missing.error_code) == (Outcome.ERROR, NOT_FOUND)


# --- fields as the provider takes them -----------------------------------------------------------------------------


def test_a_long_billing_address_and_a_zip_plus_four_are_taken(adapter) -> None:
    address = AddressInfo(
        country_iso2="US",
        region_code="US-IL",
        postal_code="62701-1234",
        city="Rancho Santa Margarita Heights of the Prairie",
        street="12345 North Industrial Parkway Boulevard, Building 7 East Wing Loading Dock",
        street2="Suite 1200",
        organization="Consolidated Industrial Fasteners & Fittings Incorporated of Illinois",
        first_name="Maximiliane-Alexandrina Theodora Augusta Wilhelmina",
        last_name="Featherstonehaugh-Cholmondeley-Marjoribanks of Leicestershire",
    )
    total = Money(AMOUNTS["USD"], "USD")
    context = CheckoutContext(currency="USD", subtotal=total, total=total, billing_address=address)
    result = final(adapter, adapter.authorize(scenario(adapter, "success", context=context)), "authorize")
    assert result.outcome in (Outcome.SUCCEEDED, Outcome.ACTION_REQUIRED), result
