"""Which payment methods a checkout offers (reference §4.2).

`match_methods` is a pure function of a checkout context and a compiled `RuleSet`:
currency → destination (billing address) → enabled, with at least one live method → condition → sort order →
stop after the first matching stop-processing rule → each live method that passes its provider's
`is_applicable`, once, at its first position. A rule none of whose methods is live (its integrations are
switched off) is left out before stop-processing applies, as the reference's enabled-rule filter does, so it can
never hide the rules after it.

`explain` runs the same steps for the back-office preview and records what each rule did.

`applicable_methods` is what views call: it keeps one compiled rule set per process and reloads it only when
`RuleSetVersion` moved, so a warm resolution costs one small query however many rules there are.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from integrations.adapters import adapter_for
from integrations.models import Integration
from payment_rules.expression import (
    MAX_CHECKOUT_STEPS,
    MAX_STEPS,
    STEPS_WHEN_SPENT,
    CompiledExpression,
    ExpressionBudgetExceeded,
    ExpressionRuntimeError,
    RuleData,
    build_variables,
    compile_expression,
)
from payment_rules.expression.values import MoneyObj, Obj, to_str, truthy
from payment_rules.models import PaymentRule, RuleSetVersion
from payment_rules.selectors import DatabaseRuleData
from providers.base import Adapter, AddressInfo, CheckoutContext, MethodInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Destination:
    country: str
    region_code: str = ""
    postal_codes: frozenset[str] = frozenset()

    def matches(self, address: AddressInfo) -> bool:
        if self.country != address.country_iso2.upper():
            return False
        if self.region_code and self.region_code != address.region_code.upper():
            return False
        if self.postal_codes:
            # The billing postal code may itself be a comma-separated list; any exact (case-blind) hit counts.
            given = {code.strip().upper() for code in address.postal_code.split(",")}
            return not self.postal_codes.isdisjoint(given)
        return True


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: int
    name: str
    sort_order: int
    stop_processing: bool
    methods: tuple[str, ...]  # enabled method identifiers, in the rule's order
    destinations: tuple[Destination, ...] = ()  # empty: anywhere, and also with no billing address
    condition: CompiledExpression | None = None
    enabled: bool = True  # the checkout's rule set holds enabled rules only; the preview shows the others too
    expression: str = ""  # the source, also when it no longer compiles

    def destination_matches(self, address: AddressInfo | None) -> bool:
        if not self.destinations:
            return True
        if address is None:  # rules with destinations never match a context without a billing address
            return False
        return any(d.matches(address) for d in self.destinations)

    @property
    def countries(self) -> frozenset[str]:
        return frozenset(d.country for d in self.destinations)


@dataclass(frozen=True, slots=True)
class LiveMethod:
    method: MethodInfo
    adapter: Adapter
    #: the live integration as the rule set was built from it (any change to it rebuilds the rule set)
    integration: Integration | None = None


@dataclass
class RuleSet:
    """Enabled rules by currency, sorted, plus the methods of live integrations. Immutable once built."""

    rules_by_currency: dict[str, tuple[CompiledRule, ...]]
    methods: dict[str, LiveMethod]
    version: int = 0
    #: where conditions read query-backed data (stock levels, the company's users) from
    data: RuleData | None = None
    _reported: set[tuple[int, str]] = field(default_factory=set, repr=False)
    _by_country: dict[tuple[str, str | None], tuple[CompiledRule, ...]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def usable(self, rule: CompiledRule) -> bool:
        """Enabled, and offering at least one method of a live integration."""
        return rule.enabled and any(identifier in self.methods for identifier in rule.methods)

    def candidates(self, currency: str, country: str | None) -> tuple[CompiledRule, ...]:
        """The usable rules that can match this currency and billing country, in order (memoised per pair)."""
        key = (currency, country)
        found = self._by_country.get(key)
        if found is None:
            rules = self.rules_by_currency.get(currency, ())
            found = tuple(
                r
                for r in rules
                if (not r.destinations or (country is not None and country in r.countries)) and self.usable(r)
            )
            with self._lock:
                self._by_country[key] = found
        return found

    def report_error(self, rule: CompiledRule, error: ExpressionRuntimeError) -> None:
        """Log a failing condition as a warning once per rule set and error, then at debug level."""
        key = (rule.id, str(error))
        level = logging.DEBUG if key in self._reported else logging.WARNING
        self._reported.add(key)
        logger.log(level, "Payment rule %s (%s) skipped: %s", rule.id, rule.name, error)


def compile_rules(
    rules: Iterable[PaymentRule], integrations: Iterable[Integration], *, include_disabled: bool = False
) -> RuleSet:
    """Build a rule set from enabled rules (with destinations and methods prefetched) and live integrations.

    With `include_disabled` (the preview) disabled rules and rules whose condition no longer compiles are kept,
    marked, so that they can be shown; they never match.
    """
    by_currency: dict[str, list[CompiledRule]] = {}
    for rule in rules:
        if not rule.enabled and not include_disabled:
            continue
        condition = None
        broken = False
        if rule.expression.strip():
            try:
                condition = compile_expression(rule.expression)
            except ValueError:
                logger.warning("Payment rule %s has an invalid expression; it is skipped", rule.pk)
                if not include_disabled:
                    continue
                broken = True
        compiled = CompiledRule(
            id=rule.pk,
            name=rule.name,
            sort_order=rule.sort_order,
            stop_processing=rule.stop_processing,
            methods=tuple(m.method for m in rule.methods.all() if m.enabled),
            destinations=tuple(
                Destination(
                    country=d.country.upper(),
                    region_code=d.region_code.upper(),
                    postal_codes=frozenset(code.upper() for code in d.postal_code_list),
                )
                for d in rule.destinations.all()
            ),
            condition=condition,
            enabled=rule.enabled and not broken,
            expression=rule.expression,
        )
        by_currency.setdefault(rule.currency.upper(), []).append(compiled)
    methods: dict[str, LiveMethod] = {}
    for integration in integrations:
        adapter = adapter_for(integration)
        for method in adapter.methods(integration.as_info()):
            methods[method.identifier] = LiveMethod(method=method, adapter=adapter, integration=integration)
    return RuleSet(
        rules_by_currency={
            currency: tuple(sorted(rules, key=lambda r: (r.sort_order, r.id)))
            for currency, rules in by_currency.items()
        },
        methods=methods,
    )


class RuleOutcome(enum.StrEnum):
    """What became of one rule on one checkout (the preview shows it)."""

    DISABLED = "disabled"
    NO_LIVE_METHOD = "no live method"
    DESTINATION = "destination does not match"
    CONDITION_FALSE = "condition is false"
    ERROR = "condition failed"
    MATCHED = "matched"
    STOPPED = "matched and stopped further rules"
    NOT_REACHED = "not reached: an earlier rule stopped processing"


@dataclass(frozen=True, slots=True)
class RuleTrace:
    rule: CompiledRule
    outcome: RuleOutcome
    detail: str = ""  # the run-time error, or the condition's value
    steps: int | None = None  # evaluation steps the condition took


@dataclass(frozen=True, slots=True)
class MethodTrace:
    identifier: str
    rule: CompiledRule
    outcome: str  # "offered", "already offered", "integration not live", "refused by the provider"


@dataclass
class Trace:
    rules: list[RuleTrace] = field(default_factory=list)
    methods: list[MethodTrace] = field(default_factory=list)
    offered: list[MethodInfo] = field(default_factory=list)


def matching_rules(context: CheckoutContext, ruleset: RuleSet, trace: Trace | None = None) -> list[CompiledRule]:
    """Steps 2–5: currency, destination, enabled, condition, sort order, stop processing."""
    if not context.currency:
        return []
    billing = context.billing_address
    country = billing.country_iso2.upper() if billing is not None else None
    currency = context.currency.upper()
    rules = ruleset.candidates(currency, country) if trace is None else ruleset.rules_by_currency.get(currency, ())
    variables: dict[str, Any] | None = None
    # Rules often share a condition text, and compile_expression returns one object per text: evaluate it once.
    outcomes: dict[int, tuple[Any, int] | ExpressionRuntimeError] = {}
    spent = 0  # steps the conditions of this checkout took together
    matched: list[CompiledRule] = []
    for rule in rules:
        if trace is not None and not ruleset.usable(rule):
            trace.rules.append(
                RuleTrace(rule, RuleOutcome.DISABLED if not rule.enabled else RuleOutcome.NO_LIVE_METHOD)
            )
            continue
        if not rule.destination_matches(billing):
            if trace is not None:
                trace.rules.append(RuleTrace(rule, RuleOutcome.DESTINATION))
            continue
        condition = rule.condition
        steps = None
        if condition is not None:
            outcome = outcomes.get(id(condition))
            if outcome is None:
                if variables is None:
                    variables = build_variables(context, ruleset.data)
                allowance = min(MAX_STEPS, max(MAX_CHECKOUT_STEPS - spent, STEPS_WHEN_SPENT))
                try:
                    outcome = condition.measure(variables, max_steps=allowance)
                    spent += outcome[1]
                except ExpressionBudgetExceeded as exc:
                    spent += allowance
                    outcome = exc if allowance == MAX_STEPS else _checkout_budget_spent()
                except ExpressionRuntimeError as exc:
                    outcome = exc
                outcomes[id(condition)] = outcome
            if isinstance(outcome, ExpressionRuntimeError):  # a broken condition skips its rule, not the checkout
                ruleset.report_error(rule, outcome)
                if trace is not None:
                    trace.rules.append(RuleTrace(rule, RuleOutcome.ERROR, str(outcome)))
                continue
            value, steps = outcome
            if not truthy(value):
                if trace is not None:
                    trace.rules.append(RuleTrace(rule, RuleOutcome.CONDITION_FALSE, _shown(value), steps))
                continue
        matched.append(rule)
        if trace is not None:
            value_text = "" if condition is None else _shown(outcome[0])  # type: ignore[index]
            trace.rules.append(
                RuleTrace(rule, RuleOutcome.STOPPED if rule.stop_processing else RuleOutcome.MATCHED, value_text, steps)
            )
        if rule.stop_processing:
            if trace is not None:
                seen = {id(t.rule) for t in trace.rules}
                trace.rules.extend(RuleTrace(r, RuleOutcome.NOT_REACHED) for r in rules if id(r) not in seen)
            break
    return matched


def _checkout_budget_spent() -> ExpressionBudgetExceeded:
    return ExpressionBudgetExceeded(
        f"Condition stopped: the conditions of one checkout may take {MAX_CHECKOUT_STEPS:,} steps together, and "
        f"the rules before this one took them (after that each gets {STEPS_WHEN_SPENT:,})"
    )


def _shown(value: Any) -> str:
    """A condition's value as the language writes it. Records and lists by their kind only: their contents are
    Python internals to an administrator, and can hold every user of the buyer's company."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, MoneyObj):
        return f"{value.value} {value.currency}"
    if isinstance(value, Obj):
        return "object"
    if isinstance(value, Decimal | int):
        return to_str(value, "preview")
    if isinstance(value, list | tuple | range):
        return f"array of {len(value)}"
    if isinstance(value, dict):
        return f"hash of {len(value)}"
    return str(value)


def match_methods(context: CheckoutContext, ruleset: RuleSet, trace: Trace | None = None) -> list[MethodInfo]:
    """Step 6: each live method of the matching rules that its provider accepts, once, at its first position."""
    offered: dict[str, MethodInfo] = {}
    refused: set[str] = set()
    for rule in matching_rules(context, ruleset, trace):
        for identifier in rule.methods:
            if identifier in offered or identifier in refused:
                if trace is not None:
                    outcome = "already offered" if identifier in offered else "refused earlier"
                    trace.methods.append(MethodTrace(identifier, rule, outcome))
                continue
            live = ruleset.methods.get(identifier)
            if live is None or not live.adapter.is_applicable(context):
                refused.add(identifier)
                if trace is not None:
                    outcome = "integration not live" if live is None else "refused by the provider for this order"
                    trace.methods.append(MethodTrace(identifier, rule, outcome))
                continue
            offered[identifier] = live.method
            if trace is not None:
                trace.methods.append(MethodTrace(identifier, rule, "offered"))
    if trace is not None:
        trace.offered = list(offered.values())
    return list(offered.values())


def explain(context: CheckoutContext, ruleset: RuleSet) -> Trace:
    """What each rule of the context's currency did, and which methods result (the back-office preview)."""
    trace = Trace()
    match_methods(context, ruleset, trace)
    return trace


def checkout_can_start(context: CheckoutContext, ruleset: RuleSet) -> bool:
    """The lighter check of the "Create order" button: currency and (if known) destination, enabled rules that
    still offer a live method that its provider accepts for this checkout. Conditions and stop-processing are
    not evaluated at this stage, so a checkout that passes may still find no method at the payment step."""
    if not context.currency:
        return False
    billing = context.billing_address
    for rule in ruleset.rules_by_currency.get(context.currency.upper(), ()):
        if not rule.enabled or (billing is not None and not rule.destination_matches(billing)):
            continue
        for identifier in rule.methods:
            live = ruleset.methods.get(identifier)
            if live is not None and live.adapter.is_applicable(context):
                return True
    return False


# --- the per-process cache --------------------------------------------------------------------------------

_cache: RuleSet | None = None
_cache_lock = threading.Lock()


def load_ruleset() -> RuleSet:
    """The compiled rule set, rebuilt only when RuleSetVersion changed (one query when warm)."""
    global _cache
    version = RuleSetVersion.current()
    cached = _cache
    if cached is not None and cached.version == version:
        return cached
    with _cache_lock:
        if _cache is not None and _cache.version == version:
            return _cache
        rules = PaymentRule.objects.filter(enabled=True).prefetch_related("destinations", "methods")
        ruleset = compile_rules(rules, Integration.objects.live())
        ruleset.version = version
        ruleset.data = DatabaseRuleData()
        _cache = ruleset
        return ruleset


def preview_ruleset(*, rules: Iterable[PaymentRule] | None = None) -> RuleSet:
    """A fresh rule set of every rule, disabled ones included, for the back-office preview (never cached)."""
    if rules is None:
        rules = PaymentRule.objects.prefetch_related("destinations", "methods")
    ruleset = compile_rules(rules, Integration.objects.live(), include_disabled=True)
    ruleset.data = DatabaseRuleData()
    return ruleset


def applicable_methods(context: CheckoutContext) -> list[MethodInfo]:
    return match_methods(context, load_ruleset())


def can_start_checkout(context: CheckoutContext) -> bool:
    return checkout_can_start(context, load_ruleset())
