"""Which payment methods a checkout offers (reference §4.2).

`match_methods` is a pure function of a checkout context and a compiled `RuleSet`:
currency → destination (billing address) → enabled → condition → sort order → stop after the first matching
stop-processing rule → each live method that passes its provider's `is_applicable`, once, at its first position.

`applicable_methods` is what views call: it keeps one compiled rule set per process and reloads it only when
`RuleSetVersion` moved, so a warm resolution costs one small query however many rules there are.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from integrations.adapters import adapter_for
from integrations.models import Integration
from payment_rules.expression import CompiledExpression, ExpressionRuntimeError, build_variables, compile_expression
from payment_rules.models import PaymentRule, RuleSetVersion
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


@dataclass
class RuleSet:
    """Enabled rules by currency, sorted, plus the methods of live integrations. Immutable once built."""

    rules_by_currency: dict[str, tuple[CompiledRule, ...]]
    methods: dict[str, LiveMethod]
    version: int = 0
    _reported: set[tuple[int, str]] = field(default_factory=set, repr=False)
    _by_country: dict[tuple[str, str | None], tuple[CompiledRule, ...]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def candidates(self, currency: str, country: str | None) -> tuple[CompiledRule, ...]:
        """The rules that can match this currency and billing country, in order (memoised per pair)."""
        key = (currency, country)
        found = self._by_country.get(key)
        if found is None:
            rules = self.rules_by_currency.get(currency, ())
            found = tuple(r for r in rules if not r.destinations or (country is not None and country in r.countries))
            with self._lock:
                self._by_country[key] = found
        return found

    def report_error(self, rule: CompiledRule, error: ExpressionRuntimeError) -> None:
        """Log a failing condition as a warning once per rule set and error, then at debug level."""
        key = (rule.id, str(error))
        level = logging.DEBUG if key in self._reported else logging.WARNING
        self._reported.add(key)
        logger.log(level, "Payment rule %s (%s) skipped: %s", rule.id, rule.name, error)


def compile_rules(rules: Iterable[PaymentRule], integrations: Iterable[Integration]) -> RuleSet:
    """Build a rule set from enabled rules (with destinations and methods prefetched) and live integrations."""
    by_currency: dict[str, list[CompiledRule]] = {}
    for rule in rules:
        if not rule.enabled:
            continue
        condition = None
        if rule.expression.strip():
            try:
                condition = compile_expression(rule.expression)
            except ValueError:
                logger.warning("Payment rule %s has an invalid expression; it is skipped", rule.pk)
                continue
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
        )
        by_currency.setdefault(rule.currency.upper(), []).append(compiled)
    methods: dict[str, LiveMethod] = {}
    for integration in integrations:
        adapter = adapter_for(integration)
        for method in adapter.methods(integration.as_info()):
            methods[method.identifier] = LiveMethod(method=method, adapter=adapter)
    return RuleSet(
        rules_by_currency={
            currency: tuple(sorted(rules, key=lambda r: (r.sort_order, r.id)))
            for currency, rules in by_currency.items()
        },
        methods=methods,
    )


def matching_rules(context: CheckoutContext, ruleset: RuleSet) -> list[CompiledRule]:
    """Steps 2–5: currency, destination, enabled, condition, sort order, stop processing."""
    if not context.currency:
        return []
    billing = context.billing_address
    country = billing.country_iso2.upper() if billing is not None else None
    variables: dict[str, Any] | None = None
    # Rules often share a condition text, and compile_expression returns one object per text: evaluate it once.
    outcomes: dict[int, bool | ExpressionRuntimeError] = {}
    matched: list[CompiledRule] = []
    for rule in ruleset.candidates(context.currency.upper(), country):
        if not rule.destination_matches(billing):
            continue
        condition = rule.condition
        if condition is not None:
            outcome = outcomes.get(id(condition))
            if outcome is None:
                if variables is None:
                    variables = build_variables(context)
                try:
                    outcome = condition.matches(variables)
                except ExpressionRuntimeError as exc:
                    outcome = exc
                outcomes[id(condition)] = outcome
            if isinstance(outcome, ExpressionRuntimeError):  # a broken condition skips its rule, not the checkout
                ruleset.report_error(rule, outcome)
                continue
            if not outcome:
                continue
        matched.append(rule)
        if rule.stop_processing:
            break
    return matched


def match_methods(context: CheckoutContext, ruleset: RuleSet) -> list[MethodInfo]:
    """Step 6: each live method of the matching rules that its provider accepts, once, at its first position."""
    offered: dict[str, MethodInfo] = {}
    refused: set[str] = set()
    for rule in matching_rules(context, ruleset):
        for identifier in rule.methods:
            if identifier in offered or identifier in refused:
                continue
            live = ruleset.methods.get(identifier)
            if live is None or not live.adapter.is_applicable(context):
                refused.add(identifier)
                continue
            offered[identifier] = live.method
    return list(offered.values())


def checkout_can_start(context: CheckoutContext, ruleset: RuleSet) -> bool:
    """The lighter check of the "Create order" button: currency and (if known) destination, enabled rules that
    still offer a live method. Conditions and stop-processing are not evaluated at this stage."""
    if not context.currency:
        return False
    billing = context.billing_address
    rules: Sequence[CompiledRule] = ruleset.rules_by_currency.get(context.currency.upper(), ())
    for rule in rules:
        if billing is not None and not rule.destination_matches(billing):
            continue
        if any(identifier in ruleset.methods for identifier in rule.methods):
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
        _cache = ruleset
        return ruleset


def applicable_methods(context: CheckoutContext) -> list[MethodInfo]:
    return match_methods(context, load_ruleset())


def can_start_checkout(context: CheckoutContext) -> bool:
    return checkout_can_start(context, load_ruleset())
