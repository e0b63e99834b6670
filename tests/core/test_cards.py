"""One card module: the Luhn check and the brand of a number, as the storefront and every simulator read them."""

from __future__ import annotations

import pytest

from core.cards import card_brand, luhn_valid


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4242424242424242", True),
        ("4242424242424241", False),
        ("2223003122003222", True),  # Mastercard 2-series test card
        ("378282246310005", True),
        ("4222222222222", True),  # 13 digits
        ("000000000000000", True),  # passes the check; Payflow refuses it by name
        ("42424242424", False),  # 11 digits: too short to be a card
        ("42424242424242424242", False),  # 20 digits
        ("4242 4242 4242 4242", False),  # callers strip separators first
        ("", False),
    ],
)
def test_luhn_check(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("5105105105105100", "mastercard"),
        ("2221000000000009", "mastercard"),  # first of the 2-series
        ("2223003122003222", "mastercard"),
        ("2720990000000007", "mastercard"),  # last of the 2-series
        ("2220990000000000", "unknown"),  # just below it
        ("2721000000000000", "unknown"),  # just above it
        ("2200000000000000", "unknown"),
        ("2000000000000000", "unknown"),
        ("378282246310005", "american_express"),
        ("371449635398431", "american_express"),
        ("6011111111111117", "discover"),
        ("6445644564456445", "discover"),
        ("6500000000000002", "discover"),
        ("3530111333300000", "jcb"),
        ("3566002020360505", "jcb"),
        ("3500000000000000", "unknown"),  # 35 below JCB's 3528
        ("30569309025904", "diners_club"),
        ("36227206271667", "diners_club"),
        ("3850000000000000", "diners_club"),
        ("6200000000000005", "china_union_pay"),
        ("9999999999999995", "unknown"),
        ("", "unknown"),
    ],
)
def test_brand_of_a_number(number: str, brand: str) -> None:
    assert card_brand(number) == brand


WIDGETS_WITH_A_BRAND_CHECK = [
    "providers/payflow/templates/payflow/transparent_redirect.html",
    "providers/authorizenet/templates/authorizenet/widget.html",
]


@pytest.mark.parametrize("template", WIDGETS_WITH_A_BRAND_CHECK)
def test_a_widgets_in_browser_mastercard_check_agrees_with_the_card_module(template: str) -> None:
    """The widgets tell the brand in the browser (the number never reaches us), so they cannot import this module;
    their Mastercard pattern must still draw the 2-series line where it does (2221-2720)."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / template).read_text()
    (pattern,) = re.findall(r"/(\^[^/]+)/\.test\([a-z]+\)\)\s*(?:\{\s*)?return \"mastercard\"", text)
    for prefix in ("2220", "2221", "2229", "2230", "2299", "2300", "2699", "2700", "2719", "2720", "2721", "5100"):
        number = prefix + "000000000000"
        assert (re.match(pattern, number) is not None) == (card_brand(number) == "mastercard"), prefix
