"""Apruve's REST API v4 on the wire (providers.md §4): JSON over plain `requests`, the API key in a header, and
the secure hash that signs a checkout offer (§4.3).

Apruve has no idempotency header (providers.md §8): the adapter finds an earlier request of ours by the ids we
give Apruve (`merchant_order_id`, `merchant_invoice_id`) before it sends one again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import requests

from providers.base import ProviderMisconfigured, ProviderUnavailable

API_PATH = "/api/v4/"

#: §4.3: the order's fields in the order the hash concatenates them (Apruve's own order, not the JSON's)
ORDER_HASH_FIELDS = (
    "merchant_id",
    "merchant_order_id",
    "amount_cents",
    "currency",
    "tax_cents",
    "shipping_cents",
    "expire_at",
    "accepts_payment_terms",
    "finalize_on_create",
    "invoice_on_create",
)
#: §4.3: each item's fields, in order (`price_total_cents`, which Oro calls `amount_cents`)
ITEM_HASH_FIELDS = (
    "title",
    "plan_code",
    "price_total_cents",
    "price_ea_cents",
    "quantity",
    "merchant_notes",
    "description",
    "variant_info",
    "sku",
    "vendor",
    "view_product_url",
)


def _hash_value(value: Any) -> str:
    """A field as the hash reads it: booleans as `true`/`false`, missing as nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def secure_hash(api_key: str, order: Mapping[str, Any]) -> str:
    """sha256 hex of the API key, the order's values and each item's values, joined with no delimiter (§4.3)."""
    parts = [api_key]
    parts += [_hash_value(order.get(name)) for name in ORDER_HASH_FIELDS]
    for item in order.get("order_items") or ():
        parts += [_hash_value(item.get(name)) for name in ITEM_HASH_FIELDS]
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


class ApruveReply:
    """One HTTP answer: its status and its JSON body (None when the body is not JSON)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def data(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def items(self) -> list[dict[str, Any]]:
        """A listing's entries, whether Apruve sends a bare array or an object holding one."""
        return self.listing() or []

    def listing(self) -> list[dict[str, Any]] | None:
        """A listing's entries; None when the body is no listing at all (a proxy's page, a cut-off reply), which
        proves nothing about what Apruve holds."""
        if isinstance(self.body, list):
            return [entry for entry in self.body if isinstance(entry, dict)]
        for name in ("data", "results", "orders", "invoices", "invoice_returns"):
            found = self.data.get(name)
            if isinstance(found, list):
                return [entry for entry in found if isinstance(entry, dict)]
        return None


class ApruveClient:
    """One merchant's calls. 401/403 raise `ProviderMisconfigured`; no answer, 5xx and 429 raise
    `ProviderUnavailable` (we cannot know whether Apruve acted); any other status is returned for the adapter."""

    def __init__(self, base_url: str, api_key: str, *, timeouts: tuple[float, float]) -> None:
        self.root = base_url.rstrip("/") + API_PATH
        self._api_key = api_key
        self.timeouts = timeouts

    def call(self, method: str, path: str, *, body: Mapping[str, Any] | None = None, params: Any = None) -> ApruveReply:
        headers = {"Apruve-Api-Key": self._api_key, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            reply = requests.request(
                method,
                self.root + path,
                data=json.dumps(body) if body is not None else None,
                params=params,
                headers=headers,
                timeout=self.timeouts,
            )
        except requests.RequestException as exc:
            raise ProviderUnavailable(
                f"Apruve {method} {path.split('/')[0]}: no answer ({type(exc).__name__})"
            ) from exc
        if reply.status_code in (401, 403):
            raise ProviderMisconfigured(f"Apruve refused the merchant's API key (HTTP {reply.status_code})")
        if reply.status_code >= 500 or reply.status_code == 429:
            raise ProviderUnavailable(f"Apruve {method} {path.split('/')[0]} answered HTTP {reply.status_code}")
        try:
            parsed: Any = reply.json()
        except ValueError:
            parsed = None
        return ApruveReply(reply.status_code, parsed)
