"""Choosers for the back-office forms: ISO 4217 currencies and ISO 3166-1 countries from pycountry's data, so staff
pick a code instead of typing one (a typo such as "UDS" used to be caught only by validation, or not at all)."""

from __future__ import annotations

from functools import cache

import pycountry

EMPTY = ("", "---------")


@cache
def _currencies() -> tuple[tuple[str, str], ...]:
    return tuple((c.alpha_3, f"{c.alpha_3} — {c.name}") for c in sorted(pycountry.currencies, key=lambda c: c.alpha_3))


@cache
def _countries() -> tuple[tuple[str, str], ...]:
    return tuple(sorted(((c.alpha_2, f"{c.name} ({c.alpha_2})") for c in pycountry.countries), key=lambda c: c[1]))


def currency_choices() -> list[tuple[str, str]]:
    """Every ISO 4217 currency, by code ("USD — US Dollar")."""
    return [EMPTY, *_currencies()]


def country_choices() -> list[tuple[str, str]]:
    """Every ISO 3166-1 country, by name ("United States (US)")."""
    return [EMPTY, *_countries()]
