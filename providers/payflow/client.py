"""Payflow's wire: the name-value POST (`nvp.py` writes and reads the pairs), the ids our idempotency key becomes
(X-VPS-REQUEST-ID, CUSTREF, SECURETOKENID), amounts and billing fields as Payflow takes them."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from providers.base import AddressInfo, Money, ProviderMisconfigured, ProviderUnavailable, currency_exponent
from providers.base import street_lines as street_lines_of
from providers.base import subdivision as subdivision_of
from providers.payflow import nvp

logger = logging.getLogger(__name__)

#: the Payflow Pro developer's guide: maximum lengths of the billing fields we send
FIELD_LIMITS = {
    "FIRSTNAME": 30,
    "LASTNAME": 30,
    "COMPANYNAME": 30,
    "STREET": 30,
    "CITY": 20,
    "STATE": 10,
    "ZIP": 9,
    "BILLTOCOUNTRY": 2,
    "EMAIL": 60,
    "INVNUM": 9,
    "PONUM": 15,  # the buyer's PO number; ours may hold 25 (Authorize.Net's limit), Payflow keeps the first 15
    "COMMENT1": 128,
}
DOMESTIC = ("US",)  # where ZIP is numeric and STATE the 2-letter code
NO_DECIMALS = frozenset({"HUF", "JPY", "TWD"})
#: the credentials or account are wrong: a human must fix the integration
MISCONFIGURED = frozenset({1, 5, 26, 27, 28})
#: the gateway did not reach a result (client time-out); whether money moved is unknown
UNKNOWN = frozenset({11})


def request_id(key: str) -> str:
    """`X-VPS-REQUEST-ID` for an idempotency key: the key itself when it fits Payflow's 1–32 printable
    characters, otherwise its SHA-256 (32 hex digits). The same key always gives the same id."""
    if 1 <= len(key) <= 32 and all(33 <= ord(c) <= 126 for c in key):
        return key
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def custref(key: str) -> str:
    """`CUSTREF` (12 alphanumerics) for an idempotency key, for inquiries by our reference."""
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:10], "big")
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    for _ in range(12):
        number, rest = divmod(number, 36)
        out += digits[rest]
    return out


def secure_token_id(key: str) -> str:
    """`SECURETOKENID` (≤36 alphanumerics, unique per token) for an idempotency key."""
    return "PD" + hashlib.sha256(key.encode()).hexdigest()[:32]


def format_amount(money: Money) -> str:
    """`AMT` as Payflow wants it: digits and a point, no symbols, no thousands separators ("1234.50").

    HUF, JPY and TWD take no decimals at PayPal; other currencies take their usual places.
    """
    places = 0 if money.currency in NO_DECIMALS else currency_exponent(money.currency)
    value = money.amount.quantize(Decimal(1).scaleb(-places))
    if value != money.amount:
        raise ValueError(f"{money} has more places than PayPal takes in {money.currency}")
    return f"{value:.{places}f}"


def parse_amount(value: str | None, currency: str) -> Money | None:
    """An amount field of a reply; None when it is missing or not a number."""
    try:
        return Money(Decimal(value), currency) if value not in (None, "") else None
    except InvalidOperation:
        return None


def billing_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """Fields as Payflow takes them: a US ZIP as its 5 or 9 digits (no dash), other postal codes as letters and
    digits; every field cut to its documented length (`FIELD_LIMITS`), an e-mail address that does not fit left
    out rather than cut; INVNUM as the last 9 letters and digits of our reference (COMMENT1 keeps it whole)."""
    out = {k: " ".join(str(v).split()) for k, v in fields.items() if v}
    country = out.get("BILLTOCOUNTRY", "").upper()
    domestic = country in DOMESTIC or not country
    if "ZIP" in out and domestic:
        digits = re.sub(r"\D", "", out["ZIP"])
        out["ZIP"] = digits[:9] if len(digits) >= 9 else digits[:5] if len(digits) >= 5 else ""
    elif "ZIP" in out:
        out["ZIP"] = re.sub(r"[^A-Za-z0-9]", "", out["ZIP"]).upper()
    if domestic and "STATE" in out and len(out["STATE"]) != 2:
        del out["STATE"]  # only the 2-letter code is taken for a US address
    if "INVNUM" in out:
        out["INVNUM"] = re.sub(r"[^A-Za-z0-9]", "", out["INVNUM"])[-FIELD_LIMITS["INVNUM"] :]
    if "EMAIL" in out and len(out["EMAIL"]) > FIELD_LIMITS["EMAIL"]:
        del out["EMAIL"]
    for name, limit in FIELD_LIMITS.items():
        if name in out:
            out[name] = out[name][:limit].rstrip()
    return {k: v for k, v in out.items() if v}


def address_fields(address: AddressInfo) -> dict[str, str]:
    """A billing address as Payflow's fields, before `billing_fields` cuts them: the state as its code."""
    return {
        "FIRSTNAME": address.first_name,
        "LASTNAME": address.last_name,
        "COMPANYNAME": address.organization,
        "STREET": street_lines_of(address),
        "CITY": address.city,
        "STATE": subdivision_of(address, form="code"),
        "ZIP": address.postal_code,
        "BILLTOCOUNTRY": address.country_iso2,
    }


def post(
    session: requests.Session,
    url: str,
    operation: str,
    body: Mapping[str, Any],
    *,
    key: str | None,
    timeouts: tuple[float, float],
    debug: bool,
    scrub: Callable[[Any], Any],
) -> dict[str, str] | None:
    """POST one NVP request; the reply's pairs, or None when the reply cannot be read.

    `key` is the idempotency key behind X-VPS-REQUEST-ID; None for reads (inquiries), which get a fresh id so
    Payflow never replays an old answer to them. Raises `ProviderUnavailable` when we cannot know the outcome
    and `ProviderMisconfigured` for refused credentials.
    """
    data = nvp.encode(body)
    headers = {
        "Content-Type": "text/namevalue",
        "X-VPS-REQUEST-ID": request_id(key) if key is not None else uuid.uuid4().hex,
        "X-VPS-CLIENT-TIMEOUT": str(int(timeouts[1]) or 1),
    }
    try:
        reply = session.post(url, data=data, headers=headers, timeout=timeouts)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise ProviderUnavailable(f"Payflow {operation}: no answer ({type(exc).__name__})") from exc
    if reply.status_code >= 500:
        raise ProviderUnavailable(f"Payflow {operation} answered HTTP {reply.status_code}")
    if debug:
        logger.debug("Payflow %s: sent %s", operation, scrub(nvp.decode(data)))
    if reply.status_code != 200:
        return None
    try:
        pairs = nvp.decode(reply.content)
    except nvp.NVPError:
        return None
    if "RESULT" not in pairs:
        return None
    try:
        result = int(pairs["RESULT"])
    except ValueError:
        return None
    if debug:
        logger.debug("Payflow %s: answered %s", operation, scrub(pairs))
    if result < 0 or result in UNKNOWN:  # communication errors: the outcome is unknown
        raise ProviderUnavailable(f"Payflow {operation}: RESULT {result} {pairs.get('RESPMSG', '')}".strip())
    if result in MISCONFIGURED:
        raise ProviderMisconfigured(f"Payflow refused the credentials ({operation}): RESULT {result}")
    return pairs
