"""Shapes of the API: amounts as decimal strings with their currency, times in ISO 8601. No business logic here:
serializers read models and selector results and check input shapes; services decide."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.models import Address, Invoice, Order, OrderLine
from payments.models import PaymentTransaction, WebhookEvent
from payments.money import quantize


class MoneySerializer(serializers.Serializer):
    amount = serializers.CharField(help_text='A decimal string in the currency\'s minor unit, e.g. "12.50".')
    currency = serializers.CharField(help_text="ISO 4217 code.")


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": str(quantize(amount, currency)), "currency": currency}


@extend_schema_field(MoneySerializer)
class MoneyField(serializers.Field):
    """A model's amount field with the row's `currency`, read-only: `{"amount": "12.50", "currency": "USD"}`."""

    def __init__(self, amount_field: str = "amount", **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        kwargs["source"] = "*"
        super().__init__(**kwargs)
        self.amount_field = amount_field

    def to_representation(self, value: Any) -> dict[str, str]:
        return money(getattr(value, self.amount_field), value.currency)


class AmountInputField(serializers.CharField):
    """An amount as a decimal string (a JSON number is refused: it may be a float)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("help_text", 'A decimal string, e.g. "12.50"; no more decimals than the currency has.')
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError('Give the amount as a decimal string, e.g. "12.50".', code="invalid")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """An input shape that refuses fields it does not know: a misspelt `amount` must not silently mean "all"."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = [str(name) for name in data if name not in self.fields]
            if unknown:
                raise serializers.ValidationError(
                    {
                        unknown[0]: [
                            serializers.ErrorDetail("This field is not part of the request.", code="unknown_field")
                        ]
                    }
                )
        return super().to_internal_value(data)


def currency_field() -> serializers.CharField:
    return serializers.CharField(
        required=False,
        max_length=3,
        help_text="ISO 4217; if given, it must be the payment's currency (an amount is never converted).",
    )


class AddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = [
            "first_name",
            "last_name",
            "organization",
            "street",
            "street2",
            "city",
            "region_code",
            "region_name",
            "postal_code",
            "country",
            "phone",
        ]


class OrderLineSerializer(serializers.ModelSerializer):
    unit_price = serializers.SerializerMethodField()

    class Meta:
        model = OrderLine
        fields = ["sku", "name", "quantity", "unit_price"]

    @extend_schema_field(MoneySerializer)
    def get_unit_price(self, line: OrderLine) -> dict[str, str]:
        return money(line.unit_price, line.order.currency)


class CustomerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class OfferSerializer(serializers.Serializer):
    operation = serializers.CharField()
    available = MoneySerializer()
    # a field of the answer, not the serializer's own `partial` flag
    partial = serializers.BooleanField(help_text="Whether a lower amount may be given.")  # type: ignore[assignment]


class TransactionSerializer(serializers.ModelSerializer):
    """A ledger row as staff see it (never the scrubbed request/response, nor the idempotency key)."""

    amount = MoneyField()
    integration = serializers.IntegerField(source="integration_id")
    order = serializers.IntegerField(source="order_id")
    invoice = serializers.IntegerField(source="invoice_id", allow_null=True)
    source = serializers.IntegerField(source="source_id", allow_null=True)  # type: ignore[assignment]
    actor = serializers.CharField(source="actor.get_username", default=None, allow_null=True)

    class Meta:
        model = PaymentTransaction
        fields = [
            "id",
            "order",
            "invoice",
            "source",
            "action",
            "state",
            "amount",
            "successful",
            "active",
            "integration",
            "payment_method",
            "provider_reference",
            "error_code",
            "message",
            "reason",
            "note",
            "actor",
            "needs_attention",
            "expires_at",
            "created_at",
            "updated_at",
        ]


class LedgerRowSerializer(TransactionSerializer):
    """A row of the order's ledger with what the back-office would offer on it."""

    operations = serializers.SerializerMethodField()

    class Meta(TransactionSerializer.Meta):
        fields = [*TransactionSerializer.Meta.fields, "operations"]

    @extend_schema_field(OfferSerializer(many=True))
    def get_operations(self, txn: PaymentTransaction) -> list[dict[str, Any]]:
        offers = self.context.get("offers", {}).get(txn.pk, [])
        return [
            {
                "operation": o.operation.value,
                "available": money(o.available.amount, o.available.currency),
                "partial": o.partial,
            }
            for o in offers
        ]


class OrderSerializer(serializers.ModelSerializer):
    customer = CustomerRefSerializer(read_only=True)
    subtotal = MoneyField("subtotal")
    shipping = MoneyField("shipping")
    tax = MoneyField("tax")
    total = MoneyField("total")
    discarded = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "customer",
            "currency",
            "subtotal",
            "shipping",
            "tax",
            "total",
            "payment_status",
            "payment_method",
            "shipping_method",
            "discarded",
            "shipped_at",
            "created_at",
            "updated_at",
        ]

    def get_discarded(self, order: Order) -> bool:
        return order.discarded_at is not None


class AmountsSerializer(serializers.Serializer):
    authorized = MoneySerializer()
    captured = MoneySerializer()
    refunded = MoneySerializer()
    outstanding = MoneySerializer()


class OrderDetailSerializer(OrderSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    billing_address = AddressSerializer(read_only=True, allow_null=True)
    shipping_address = AddressSerializer(read_only=True, allow_null=True)
    amounts = serializers.SerializerMethodField()
    ledger = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "lines", "billing_address", "shipping_address", "amounts", "ledger"]

    @extend_schema_field(AmountsSerializer)
    def get_amounts(self, order: Order) -> dict[str, Any]:
        account = self.context["account"]
        return {
            "authorized": money(account.authorized, order.currency),
            "captured": money(account.taken, order.currency),
            "refunded": money(account.refunded, order.currency),
            "outstanding": money(account.outstanding, order.currency),
        }

    @extend_schema_field(LedgerRowSerializer(many=True, allow_null=True))
    def get_ledger(self, order: Order) -> list[dict[str, Any]] | None:
        ledger = self.context.get("ledger")
        if ledger is None:  # without "view payment history", as on the order page
            return None
        return LedgerRowSerializer(ledger, many=True, context=self.context).data  # type: ignore[return-value]


class CaptureSerializer(StrictSerializer):
    amount = AmountInputField(required=False, allow_null=True, help_text="Leave out to capture all that is left.")
    currency = currency_field()
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class SendInvoiceSerializer(StrictSerializer):
    amount = AmountInputField(required=False, allow_null=True, help_text="Leave out to invoice all that is left.")
    currency = currency_field()
    tracking_number = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    shipper = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class CancelSerializer(StrictSerializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class ActivateSerializer(StrictSerializer):
    invoice_number = serializers.CharField(max_length=50, help_text="The number of the invoice that was issued.")
    invoice_date = serializers.DateField(help_text="The payment term runs from this date.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class RefundSerializer(StrictSerializer):
    amount = AmountInputField(required=False, allow_null=True, help_text="Leave out to refund all that is left.")
    currency = currency_field()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class InvoiceSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    order = serializers.IntegerField(source="order_id")
    customer = serializers.IntegerField(source="customer_id")

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "order",
            "customer",
            "amount",
            "due_date",
            "status",
            "payment_status",
            "created_at",
            "updated_at",
        ]


class InvoiceCreateSerializer(StrictSerializer):
    order = serializers.IntegerField(min_value=1)
    amount = AmountInputField(required=False, allow_null=True, help_text="Leave out to invoice all the order owes.")
    currency = currency_field()
    due_date = serializers.DateField(required=False, allow_null=True)


class WebhookEventSerializer(serializers.ModelSerializer):
    integration = serializers.IntegerField(source="integration_id")

    class Meta:
        model = WebhookEvent
        fields = [
            "id",
            "integration",
            "provider_event_id",
            "event_type",
            "provider_reference",
            "status",
            "result",
            "attempts",
            "received_at",
            "processed_at",
        ]


class WebhookEventDetailSerializer(WebhookEventSerializer):
    class Meta(WebhookEventSerializer.Meta):
        fields = [*WebhookEventSerializer.Meta.fields, "event"]
