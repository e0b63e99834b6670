"""What the payment step accepts from the browser: the fields a widget posts, never card data.

Card widgets tokenize in the browser against the provider; only a token (or other opaque data) comes back
here, as `payment_data[<name>]` fields. A field named like a card number or security code, or any value that
looks like a card number, refuses the whole submission, so a misbuilt widget fails loudly instead of putting
card data in our requests, logs and database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.cards import luhn_valid

FIELD = re.compile(r"^payment_data\[(?P<name>[A-Za-z0-9_.-]{1,64})\]$")
CARD_FIELD_NAMES = frozenset(
    {
        "number",
        "cardnumber",
        "ccnumber",
        "creditcardnumber",
        "pan",
        "acct",
        "accountnumber",
        "cvc",
        "cvv",
        "cvv2",
        "cvc2",
        "cvn",
        "csc",
        "cid",
        "cardcode",
        "securitycode",
        "cardsecuritycode",
        "expiry",
        "expdate",
        "expirationdate",
    }
)
MAX_FIELDS = 20
MAX_VALUE = 4096


class CardDataRefused(ValueError):
    """The browser sent something that looks like card data."""


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower().rsplit("[", 1)[-1])


def looks_like_card_field(name: str) -> bool:
    plain = _normalise(name)
    return plain in CARD_FIELD_NAMES or "cardnumber" in plain or plain.endswith(("cvc", "cvv"))


def looks_like_card_number(value: str) -> bool:
    """13 to 19 digits (spaces and dashes allowed) that pass the Luhn check."""
    digits = re.sub(r"[ -]", "", value)
    return len(digits) >= 13 and luhn_valid(digits)


def collect_payment_data(post: Mapping[str, str]) -> dict[str, str]:
    """The `payment_data[...]` fields of a POST, or CardDataRefused if any field of it smells of card data."""
    data: dict[str, str] = {}
    for name in post:
        value = post[name]
        if looks_like_card_field(name) or looks_like_card_number(str(value)):
            raise CardDataRefused(name)
        match = FIELD.match(name)
        if match is None:
            continue
        if len(data) >= MAX_FIELDS or len(value) > MAX_VALUE:
            raise ValueError("Too much payment data.")
        data[match["name"]] = value
    return data
