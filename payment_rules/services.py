"""Integrations and rules stay consistent: deactivating and deleting an integration, and what it does to rules.

These live here, not in `integrations`, because rules depend on integrations and not the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from integrations.models import Integration
from payment_rules.models import PaymentRule, PaymentRuleMethod, RuleSetVersion
from payments.models import PaymentTransaction


@dataclass(frozen=True, slots=True)
class AffectedRule:
    rule: PaymentRule
    #: the rule has no other enabled method, so deleting the integration disables it
    will_be_disabled: bool


def rules_using_integration(*, integration: Integration) -> list[AffectedRule]:
    """The rules that offer a method of this integration, and which of them deleting it would disable."""
    rules = (
        PaymentRule.objects.filter(pk__in=PaymentRuleMethod.objects.filter(integration=integration).values("rule_id"))
        .annotate(
            others=Count(
                "methods", filter=Q(methods__enabled=True) & ~Q(methods__integration=integration), distinct=True
            )
        )
        .order_by("sort_order", "id")
    )
    return [AffectedRule(rule=rule, will_be_disabled=rule.enabled and rule.others == 0) for rule in rules]


@transaction.atomic
def integration_deactivate(*, integration: Integration) -> None:
    """Hide its methods from checkouts at once; rules keep them, so reactivating brings them back.

    Existing payments can still be captured, canceled and refunded.
    """
    integration.active = False
    integration.save(update_fields=["active", "updated_at"])


@transaction.atomic
def integration_activate(*, integration: Integration) -> None:
    integration.active = True
    integration.save(update_fields=["active", "updated_at"])


@transaction.atomic
def integration_delete(*, integration: Integration) -> list[AffectedRule]:
    """Delete: disable its methods in every rule and disable rules left without an enabled method.

    An integration that has payments is kept as a deleted (hidden, inactive) row, so those payments can still
    be captured and refunded; one without payments is removed. Returns the rules that were affected.
    """
    affected = rules_using_integration(integration=integration)
    PaymentRuleMethod.objects.filter(integration=integration).update(enabled=False)
    to_disable = [a.rule.pk for a in affected if a.will_be_disabled]
    PaymentRule.objects.filter(pk__in=to_disable).update(enabled=False, updated_at=timezone.now())
    if PaymentTransaction.objects.filter(integration=integration).exists():
        integration.active = False
        integration.deleted_at = timezone.now()
        integration.save(update_fields=["active", "deleted_at", "updated_at"])
    else:
        integration.delete()
    RuleSetVersion.bump()  # queryset updates send no signals
    return affected
