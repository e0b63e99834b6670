"""A card-style provider for ledger tests, until the real providers' sandboxes join the contract suite.

It stands at the network edge only: the payment services, locking and ledger are the real ones. It records
every call (so a test can count how often money moved) and honours idempotency keys like a real gateway.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Literal

from django import forms

from providers.base import (
    NOT_FOUND,
    Adapter,
    Capability,
    ErrorCode,
    FollowUpRequest,
    Money,
    Outcome,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
)
from providers.forms import ProviderSettingsForm

DECLINE_TOKEN = "tok_decline"
TIMEOUT_TOKEN = "tok_timeout"


class FakeGatewaySettingsForm(ProviderSettingsForm):
    login = forms.CharField()
    api_key = forms.CharField(label="API key")
    secret_fields = ("api_key",)

    @classmethod
    def credential_mode(cls, settings: Mapping[str, Any]) -> Literal["test", "live"] | None:
        key = str(settings.get("api_key", ""))
        return "test" if key.startswith("sk_test_") else "live" if key.startswith("sk_live_") else None


class FakeGateway(Adapter):
    key = "fakegw"
    label = "Fake gateway"
    capabilities: ClassVar = frozenset(
        {
            Capability.AUTHORIZE,
            Capability.CHARGE,
            Capability.CAPTURE,
            Capability.PARTIAL_CAPTURE,
            Capability.MULTIPLE_CAPTURE,
            Capability.CANCEL,
            Capability.REFUND,
            Capability.PARTIAL_REFUND,
            Capability.FETCH_STATUS,
        }
    )
    authorization_ttl_hours = 7 * 24
    refund_reasons: ClassVar = (("requested_by_customer", "Requested by customer"), ("duplicate", "Duplicate"))
    calls: ClassVar[Counter[str]] = Counter()  # operation -> times money was asked to move
    replies: ClassVar[dict[str, ProviderResult]] = {}  # idempotency key -> first reply
    fail_next: ClassVar[list[str]] = []  # operations whose request is lost on the way (never arrives), once
    lose_reply_next: ClassVar[list[str]] = []  # operations done at the provider whose answer is lost, once
    unavailable: ClassVar[bool] = False  # the provider answers nothing at all
    decline_next: ClassVar[dict[str, str]] = {}  # operation -> error code its next request is declined with, once
    report_next: ClassVar[dict[str, Decimal]] = {}  # operation -> the amount its next success reports, once
    _ids = itertools.count(1)

    @classmethod
    def reset(cls) -> None:
        cls.calls.clear()
        cls.replies.clear()
        cls.fail_next.clear()
        cls.lose_reply_next.clear()
        cls.decline_next.clear()
        cls.report_next.clear()
        cls.unavailable = False

    def _reply(self, operation: str, key: str, result: ProviderResult) -> ProviderResult:
        if self.unavailable:
            raise ProviderUnavailable(f"{operation}: connection refused")
        if operation in self.fail_next:
            self.fail_next.remove(operation)
            raise ProviderUnavailable(f"{operation}: connect timed out")
        if key in self.replies:  # a real gateway replays the first answer to a repeated key
            return self.replies[key]
        self.calls[operation] += 1
        self.replies[key] = result
        if operation in self.lose_reply_next:
            self.lose_reply_next.remove(operation)
            raise ProviderUnavailable(f"{operation}: read timed out")
        return result

    def fetch_status(self, request: StatusRequest) -> ProviderResult:
        if self.unavailable:
            raise ProviderUnavailable("status: connection refused")
        if request.idempotency_key in self.replies:
            return self.replies[request.idempotency_key]
        return ProviderResult(Outcome.ERROR, None, request.amount, error_code=NOT_FOUND)

    def _purchase(self, operation: str, request: PaymentRequest) -> ProviderResult:
        token = request.payment_data.get("token", "")
        if token == TIMEOUT_TOKEN:
            raise ProviderUnavailable("no answer")
        if token == DECLINE_TOKEN:
            result = ProviderResult(
                Outcome.DECLINED,
                None,
                request.amount,
                error_code=ErrorCode.CARD_DECLINED,
                message="Your card was declined.",
            )
        else:
            result = ProviderResult(Outcome.SUCCEEDED, f"fk_{next(self._ids)}", request.amount)
        return self._reply(operation, request.idempotency_key, result)

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase("authorize", request)

    def charge(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase("charge", request)

    def _follow(self, operation: str, request: FollowUpRequest) -> ProviderResult:
        fresh = request.idempotency_key not in self.replies  # a replayed key gets its first answer again
        if fresh and operation in self.decline_next:
            code = self.decline_next.pop(operation)
            result = ProviderResult(
                Outcome.DECLINED,
                request.provider_reference,
                request.amount,
                error_code=ErrorCode(code),
                message=f"{code}.",
            )
        else:
            reported = self.report_next.pop(operation, request.amount.amount) if fresh else request.amount.amount
            result = ProviderResult(
                Outcome.SUCCEEDED, request.provider_reference, Money(reported, request.amount.currency)
            )
        return self._reply(operation, request.idempotency_key, result)

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        return self._follow("capture", request)

    def cancel(self, request: FollowUpRequest) -> ProviderResult:
        return self._follow("cancel", request)

    def refund(self, request: FollowUpRequest) -> ProviderResult:
        return self._follow("refund", request)

    def check_connection(self) -> ProviderResult | None:
        if self.settings.get("api_key") == "sk_test_rejected":
            raise ProviderMisconfigured("the gateway answered 401: invalid API key")
        return ProviderResult(Outcome.SUCCEEDED, None, Money(Decimal("0"), "USD"), message="Merchant account found.")
