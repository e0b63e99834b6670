"""Reads about integrations and the payment methods they expose."""

from __future__ import annotations

import re
from collections.abc import Iterable

from integrations.adapters import method_for
from integrations.labels import method_short_label
from integrations.models import Integration
from providers.base import MethodInfo

IDENTIFIER = re.compile(r"^(?P<key>[a-z][a-z0-9_]*?)_(?P<id>\d+)(?:_(?P<variant>[a-z0-9_]+))?$")


def method_resolve(identifier: str, *, active_only: bool = True) -> tuple[Integration, MethodInfo]:
    """The integration and method behind an identifier such as `money_order_3` or `authorizenet_7_echeck`.

    LookupError when it names nothing, or (with `active_only`) an integration that is switched off.
    """
    match = IDENTIFIER.match(identifier or "")
    if match is None:
        raise LookupError(f"{identifier!r} is not a payment method identifier")
    queryset = Integration.objects.filter(pk=int(match["id"]), provider_key=match["key"])
    if active_only:
        queryset = queryset.live()
    integration = queryset.first()
    if integration is None:
        raise LookupError(f"No active integration offers {identifier!r}")
    return integration, method_for(integration, identifier)


def method_short_labels(identifiers: Iterable[str], *, language: str | None = None) -> dict[str, str]:
    """The short label of each payment method identifier, also of switched-off or deleted integrations (old
    orders); the identifier itself when it names nothing. One query for all of them, however many rows and
    methods there are. The back-office and the storefront both read method labels here."""
    wanted = {i for i in identifiers if i}
    matches = {i: IDENTIFIER.match(i) for i in wanted}
    ids = {int(m["id"]) for m in matches.values() if m is not None}
    integrations = Integration.objects.in_bulk(ids) if ids else {}  # one query for every method of the page
    labels: dict[str, str] = {}
    for identifier, match in matches.items():
        integration = integrations.get(int(match["id"])) if match is not None else None
        if integration is None or match is None or integration.provider_key != match["key"]:
            labels[identifier] = identifier
            continue
        try:
            method = method_for(integration, identifier)
        except LookupError:
            labels[identifier] = identifier
            continue
        labels[identifier] = method_short_label(method, integration, language)
    return labels
