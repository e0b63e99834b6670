"""Writes for integrations: create and update (secrets write-only), deactivate, activate and delete.

Secrets are never shown again once stored, so a form or an API request that leaves one empty means "keep it":
`provider_values_with_stored` is what a settings check sees, `integration_values_apply` what is stored. The
back-office form and the API both go through these.

Switching an integration off, on, or deleting it locks its row, and the rules that offer its methods follow in
the same transaction through one call to `payment_rules.services`, which owns what happens to rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.models import Integration
from payment_rules.services import (
    AffectedRule,
    PendingRestore,
    integration_rules_disable,
    integration_rules_restore,
)
from payments.models import PaymentTransaction


def provider_values_with_stored(
    *, values: Mapping[str, Any], stored_secrets: Mapping[str, str], secret_fields: Iterable[str]
) -> dict[str, Any]:
    """The provider settings as they will be once saved: a secret left empty is the stored one (and is checked
    as such)."""
    merged = dict(values)
    for name in secret_fields:
        if not merged.get(name):
            merged[name] = stored_secrets.get(name, "")
    return merged


def integration_values_apply(
    *,
    integration: Integration,
    values: Mapping[str, Any],
    secret_fields: Iterable[str],
    labels: Mapping[str, str] | None = None,
    short_labels: Mapping[str, str] | None = None,
) -> Integration:
    """Put the provider settings (and labels) on the integration, unsaved: plain settings are replaced, a secret
    only when a new value is given (write-only: an empty one keeps what is stored)."""
    secret_fields = set(secret_fields)
    if labels is not None:
        integration.labels = dict(labels)
    if short_labels is not None:
        integration.short_labels = dict(short_labels)
    secrets = dict(integration.secrets or {})
    settings = dict(integration.settings or {})
    for name, value in values.items():
        if name in secret_fields:
            if value:
                secrets[name] = value
        else:
            settings[name] = value
    integration.settings = settings
    integration.secrets = secrets
    return integration


def integration_create(
    *,
    provider_key: str,
    name: str,
    values: Mapping[str, Any],
    secret_fields: Iterable[str],
    labels: Mapping[str, str],
    short_labels: Mapping[str, str] | None = None,
    **fields: Any,
) -> Integration:
    """A new integration of one provider, with its settings already checked by the provider's settings form."""
    integration = Integration(provider_key=provider_key, name=name, **fields)
    integration_values_apply(
        integration=integration,
        values=values,
        secret_fields=secret_fields,
        labels=labels,
        short_labels=short_labels or {},
    )
    integration.save()
    return integration


def integration_update(
    *,
    integration: Integration,
    values: Mapping[str, Any],
    secret_fields: Iterable[str],
    labels: Mapping[str, str] | None = None,
    short_labels: Mapping[str, str] | None = None,
    **fields: Any,
) -> Integration:
    """Change an integration's settings; a secret left empty keeps the stored one. Switching it on or off goes
    through `integration_activate` / `integration_deactivate`, which see to its rules."""
    for field, value in fields.items():
        setattr(integration, field, value)
    integration_values_apply(
        integration=integration, values=values, secret_fields=secret_fields, labels=labels, short_labels=short_labels
    )
    integration.save()
    return integration


def _lock(integration: Integration) -> Integration:
    locked = Integration.objects.select_for_update().get(pk=integration.pk)
    integration.active = locked.active
    return locked


@transaction.atomic
def integration_deactivate(*, integration: Integration) -> list[AffectedRule]:
    """Hide its methods from checkouts at once: disable them in every rule, disable the rules left without an
    enabled method, and record both for `integration_activate`. Returns the rules that use it.

    Existing payments can still be captured, canceled and refunded. Deactivating an inactive integration changes
    nothing.
    """
    locked = _lock(integration)
    if not locked.active:
        return []
    affected = integration_rules_disable(integration=locked)
    locked.active = False
    locked.save(update_fields=["active", "updated_at"])
    integration.active = False
    return affected


@transaction.atomic
def integration_activate(*, integration: Integration, restore: bool = True) -> PendingRestore:
    """Take new payments again. With `restore`, switch back on what its deactivations switched off and is still
    off (see `payment_rules.services.integration_pending_restore`). Returns what was restored."""
    locked = _lock(integration)
    if locked.active or locked.deleted_at is not None:
        return PendingRestore(rules=[], methods=[])
    restored = integration_rules_restore(integration=locked, restore=restore)
    locked.active = True
    locked.save(update_fields=["active", "updated_at"])
    integration.active = True
    return restored


@transaction.atomic
def integration_delete(*, integration: Integration) -> list[AffectedRule]:
    """Delete: disable its methods in every rule and disable rules left without an enabled method.

    An integration that has payments is kept as a deleted (hidden, inactive) row, so those payments can still
    be captured and refunded; one without payments is removed. Returns the rules that were affected.

    A deleted integration is never activated again, but the rules it (and its earlier deactivations) left
    without a method are recorded and stay so, so that activating another of their integrations brings them back.
    """
    _lock(integration)
    affected = integration_rules_disable(integration=integration, deleting=True)
    if PaymentTransaction.objects.filter(integration=integration).exists():
        integration.active = False
        integration.deleted_at = timezone.now()
        integration.save(update_fields=["active", "deleted_at", "updated_at"])
    else:
        integration.delete()
    return affected
