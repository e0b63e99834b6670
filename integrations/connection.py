"""Checks an administrator runs on an integration: does the provider accept its credentials, do they match
its environment. Nothing here writes; messages never carry a secret."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib import messages

from integrations.adapters import adapter_for
from integrations.models import Integration
from providers import registry
from providers.base import (
    Capability,
    Outcome,
    ProviderError,
    ProviderMisconfigured,
    ProviderUnavailable,
    WebhookSetup,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    level: int  # a django.contrib.messages level
    message: str


def integration_check_connection(*, integration: Integration) -> ConnectionCheck:
    """Call the provider (its sandbox in sandbox mode) with the stored credentials and say what came back."""
    where = integration.get_environment_display()
    try:
        result = adapter_for(integration).check_connection()
    except ProviderMisconfigured as exc:
        check = ConnectionCheck(messages.ERROR, f"The provider rejected the credentials ({where}): {exc}")
    except ProviderUnavailable as exc:
        check = ConnectionCheck(messages.ERROR, f"The provider did not answer ({where}): {exc}")
    except ProviderError as exc:
        check = ConnectionCheck(messages.ERROR, f"The connection check failed ({where}): {exc}")
    else:
        if result is None:
            check = ConnectionCheck(
                messages.INFO, f"{integration.provider_label} has no provider to call; there is nothing to check."
            )
        elif result.outcome == Outcome.SUCCEEDED:
            detail = f" {result.message}" if result.message else ""
            check = ConnectionCheck(
                messages.SUCCESS, f"The connection to {integration.provider_label} works ({where}).{detail}"
            )
        else:
            detail = result.message or result.error_code or result.outcome.value
            check = ConnectionCheck(messages.ERROR, f"The provider refused the connection check ({where}): {detail}")
    logger.info("Connection check of integration %s: %s", integration.pk, messages.DEFAULT_TAGS.get(check.level))
    return check


def integration_credential_warning(*, integration: Integration) -> str:
    """A warning when a live integration holds test credentials or a sandbox/test one holds live credentials.

    The provider's settings form tells which kind its credentials are (`credential_mode`); "" when they match
    or do not tell.
    """
    try:
        form_class = registry.settings_form_class(integration.provider_key)
    except KeyError:
        return ""
    credential_mode = getattr(form_class, "credential_mode", None)
    mode = credential_mode(integration.adapter_settings()) if credential_mode else None
    if integration.environment == Integration.Environment.LIVE and mode == "test":
        return (
            "This integration is live but holds test credentials: buyers' payments will not reach the real "
            "merchant account."
        )
    if integration.environment != Integration.Environment.LIVE and mode == "live":
        return (
            f"This integration is set to “{integration.get_environment_display()}” but holds live credentials: "
            "test payments could move real money."
        )
    return ""


def integration_webhook_url(*, integration: Integration) -> str:
    """The URL to paste into the provider's dashboard, for providers that send webhooks."""
    adapter = adapter_for(integration) if integration.pk else None
    if adapter is None or not adapter.supports(Capability.WEBHOOKS):
        return ""
    token = adapter.options.text(adapter.webhook_url_token_setting) if adapter.webhook_url_token_setting else ""
    return f"{integration.get_webhook_url()}{token}/" if token else integration.get_webhook_url()


def integration_webhook_setup(*, integration: Integration) -> WebhookSetup | None:
    """What to configure at the provider for this integration's webhooks, as its adapter says (None for
    providers that send none, or whose provider is not installed)."""
    try:
        cls = registry.adapter_class(integration.provider_key)
    except KeyError:
        return None
    return cls.webhook_setup()


def integration_webhook_secret_missing(*, integration: Integration, setup: WebhookSetup | None) -> bool:
    """Whether the provider sends webhooks and the integration holds no signing secret: every delivery is then
    refused, and payments settled at the provider are learnt only by reconcile."""
    if setup is None or not setup.signing_field:
        return False
    return not str(integration.adapter_settings().get(setup.signing_field) or "").strip()
