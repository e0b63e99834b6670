"""Administrators' endpoints: integrations and payment rules, through the back-office's own forms and services.

An integration is written through the provider's integration form (`integrations.forms`), which owns the
write-only secret rule and the provider's own validation; deactivate, activate and delete go through
`integrations.services`, which has the rules that use the integration follow; the connection check is the
back-office's. Rules are evaluated by the same matcher as checkout (`payment_rules.matching.explain`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.admin_serializers import (
    AffectedRuleSerializer,
    ConnectionCheckSerializer,
    EvaluateSerializer,
    EvaluationSerializer,
    ExpressionSerializer,
    IntegrationSerializer,
    IntegrationWriteSerializer,
    PaymentRuleSerializer,
)
from api.errors import ApiError
from api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from api.views import ERROR, StaffViewSet, validated
from integrations.connection import integration_check_connection
from integrations.forms import integration_form_class
from integrations.models import Integration
from integrations.selectors import method_resolve
from integrations.services import integration_activate, integration_deactivate, integration_delete
from orders.models import Order
from payment_rules.matching import RuleOutcome, explain, load_ruleset
from payment_rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod
from payment_rules.services import rules_using_integration

COMMON = ("name", "environment", "payment_action", "capture_policy", "capture_delay_hours")


def _form_data(integration: Integration, data: dict[str, Any], provider_key: str) -> dict[str, Any]:
    """The integration form's fields from the API's input, the stored values standing in for what is left out."""
    form_data: dict[str, Any] = {
        "provider_key": provider_key,
        "active": "on" if integration.active else "",
        "default_owner": integration.default_owner_id or "",
    }
    for name in COMMON:
        form_data[name] = data.get(name, getattr(integration, name))
    labels = data.get("labels", integration.labels or {})
    short_labels = data.get("short_labels", integration.short_labels or {})
    for code, _ in settings.LANGUAGES:
        form_data[f"label_{code}"] = labels.get(code, "")
        form_data[f"short_label_{code}"] = short_labels.get(code, "")
    form_data.update({**(integration.settings or {}), **data.get("settings", {})})
    form_data.update(data.get("secrets", {}))  # left out: the form keeps the stored secret
    return form_data


def integration_save(*, integration: Integration, data: dict[str, Any]) -> Integration:
    provider_key = integration.provider_key or data.get("provider_key", "")
    if not provider_key:
        raise ApiError("required", "Give the integration's provider_key.", field="provider_key")
    integration.provider_key = provider_key  # the form shows the type as a fixed (disabled) field
    form = integration_form_class(provider_key)(data=_form_data(integration, data, provider_key), instance=integration)
    if not form.is_valid():
        name, errors = next(iter(form.errors.items()))
        field = name if name in IntegrationWriteSerializer().fields else _field_of(name, integration, provider_key)
        raise ApiError("invalid", str(errors[0]), field=field)
    return form.save()


def _field_of(name: str, integration: Integration, provider_key: str) -> str | None:
    if name.startswith(("label_", "short_label_")):
        kind, code = name.rsplit("_", 1)
        return f"{kind}s.{code}"
    form_class = integration_form_class(provider_key)
    if name in form_class.secret_fields:
        return f"secrets.{name}"
    if name in form_class.provider_fields:
        return f"settings.{name}"
    return None if name == "__all__" else name


def affected_body(affected: list[Any]) -> list[dict[str, Any]]:
    return list(AffectedRuleSerializer(affected, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List integrations"),
    retrieve=extend_schema(summary="An integration (secrets are never returned)"),
)
class IntegrationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet):
    serializer_class = IntegrationSerializer
    required_permissions = {
        "list": ("integrations.view_integration",),
        "retrieve": ("integrations.view_integration",),
        "create": ("integrations.add_integration",),
        "partial_update": ("integrations.change_integration",),
        "deactivate": ("integrations.change_integration",),
        "activate": ("integrations.change_integration",),
        "affected_rules": ("integrations.view_integration",),
        "check_connection": ("integrations.view_integration",),
        "destroy": ("integrations.delete_integration",),
    }

    def get_queryset(self) -> QuerySet[Integration]:
        return Integration.objects.existing().order_by("name", "id")

    @extend_schema(
        summary="Create an integration",
        request=IntegrationWriteSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: IntegrationSerializer, 400: ERROR, 409: ERROR, 422: ERROR},
        examples=[
            OpenApiExample(
                "Stripe in the sandbox",
                value={
                    "provider_key": "stripe",
                    "name": "Stripe",
                    "labels": {"en": "Credit card"},
                    "environment": "sandbox",
                    "payment_action": "authorize",
                    "settings": {"public_key": "pk_test_…"},
                    "secrets": {"secret_key": "sk_test_…", "webhook_secret": "whsec_…"},
                },
            )
        ],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = validated(IntegrationWriteSerializer, request)
        integration = integration_save(integration=Integration(), data=data)
        return Response(IntegrationSerializer(integration).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an integration",
        description="Fields left out keep their values; so does a secret left out of `secrets`.",
        request=IntegrationWriteSerializer,
        responses={200: IntegrationSerializer, 400: ERROR},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        integration = self.get_object()
        data = validated(IntegrationWriteSerializer, request)
        if data.get("provider_key", integration.provider_key) != integration.provider_key:
            raise ApiError("invalid", "An integration's provider cannot change.", field="provider_key")
        return Response(IntegrationSerializer(integration_save(integration=integration, data=data)).data)

    @extend_schema(
        summary="Delete an integration",
        description=(
            "Its methods are disabled in every rule (and rules left without a method are disabled); one with "
            "payments stays as a hidden row so they can still be captured and refunded. Answers the affected rules."
        ),
        request=None,
        responses={200: AffectedRuleSerializer(many=True)},
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        return Response(affected_body(integration_delete(integration=self.get_object())))

    @extend_schema(summary="Rules that use the integration", responses={200: AffectedRuleSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="affected-rules")
    def affected_rules(self, request: Request, pk: str | None = None) -> Response:
        return Response(affected_body(rules_using_integration(integration=self.get_object())))

    @extend_schema(
        summary="Deactivate: no new payments; its methods are disabled in the rules",
        request=None,
        responses={200: AffectedRuleSerializer(many=True)},
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str | None = None) -> Response:
        return Response(affected_body(integration_deactivate(integration=self.get_object())))

    @extend_schema(
        summary="Activate again, restoring what deactivating switched off",
        request=None,
        responses={200: IntegrationSerializer},
    )
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str | None = None) -> Response:
        integration = self.get_object()
        integration_activate(integration=integration, restore=True)
        integration.refresh_from_db()
        return Response(IntegrationSerializer(integration).data)

    @extend_schema(
        summary="Check the connection with the stored credentials",
        request=None,
        responses={200: ConnectionCheckSerializer},
    )
    @action(detail=True, methods=["post"], url_path="check-connection")
    def check_connection(self, request: Request, pk: str | None = None) -> Response:
        check = integration_check_connection(integration=self.get_object())
        return Response({"ok": check.level < messages.WARNING, "message": check.message})


def payment_rule_save(*, rule: PaymentRule, data: dict[str, Any]) -> PaymentRule:
    """Write a rule with its destinations and methods (given lists replace the stored ones), checked by the
    model's own validators; each method is tied to its integration as the back-office form ties it."""
    destinations = data.pop("destinations", None)
    methods = data.pop("methods", None)
    with transaction.atomic():
        for name, value in data.items():
            setattr(rule, name, value)
        try:
            rule.full_clean()
        except DjangoValidationError as exc:
            name, errors = next(iter(exc.message_dict.items()))
            raise ApiError("invalid", errors[0], field=None if name == "__all__" else name) from exc
        rule.save()
        if destinations is not None:
            rule.destinations.all().delete()
            for index, values in enumerate(destinations):
                destination = PaymentRuleDestination(rule=rule, **values)
                try:
                    destination.full_clean()
                except DjangoValidationError as exc:
                    name, errors = next(iter(exc.message_dict.items()))
                    raise ApiError("invalid", errors[0], field=f"destinations.{index}.{name}") from exc
                destination.save()
        if methods is not None:
            rule.methods.all().delete()
            seen: set[int | None] = set()
            for index, values in enumerate(methods):
                try:
                    integration, _ = method_resolve(values["method"], active_only=False)
                except LookupError as exc:
                    raise ApiError(
                        "invalid", "No integration offers this method.", field=f"methods.{index}.method"
                    ) from exc
                if integration.pk in seen:
                    raise ApiError("invalid", "Add only one method per integration to a rule.", field="methods")
                seen.add(integration.pk)
                PaymentRuleMethod.objects.create(
                    rule=rule, integration=integration, method=values["method"], enabled=values.get("enabled", True)
                )
    return rule


@extend_schema_view(
    list=extend_schema(summary="List payment rules"),
    retrieve=extend_schema(summary="A payment rule"),
)
class PaymentRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet):
    serializer_class = PaymentRuleSerializer
    required_permissions = {
        "list": ("payment_rules.view_paymentrule",),
        "retrieve": ("payment_rules.view_paymentrule",),
        "create": ("payment_rules.add_paymentrule",),
        "partial_update": ("payment_rules.change_paymentrule",),
        "destroy": ("payment_rules.delete_paymentrule",),
        "validate_expression": ("payment_rules.view_paymentrule",),
        "evaluate": ("payment_rules.view_paymentrule", "orders.view_order"),
    }

    def get_queryset(self) -> QuerySet[PaymentRule]:
        return PaymentRule.objects.prefetch_related("destinations", "methods").order_by("sort_order", "id")

    @extend_schema(
        summary="Create a payment rule",
        request=PaymentRuleSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: PaymentRuleSerializer, 400: ERROR, 409: ERROR, 422: ERROR},
        examples=[
            OpenApiExample(
                "Cards for US orders over 100",
                value={
                    "name": "Cards (USD)",
                    "currency": "USD",
                    "sort_order": 1,
                    "expression": "subtotal.value > 100.0",
                    "destinations": [{"country": "US", "region_code": "", "postal_codes": ""}],
                    "methods": [{"method": "stripe_1", "enabled": True}],
                },
            )
        ],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        serializer = PaymentRuleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = payment_rule_save(rule=PaymentRule(), data=dict(serializer.validated_data))
        return Response(PaymentRuleSerializer(self.get_queryset().get(pk=rule.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a payment rule", request=PaymentRuleSerializer, responses={200: PaymentRuleSerializer}
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        rule = self.get_object()
        serializer = PaymentRuleSerializer(rule, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        payment_rule_save(rule=rule, data=dict(serializer.validated_data))
        return Response(PaymentRuleSerializer(self.get_queryset().get(pk=rule.pk)).data)

    @extend_schema(summary="Delete a payment rule", request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Check a condition expression",
        request=ExpressionSerializer,
        responses={200: ExpressionSerializer, 400: ERROR},
        examples=[OpenApiExample("A condition", value={"expression": "subtotal.value > 100.0"})],
    )
    @action(detail=False, methods=["post"], url_path="validate-expression")
    def validate_expression(self, request: Request) -> Response:
        return Response(validated(ExpressionSerializer, request))

    @extend_schema(
        summary="Evaluate the rules against an order",
        description="What each rule did and which methods the order's checkout would be offered.",
        request=EvaluateSerializer,
        responses={200: EvaluationSerializer, 400: ERROR},
    )
    @action(detail=False, methods=["post"])
    def evaluate(self, request: Request) -> Response:
        data = validated(EvaluateSerializer, request)
        order = Order.objects.filter(pk=data["order"]).first()
        if order is None:
            raise ApiError("does_not_exist", "No such order.", field="order")
        trace = explain(order.checkout_context(), load_ruleset())
        matched = {RuleOutcome.MATCHED, RuleOutcome.STOPPED}
        return Response(
            {
                "rules": [
                    {"rule": t.rule.id, "name": t.rule.name, "outcome": t.outcome.value, "detail": t.detail}
                    for t in trace.rules
                ],
                "matched": [t.rule.id for t in trace.rules if t.outcome in matched],
                "methods": [m.identifier for m in trace.offered],
            }
        )
