"""Shapes of the administrators' endpoints: integrations (secrets write-only), payment rules, rule evaluation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from integrations.models import Integration
from payment_rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod, validate_rule_expression
from providers import registry


class IntegrationSerializer(serializers.ModelSerializer):
    """An integration as administrators see it: settings, and which secrets are set; never a secret's value."""

    secrets_set = serializers.SerializerMethodField(help_text="Names of the secrets that have a value.")
    webhook_url = serializers.SerializerMethodField()

    class Meta:
        model = Integration
        fields = [
            "id",
            "uuid",
            "provider_key",
            "name",
            "labels",
            "short_labels",
            "environment",
            "payment_action",
            "capture_policy",
            "capture_delay_hours",
            "active",
            "settings",
            "secrets_set",
            "webhook_url",
            "created_at",
            "updated_at",
        ]

    def get_secrets_set(self, integration: Integration) -> list[str]:
        return sorted(name for name, value in (integration.secrets or {}).items() if value)

    def get_webhook_url(self, integration: Integration) -> str:
        return integration.get_webhook_url()


class ProviderKeyField(serializers.ChoiceField):
    """A provider key, checked against the registry when a request is read, not when this module was imported: the
    schema lists the providers of the build, and a provider registered later (a plugin) is taken too."""

    def to_internal_value(self, data: object) -> str:
        if isinstance(data, str) and data in registry.PROVIDERS:
            return data
        self.fail("invalid_choice", input=data)
        raise AssertionError("unreachable")  # pragma: no cover - fail() raises


class IntegrationWriteSerializer(serializers.Serializer):
    """Input of create and update; the provider's own fields go in `settings` and `secrets` (write-only: a secret
    left out on update keeps its stored value)."""

    provider_key = ProviderKeyField(choices=sorted(registry.PROVIDERS), required=False)
    name = serializers.CharField(max_length=200, required=False)
    labels = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    short_labels = serializers.DictField(child=serializers.CharField(max_length=200, allow_blank=True), required=False)
    environment = serializers.ChoiceField(choices=Integration.Environment.choices, required=False)
    payment_action = serializers.ChoiceField(choices=Integration.PaymentAction.choices, required=False)
    capture_policy = serializers.ChoiceField(choices=Integration.CapturePolicy.choices, required=False)
    capture_delay_hours = serializers.IntegerField(min_value=0, max_value=24 * 30, required=False)
    settings = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=4000), required=False)
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=4000), required=False, write_only=True
    )


class AffectedRuleSerializer(serializers.Serializer):
    rule = serializers.IntegerField(source="rule.id")
    name = serializers.CharField(source="rule.name")
    will_be_disabled = serializers.BooleanField()


class ConnectionCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class DestinationSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentRuleDestination
        fields = ["country", "region_code", "postal_codes"]


class RuleMethodSerializer(serializers.ModelSerializer):
    integration = serializers.IntegerField(source="integration_id", read_only=True, allow_null=True)

    class Meta:
        model = PaymentRuleMethod
        fields = ["method", "enabled", "integration"]


class PaymentRuleSerializer(serializers.ModelSerializer):
    destinations = DestinationSerializer(many=True, required=False)
    methods = RuleMethodSerializer(many=True, required=False)

    class Meta:
        model = PaymentRule
        fields = [
            "id",
            "name",
            "enabled",
            "sort_order",
            "currency",
            "stop_processing",
            "expression",
            "destinations",
            "methods",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_currency(self, value: str) -> str:
        return value.upper()

    def validate_methods(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        identifiers = [m["method"] for m in value]
        if len(set(identifiers)) != len(identifiers):
            raise serializers.ValidationError("Add each method once.")
        return value


class ExpressionSerializer(serializers.Serializer):
    expression = serializers.CharField(max_length=10_000, allow_blank=True)

    def validate_expression(self, value: str) -> str:
        from django.core.exceptions import ValidationError

        try:
            validate_rule_expression(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages, code="invalid_expression") from exc
        return value


class EvaluateSerializer(serializers.Serializer):
    order = serializers.IntegerField(min_value=1, help_text="Evaluate the rules against this order.")


class RuleTraceSerializer(serializers.Serializer):
    rule = serializers.IntegerField()
    name = serializers.CharField()
    outcome = serializers.CharField()
    detail = serializers.CharField(allow_blank=True)


class EvaluationSerializer(serializers.Serializer):
    rules = RuleTraceSerializer(many=True)
    matched = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the rules that matched.")
    methods = serializers.ListField(child=serializers.CharField(), help_text="Method identifiers offered, in order.")
