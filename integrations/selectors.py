"""Reads about integrations and the payment methods they expose."""

from __future__ import annotations

import re

from integrations.adapters import method_for
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
