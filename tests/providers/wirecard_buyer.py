"""The contract suite's buyer at Wirecard: every Wirecard payment waits for the buyer on the provider's page, so the
suite's purchases are finished there, as a buyer would, before they are read back with `getOrderDetails`."""

from __future__ import annotations

from collections.abc import Mapping

import requests

from providers.base import Outcome, PaymentRequest, ProviderResult, StatusRequest
from providers.wirecard.adapter import WirecardAdapter

#: payment data that says "leave the buyer on the provider's page" (the contract's 3-D Secure scenario)
LATER = "buyer_later"


def pay_page(next_action: Mapping[str, str], action: str = "pay") -> requests.Response:
    """The buyer on Wirecard's page: pay (or cancel); the page posts the confirm, then redirects."""
    reply = requests.post(next_action["redirect_url"], data={"action": action}, allow_redirects=False, timeout=20)
    assert reply.status_code == 302, reply.text
    return reply


class WirecardBuyer(WirecardAdapter):
    """The real adapter; after a purchase the buyer pays on the provider's page and the result is read back."""

    profile_key = "wirecard"

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        return self._buyer_pays(request, super().authorize(request), "authorize")

    def charge(self, request: PaymentRequest) -> ProviderResult:
        return self._buyer_pays(request, super().charge(request), "charge")

    def _buyer_pays(self, request: PaymentRequest, first: ProviderResult, action: str) -> ProviderResult:
        if first.outcome != Outcome.ACTION_REQUIRED or request.payment_data.get(LATER):
            return first
        pay_page(first.next_action)
        status = StatusRequest(
            request.idempotency_key, first.provider_reference, action, request.amount, request.method
        )
        return self.fetch_status(status)


class WirecardSepaBuyer(WirecardBuyer):
    profile_key = "wirecard_sepa"
