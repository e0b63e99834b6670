"""Build the adapter of an integration: decrypted settings plus the base URL of its environment."""

from __future__ import annotations

from django.conf import settings

from integrations.models import Integration
from providers import registry
from providers.base import Adapter, MethodInfo


def adapter_for(integration: Integration) -> Adapter:
    cls = registry.adapter_class(integration.provider_key)
    if integration.environment == Integration.Environment.SANDBOX:
        base_url = f"{settings.SANDBOX_BASE_URL}/{integration.provider_key}"
    elif integration.environment == Integration.Environment.TEST:
        base_url = cls.test_base_url
    else:
        base_url = cls.live_base_url
    return cls(integration.adapter_settings(), base_url=base_url)


def integration_methods(integration: Integration) -> list[MethodInfo]:
    return adapter_for(integration).methods(integration.as_info())


def method_for(integration: Integration, identifier: str) -> MethodInfo:
    """The method of `integration` called `identifier`; LookupError if it exposes none by that name."""
    for method in integration_methods(integration):
        if method.identifier == identifier:
            return method
    raise LookupError(f"{integration} has no payment method {identifier!r}")
