"""Payment rules: which methods a checkout offers, by currency, destination and a condition expression."""

from __future__ import annotations

import secrets
from typing import Any

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models

from core.money import MoneyError, validate_currency
from payment_rules.expression import ExpressionSyntaxError, validate_expression

INT32 = 2**31 - 1


def validate_currency_code(value: str) -> None:
    try:
        validate_currency(value)
    except MoneyError as exc:
        raise ValidationError(str(exc)) from exc


def validate_rule_expression(value: str) -> None:
    if not value.strip():
        return
    try:
        validate_expression(value)
    except ExpressionSyntaxError as exc:
        raise ValidationError(str(exc)) from exc


class PaymentRule(models.Model):
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    sort_order = models.IntegerField(
        default=0, validators=[MinValueValidator(-INT32 - 1), MaxValueValidator(INT32)], help_text="Lower runs first."
    )
    currency = models.CharField(max_length=3, validators=[validate_currency_code])
    stop_processing = models.BooleanField(
        "stop further rule processing", default=False, help_text="Rules after this one are ignored when it matches."
    )
    expression = models.TextField(
        blank=True,
        validators=[validate_rule_expression],
        help_text="Optional condition, e.g. "
        "<code>subtotal.value &gt; 1000.0 and customer.group.name = 'Wholesale'</code>",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Switching a rule on or off by hand is a decision that activating an integration must not undo."""
        by_hand = _enabled_changed(self)
        super().save(*args, **kwargs)
        if by_hand:
            IntegrationDeactivation.rules.through.objects.filter(
                paymentrule_id=self.pk, integrationdeactivation__ended_at__isnull=True
            ).delete()

    def clean(self) -> None:
        self.currency = (self.currency or "").upper()


class PaymentRuleDestination(models.Model):
    """Where the billing address must be: a country, optionally a region and a list of postal codes."""

    rule = models.ForeignKey(PaymentRule, on_delete=models.CASCADE, related_name="destinations")
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. US")
    region_code = models.CharField(max_length=16, blank=True, help_text='Combined code, e.g. "US-NY"; empty: any.')
    postal_codes = models.TextField(blank=True, help_text="Comma- or line-separated; empty: any. Exact match.")

    def __str__(self) -> str:
        return " / ".join(p for p in [self.country, self.region_code, ", ".join(self.postal_code_list)] if p)

    @property
    def postal_code_list(self) -> list[str]:
        return [code.strip() for code in self.postal_codes.replace("\n", ",").split(",") if code.strip()]

    def clean(self) -> None:
        """Country and region from ISO 3166 (pycountry's data): a typo would make the rule match no address."""
        self.country = self.country.strip().upper()
        self.region_code = self.region_code.strip().upper()
        country = pycountry.countries.get(alpha_2=self.country) if len(self.country) == 2 else None
        if country is None:
            hint = " The United Kingdom is GB." if self.country == "UK" else ""
            raise ValidationError({"country": f"{self.country!r} is not an ISO 3166-1 alpha-2 country code.{hint}"})
        if not self.region_code:
            return
        if not self.region_code.startswith(f"{self.country}-"):
            raise ValidationError({"region_code": f'A region of {country.name} starts with "{self.country}-".'})
        if pycountry.subdivisions.get(code=self.region_code) is None:
            examples = sorted(s.code for s in pycountry.subdivisions.get(country_code=self.country) or [])[:5]
            known = f" For example: {', '.join(examples)}." if examples else f" {country.name} has no regions."
            raise ValidationError(
                {"region_code": f"{self.region_code} is not an ISO 3166-2 region of {country.name}.{known}"}
            )


class PaymentRuleMethod(models.Model):
    """A method a rule offers, by its stable identifier. Deleting the integration disables it, keeping the row."""

    rule = models.ForeignKey(PaymentRule, on_delete=models.CASCADE, related_name="methods")
    integration = models.ForeignKey(
        "integrations.Integration", null=True, on_delete=models.SET_NULL, related_name="rule_methods"
    )
    method = models.CharField(max_length=80, help_text="Method identifier, e.g. money_order_3")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["rule", "integration"], name="one_method_per_integration")]

    def __str__(self) -> str:
        return self.method

    def save(self, *args: Any, **kwargs: Any) -> None:
        """As for rules: a method switched on or off by hand stays as the administrator left it."""
        by_hand = _enabled_changed(self)
        super().save(*args, **kwargs)
        if by_hand:
            IntegrationDeactivation.methods.through.objects.filter(
                paymentrulemethod_id=self.pk, integrationdeactivation__ended_at__isnull=True
            ).delete()


def _enabled_changed(row: PaymentRule | PaymentRuleMethod) -> bool:
    """Whether saving ``row`` changes its ``enabled`` (services switch rows with updates, never with save())."""
    if row.pk is None:
        return False
    before = type(row).objects.filter(pk=row.pk).values_list("enabled", flat=True).first()
    return before is not None and before != row.enabled


class RuleSetVersion(models.Model):
    """One row whose value changes whenever rules or integrations change, so cached rule sets know to reload.

    The value is random rather than a counter: a rolled-back change must never leave a value that a later,
    different change reuses.
    """

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def bump(cls) -> None:
        value = secrets.randbits(62) + 1
        if not cls.objects.filter(pk=1).update(value=value):
            cls.objects.update_or_create(pk=1, defaults={"value": value})

    @classmethod
    def current(cls) -> int:
        """Read on every resolution, so it skips the ORM's query building (a third of a warm resolution)."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT value FROM {cls._meta.db_table} WHERE id = 1")  # noqa: S608 - no user input
            row = cursor.fetchone()
        return row[0] if row else 0


class IntegrationDeactivation(models.Model):
    """What deactivating or deleting an integration switched off in rules, so that activating it again can switch
    exactly that back on (and nothing an administrator changed by hand in the meantime, see ``save`` above).

    A rule disabled for lack of a live method also comes back when another of its integrations is activated, so
    the records of a deleted integration stay open (with ``integration`` null once its row is gone).
    """

    integration = models.ForeignKey(
        "integrations.Integration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rule_deactivations",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    #: when the integration was activated again; `restored` says whether the rules were restored then
    ended_at = models.DateTimeField(null=True, blank=True)
    restored = models.BooleanField(default=False)
    methods = models.ManyToManyField(PaymentRuleMethod, blank=True, related_name="+")
    rules = models.ManyToManyField(PaymentRule, blank=True, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Deactivation of {self.integration_id} at {self.created_at:%Y-%m-%d %H:%M}"
