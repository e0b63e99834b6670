"""What the Stripe API versions the sandbox plays change, from Stripe's changelog (docs.stripe.com/changelog).

Stripe renders every reply in the request's version (`Stripe-Version`, else the account's default) and every
event in the version of the webhook endpoint that receives it. The sandbox keeps one canonical state and renders
it per version with the functions here. Only what the changelog documents for the parameters, objects and events
this sandbox serves is modelled:

* 2022-11-15: the PaymentIntent loses its `charges` list (use `latest_charge`); a Charge no longer carries its
  `refunds` list unless expanded (`expand[]=refunds`, which every version honours);
* 2023-08-16: a PaymentIntent without `payment_method_types` uses dynamic payment methods
  (`automatic_payment_methods[enabled]` defaults to true), so a server-side confirm needs a `return_url`;
* 2024-10-28.acacia: `refund.created`, `refund.updated` and `refund.failed` are sent for refunds of charges too
  (before, only for refunds without a charge);
* 2025-03-31.basil: a partial capture or a cancellation no longer creates a Refund for the released amount, no
  longer adds it to the Charge's `amount_refunded`, and no longer sends `charge.refunded` for it;
* 2026-07-29.dahlia: `allowed_payment_method_types` is added (exclusive with `payment_method_types` and
  `automatic_payment_methods`);
* 2026-08-26.preview and 2026-09-30.endive: `payment_method_types` can no longer be written (400
  `payment_method_types_no_longer_supported`).

Nothing here is imported from the adapter: the sandbox is an oracle written from the documentation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: the newest version this sandbox knows, and the default of an account that never chose one
LATEST = "2026-10-28.endive"

#: first release date of each named major (before acacia, versions are bare dates)
MAJORS: tuple[tuple[str, str], ...] = (
    ("2024-09-30", "acacia"),
    ("2025-03-31", "basil"),
    ("2025-09-30", "clover"),
    ("2026-03-25", "dahlia"),
    ("2026-09-30", "endive"),
)
FIRST_VERSION = "2011-06-21"


@dataclass(frozen=True)
class ApiVersion:
    """One Stripe API version, compared by its date."""

    raw: str
    date: str
    name: str  # "" for bare dates, the major's name, or "preview"

    @classmethod
    def parse(cls, raw: str) -> ApiVersion | None:
        """The version Stripe would accept for `raw`, or None (Stripe answers 400 to an unknown version)."""
        match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:\.([a-z]+))?", raw.strip())
        if match is None:
            return None
        date, name = match[1], match[2] or ""
        if date < FIRST_VERSION or date > LATEST[:10]:
            return None
        if name == "preview":
            return cls(raw.strip(), date, name)
        expected = next((major for start, major in reversed(MAJORS) if date >= start), "")
        if name != expected:
            return None  # bare dates end at acacia; named ones must name their own major
        return cls(raw.strip(), date, name)

    # --- behaviour switches, one per documented change -----------------------------------------------------

    @property
    def payment_intent_has_charges(self) -> bool:
        return self.date < "2022-11-15"

    @property
    def charge_lists_refunds(self) -> bool:
        return self.date < "2022-11-15"

    @property
    def dynamic_payment_methods_by_default(self) -> bool:
        return self.date >= "2023-08-16"

    @property
    def refund_events_for_charges(self) -> bool:
        return self.date >= "2024-10-28"

    @property
    def releases_are_refunds(self) -> bool:
        """A partial capture's released rest, or a canceled authorization, shows as a Refund."""
        return self.date < "2025-03-31"

    @property
    def knows_allowed_payment_method_types(self) -> bool:
        return self.date >= "2026-07-29"

    @property
    def refuses_payment_method_types(self) -> bool:
        return self.date >= "2026-09-30" or (self.name == "preview" and self.date >= "2026-08-26")


def version_of(raw: str | None, default: str = LATEST) -> ApiVersion:
    """A known version (the default when `raw` is empty); ValueError for one Stripe would refuse."""
    found = ApiVersion.parse(raw or default)
    if found is None:
        raise ValueError(raw)
    return found


# --- events: which endpoint versions receive which event -------------------------------------------------------

#: an event's audience: every version, or only those where a documented change says it is sent
AUDIENCES = {
    "all": lambda v: True,
    "releases_are_refunds": lambda v: v.releases_are_refunds,
    "refund_events_for_charges": lambda v: v.refund_events_for_charges,
    "release_refund_events": lambda v: v.releases_are_refunds and v.refund_events_for_charges,
}


def receives(version: ApiVersion, audience: str) -> bool:
    return bool(AUDIENCES[audience](version))


# --- rendering canonical objects in a version -----------------------------------------------------------------


def public(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An object as Stripe shows it: without the sandbox's own `_` fields."""
    return {k: public(v) if isinstance(v, Mapping) else v for k, v in obj.items() if not k.startswith("_")}


def visible_refunds(refunds: Sequence[Mapping[str, Any]], version: ApiVersion) -> list[Mapping[str, Any]]:
    """The refunds a version shows, newest first: releases (partial capture, cancel) only before basil."""
    return [r for r in refunds if version.releases_are_refunds or not r.get("_release")]


def render_refund(refund: Mapping[str, Any], version: ApiVersion) -> dict[str, Any]:
    return public(refund)


#: how many objects an embedded list (a Charge's `refunds`) holds: a list's default page; the rest is read from
#: the list's own endpoint with `starting_after` (docs.stripe.com/api/pagination, /expand)
SUBLIST_PAGE = 10


def render_charge(
    charge: Mapping[str, Any],
    refunds: Sequence[Mapping[str, Any]],
    version: ApiVersion,
    *,
    expand_refunds: bool = False,
) -> dict[str, Any]:
    """A Charge in `version`; `refunds` are all of its refunds (releases included), newest first. The `refunds`
    list is shown where the version lists it by default, or when the request expands it."""
    shown = visible_refunds(refunds, version)
    out = public(charge)
    refunded = sum(r["amount"] for r in shown if r.get("status") in ("succeeded", "pending"))
    out["amount_refunded"] = refunded
    if version.releases_are_refunds:
        released_uncaptured = charge.get("_canceled") and not charge.get("captured")
        out["amount_captured"] = None if released_uncaptured else charge.get("amount_captured", 0)
        out["refunded"] = bool(charge.get("paid")) and refunded >= charge["amount"]
    else:
        out["amount_captured"] = charge.get("amount_captured", 0)
        captured = charge.get("amount_captured") or 0
        out["refunded"] = bool(charge.get("captured")) and captured > 0 and refunded >= captured
    if version.charge_lists_refunds or expand_refunds:
        out["refunds"] = {
            "object": "list",
            "data": [render_refund(r, version) for r in shown[:SUBLIST_PAGE]],
            "has_more": len(shown) > SUBLIST_PAGE,
            "url": f"/v1/charges/{charge['id']}/refunds",
        }
        if version.charge_lists_refunds:
            out["refunds"]["total_count"] = len(shown)
    else:
        out.pop("refunds", None)
    return out


def render_payment_intent(
    pi: Mapping[str, Any],
    charges: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
    version: ApiVersion,
) -> dict[str, Any]:
    """A PaymentIntent in `version`; `charges` are its charges (newest first), each with its refunds."""
    out = public(pi)
    if version.payment_intent_has_charges:
        out.pop("latest_charge", None)
        out["charges"] = {
            "object": "list",
            "data": [render_charge(charge, refunds, version) for charge, refunds in charges],
            "has_more": False,
            "total_count": len(charges),
            "url": f"/v1/charges?payment_intent={pi['id']}",
        }
    return out
