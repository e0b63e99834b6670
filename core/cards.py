"""What a card number says about itself: whether its check digit holds, and which brand issued it.

One module for the storefront's card-data tripwire and every simulator, so they cannot disagree (they once did on
Mastercard's 2-series). Brands are the names the settings forms use (`allowed_card_types`); a simulator maps them to
its provider's own words. Prefix ranges follow the card networks' published IIN tables.
"""

from __future__ import annotations

#: brand -> the IIN ranges (first digits, inclusive, compared at equal length) that identify it, checked in order
BRAND_RANGES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("visa", (("4", "4"),)),
    ("mastercard", (("51", "55"), ("2221", "2720"))),
    ("american_express", (("34", "34"), ("37", "37"))),
    ("discover", (("6011", "6011"), ("644", "649"), ("65", "65"))),
    ("jcb", (("3528", "3589"),)),
    ("diners_club", (("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39"))),
    ("china_union_pay", (("62", "62"),)),
)


def luhn_valid(number: str) -> bool:
    """Whether a card number of 12 to 19 digits passes the Luhn check, as providers verify before anything else."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    """The brand a card number's leading digits name ("visa", "mastercard" …), or "unknown"."""
    for brand, ranges in BRAND_RANGES:
        for low, high in ranges:
            if len(number) >= len(low) and number[: len(low)].isdigit() and low <= number[: len(low)] <= high:
                return brand
    return "unknown"


#: brand names as providers write them in their answers, in our words
_BRAND_NAMES = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "americanexpress": "American Express",
    "amex": "American Express",
    "discover": "Discover",
    "jcb": "JCB",
    "dinersclub": "Diners Club",
    "unionpay": "UnionPay",
    "chinaunionpay": "UnionPay",
    "echeck": "eCheck",
}


def card_summary(response: object) -> str:
    """ "Visa •••• 1111" from a provider's stored (scrubbed) answer, or "" when it names no card.

    Reads the shapes answers are kept in: a masked account and its type (Authorize.Net's `account`,
    `account_type`) or a `card` object with `brand` and `last4`. Only the last four digits are ever shown, however
    many the answer holds."""
    if not isinstance(response, dict):
        return ""
    found = response.get("card")
    card: dict = found if isinstance(found, dict) else {}
    brand = str(card.get("brand") or response.get("account_type") or "")
    digits = "".join(ch for ch in str(card.get("last4") or response.get("account") or "") if ch.isdigit())
    if len(digits) < 4 and not brand:
        return ""
    name = _BRAND_NAMES.get(brand.lower().replace(" ", "").replace("_", ""), brand)
    last4 = f"•••• {digits[-4:]}" if len(digits) >= 4 else ""
    return " ".join(part for part in (name, last4) if part)
