"""Query filters of the staff lists (django-filter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import forms
from django.db.models import Exists, OuterRef, QuerySet
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters

from orders.models import Invoice, Order, PaymentStatus
from payments.models import PaymentTransaction, WebhookEvent

#: the widest UTC offset in use anywhere (UTC+14, Kiribati; UTC-12 the other way): Python accepts up to ±23:59,
#: PostgreSQL refuses anything past ±15:59 with an error, so a wider one is the caller's mistake, answered 400
MAX_UTC_OFFSET = timedelta(hours=14)


class InstantField(filter_fields.IsoDateTimeField):
    """An ISO 8601 instant, refused (400) when its offset is one no place uses or it does not fit in UTC."""

    def to_python(self, value: object) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        offset = parsed.utcoffset()
        try:
            if offset is not None and abs(offset) > MAX_UTC_OFFSET:
                raise ValueError("UTC offset out of range")
            parsed.astimezone(UTC)
        except (ValueError, OverflowError) as wrong:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from wrong
        return parsed


class InstantFilter(filters.IsoDateTimeFilter):
    field_class = InstantField


class OrderFilter(filters.FilterSet):
    payment_status = filters.MultipleChoiceFilter(choices=PaymentStatus.choices)
    created_after = InstantFilter(field_name="created_at", lookup_expr="gte")
    created_before = InstantFilter(field_name="created_at", lookup_expr="lt")
    customer = filters.NumberFilter(field_name="customer_id")
    integration = filters.NumberFilter(method="filter_integration", help_text="Orders with a payment through it.")
    provider_reference = filters.CharFilter(method="filter_reference", help_text="Orders with a row of this reference.")
    discarded = filters.BooleanFilter(
        field_name="discarded_at", lookup_expr="isnull", exclude=True, help_text="Orders of failed checkout attempts."
    )

    class Meta:
        model = Order
        fields = ["payment_status", "customer", "currency"]

    def filter_integration(self, queryset: QuerySet[Order], name: str, value: int) -> QuerySet[Order]:
        rows = PaymentTransaction.objects.filter(order=OuterRef("pk"), integration_id=value)
        return queryset.filter(Exists(rows))

    def filter_reference(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        rows = PaymentTransaction.objects.filter(order=OuterRef("pk"), provider_reference=value)
        return queryset.filter(Exists(rows))


class TransactionFilter(filters.FilterSet):
    order = filters.NumberFilter(field_name="order_id")
    integration = filters.NumberFilter(field_name="integration_id")

    class Meta:
        model = PaymentTransaction
        fields = ["order", "integration", "action", "state", "provider_reference"]


class InvoiceFilter(filters.FilterSet):
    order = filters.NumberFilter(field_name="order_id")
    customer = filters.NumberFilter(field_name="customer_id")

    class Meta:
        model = Invoice
        fields = ["order", "customer", "status", "payment_status"]


class WebhookEventFilter(filters.FilterSet):
    integration = filters.NumberFilter(field_name="integration_id")
    received_after = InstantFilter(field_name="received_at", lookup_expr="gte")
    received_before = InstantFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = WebhookEvent
        fields = ["integration", "status", "event_type", "provider_reference"]
