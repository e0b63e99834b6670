"""Integrations and rules stay consistent: what deactivating, activating and deleting an integration does to the
rules that offer its methods.

`integrations.services` switches the integration itself and makes one call here for the rules' side, in its
transaction and after its row lock; the rules' logic stays here, with the rules.

Deactivating treats rules as deleting does (reference §5, as its user guide describes): the integration's
methods are disabled in every rule, and a rule left without an enabled method of a live integration is
disabled, so that a stop-processing rule can no longer hide the rules after it. What was switched off is
recorded, and activating the integration again can restore exactly that, together with any rule that was
disabled for lack of a live method and has one again (it may have been disabled when another of its
integrations went).

Each of these decides from rules and integrations other than its own (is another method of this rule live?), so
they lock the rules of the integration first: two administrators switching two integrations of one rule at
once are served one after the other, each seeing what the other did.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from integrations.models import Integration
from payment_rules.models import IntegrationDeactivation, PaymentRule, PaymentRuleMethod, RuleSetVersion


@dataclass(frozen=True, slots=True)
class AffectedRule:
    rule: PaymentRule
    #: the rule has no other enabled method of a live integration, so deleting or deactivating disables it
    will_be_disabled: bool


def rules_using_integration(*, integration: Integration) -> list[AffectedRule]:
    """The rules that offer a method of this integration, and which of them deleting or deactivating it would
    disable."""
    others = (
        Q(methods__enabled=True)
        & ~Q(methods__integration=integration)
        & Q(methods__integration__active=True, methods__integration__deleted_at__isnull=True)
    )
    rules = (
        PaymentRule.objects.filter(pk__in=PaymentRuleMethod.objects.filter(integration=integration).values("rule_id"))
        .annotate(others=Count("methods", filter=others, distinct=True))
        .order_by("sort_order", "id")
    )
    return [AffectedRule(rule=rule, will_be_disabled=rule.enabled and rule.others == 0) for rule in rules]


@dataclass(frozen=True, slots=True)
class PendingRestore:
    """What activating an integration again would switch back on."""

    rules: list[PaymentRule]  # rules the deactivation disabled that are still disabled
    methods: list[PaymentRuleMethod]  # its methods the deactivation disabled that are still disabled


def integration_pending_restore(*, integration: Integration) -> PendingRestore:
    """Its methods its deactivations disabled (still disabled), and the rules that would be enabled again: those a
    deactivation or deletion disabled (still disabled) that it offers a method in, or that its own deactivations
    disabled, and that would have an enabled method of a live integration once its methods are back."""
    own = IntegrationDeactivation.objects.filter(integration=integration, ended_at__isnull=True)
    methods = list(
        PaymentRuleMethod.objects.filter(pk__in=own.values("methods"), enabled=False)
        .select_related("rule")
        .order_by("rule__sort_order", "rule_id")
    )
    switched_off = IntegrationDeactivation.objects.filter(ended_at__isnull=True).values("rules")
    candidates = PaymentRule.objects.filter(
        Q(pk__in=own.values("rules")) | Q(pk__in=switched_off, methods__integration=integration), enabled=False
    ).distinct()
    coming_back = {method.pk for method in methods}
    live = Q(integration=integration) | Q(integration__active=True, integration__deleted_at__isnull=True)
    with_live_method = PaymentRuleMethod.objects.filter(Q(enabled=True) | Q(pk__in=coming_back), live).values("rule_id")
    rules = candidates.filter(pk__in=with_live_method).order_by("sort_order", "id")
    return PendingRestore(rules=list(rules), methods=methods)


def _lock_rules(integration: Integration) -> None:
    """Lock the rules this integration's switch can change: those offering one of its methods, and those its
    open deactivations disabled. In id order, so that two switches never wait for each other in a circle."""
    own = IntegrationDeactivation.objects.filter(integration=integration, ended_at__isnull=True)
    offering = PaymentRuleMethod.objects.filter(integration=integration).values("rule_id")
    rules = PaymentRule.objects.select_for_update().filter(Q(pk__in=offering) | Q(pk__in=own.values("rules")))
    list(rules.order_by("pk").values_list("pk", flat=True))


def integration_rules_disable(*, integration: Integration, deleting: bool = False) -> list[AffectedRule]:
    """The rules' side of deactivating or deleting an integration (`integrations.services`), in its transaction
    and after its row lock: disable its methods in every rule, disable the rules left without an enabled method,
    and record both for `integration_rules_restore`. Returns the rules that use it.

    A deactivation is always recorded (activating ends it); a deletion only when it switched something off.
    """
    _lock_rules(integration)
    affected = rules_using_integration(integration=integration)
    methods = list(PaymentRuleMethod.objects.filter(integration=integration, enabled=True).values_list("pk", flat=True))
    to_disable = [a.rule.pk for a in affected if a.will_be_disabled]
    switched_off = PaymentRuleMethod.objects.filter(integration=integration)
    (switched_off if deleting else switched_off.filter(pk__in=methods)).update(enabled=False)
    PaymentRule.objects.filter(pk__in=to_disable).update(enabled=False, updated_at=timezone.now())
    if not deleting or methods or to_disable:
        record = IntegrationDeactivation.objects.create(integration=integration)
        record.methods.set(methods)
        record.rules.set(to_disable)
    RuleSetVersion.bump()  # queryset updates send no signals
    return affected


def integration_rules_restore(*, integration: Integration, restore: bool = True) -> PendingRestore:
    """The rules' side of activating an integration again (`integrations.services`), in its transaction and after
    its row lock. With `restore`, switch back on what its deactivations switched off and is still off: its
    methods in rules, then the rules that have an enabled method of a live integration again (see
    `integration_pending_restore`). Its open deactivations end either way. Returns what was restored."""
    _lock_rules(integration)
    pending = integration_pending_restore(integration=integration) if restore else PendingRestore(rules=[], methods=[])
    PaymentRuleMethod.objects.filter(pk__in=[m.pk for m in pending.methods]).update(enabled=True)
    PaymentRule.objects.filter(pk__in=[rule.pk for rule in pending.rules]).update(
        enabled=True, updated_at=timezone.now()
    )
    IntegrationDeactivation.objects.filter(integration=integration, ended_at__isnull=True).update(
        ended_at=timezone.now(), restored=restore
    )
    RuleSetVersion.bump()
    return pending
