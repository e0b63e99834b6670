"""Shapes of the buyer endpoints (headless checkout, my orders and invoices): what a buyer may see, and no more."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import MoneyField, MoneySerializer, StrictSerializer, money
from checkout.forms import AddressForm, PONumberForm
from checkout.models import CartLine, Product
from checkout.selectors import invoice_is_payable
from checkout.shipping import SHIPPING_METHODS
from orders.models import Invoice, Order
from payments.models import PaymentTransaction


class ProductSerializer(serializers.ModelSerializer):
    price = MoneyField("price")

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "price"]


class CartLineSerializer(serializers.ModelSerializer):
    product = ProductSerializer(read_only=True)
    amount = serializers.SerializerMethodField()

    class Meta:
        model = CartLine
        fields = ["id", "product", "quantity", "amount"]

    @extend_schema_field(MoneySerializer)
    def get_amount(self, line: CartLine) -> dict[str, str]:
        return money(line.amount, line.product.currency)


class CartSerializer(serializers.Serializer):
    lines = CartLineSerializer(many=True)
    subtotal = MoneySerializer(allow_null=True)


class CartLineAddSerializer(StrictSerializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)


class CartLineUpdateSerializer(StrictSerializer):
    quantity = serializers.IntegerField(min_value=0, max_value=1_000_000, help_text="0 removes the line.")


class AddressInputSerializer(StrictSerializer):
    """An address, checked by the storefront's own address form (the same rules as its checkout pages)."""

    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    organization = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    street = serializers.CharField(max_length=200)
    street2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    region_code = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20)
    country = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        form = AddressForm(data=attrs)
        if not form.is_valid():
            raise serializers.ValidationError(
                {name: [str(e) for e in errors] for name, errors in form.errors.items()}, code="invalid"
            )
        return dict(form.cleaned_data)


class CheckoutUpdateSerializer(StrictSerializer):
    billing_address = AddressInputSerializer(required=False)
    ship_to_billing = serializers.BooleanField(required=False)
    shipping_address = AddressInputSerializer(required=False)
    shipping_method = serializers.ChoiceField(choices=sorted(SHIPPING_METHODS), required=False)


class PaymentChoiceSerializer(StrictSerializer):
    payment_method = serializers.CharField(max_length=80, help_text="An identifier from the available methods.")
    payment_data = serializers.DictField(
        child=serializers.CharField(max_length=4096, allow_blank=True),
        required=False,
        default=dict,
        help_text="What the provider's browser tokenization returned (a token), never card data.",
    )
    po_number = serializers.CharField(
        max_length=25,
        required=False,
        allow_blank=True,
        help_text="The buyer's purchase order number (letters, digits, spaces, - _ / . #); absent: unchanged.",
    )

    def validate_po_number(self, value: str) -> str:
        form = PONumberForm({"po_number": value})
        if not form.is_valid():
            raise serializers.ValidationError([str(e) for e in form.errors["po_number"]], code="invalid")
        return form.cleaned_data["po_number"]


class SubmitSerializer(StrictSerializer):
    return_url = serializers.URLField(
        max_length=2000, help_text="Where a provider that needs the buyer (3-D Secure) sends them back."
    )
    reviewed = serializers.CharField(
        max_length=64, required=False, help_text="The checkout's `fingerprint` as the buyer reviewed it."
    )


class CompleteSerializer(StrictSerializer):
    order = serializers.CharField(max_length=32, help_text="The number of the order the submit answered with.")


class InvoicePaySerializer(StrictSerializer):
    return_url = serializers.URLField(max_length=2000)
    payment_data = serializers.DictField(
        child=serializers.CharField(max_length=4096, allow_blank=True), required=False, default=dict
    )


class MethodSerializer(serializers.Serializer):
    identifier = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field of the answer, not Field.label
    short_label = serializers.CharField()
    provider = serializers.CharField()


class ShippingMethodSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    amount = MoneySerializer()


class CheckoutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lines = CartLineSerializer(many=True)
    billing_address = serializers.DictField(allow_empty=True)
    ship_to_billing = serializers.BooleanField()
    shipping_address = serializers.DictField(allow_empty=True)
    shipping_method = serializers.CharField(allow_blank=True)
    payment_method = serializers.CharField(allow_blank=True)
    po_number = serializers.CharField(allow_blank=True)
    subtotal = MoneySerializer(allow_null=True)
    shipping = MoneySerializer(allow_null=True)
    total = MoneySerializer(allow_null=True)
    next_step = serializers.CharField(help_text="billing, shipping, shipping_method, payment, review (or cart).")
    fingerprint = serializers.CharField(help_text="Send it back as `reviewed` to pay exactly what was shown.")
    shipping_methods = ShippingMethodSerializer(many=True)


class SubmitResultSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["completed", "unconfirmed", "redirect", "processing", "declined", "refused", "abandoned"]
    )
    order = serializers.CharField(allow_null=True, help_text="The order number, when there is one to show.")
    message = serializers.CharField(allow_blank=True)
    redirect_url = serializers.CharField(allow_blank=True, help_text="Send the buyer here (outcome redirect).")


class BuyerTransactionSerializer(serializers.ModelSerializer):
    """What the storefront shows of a payment: never the note, the actor, the reason or the provider's answer."""

    amount = MoneyField()

    class Meta:
        model = PaymentTransaction
        fields = ["id", "action", "state", "amount", "payment_method", "created_at"]


class BuyerOrderSerializer(serializers.ModelSerializer):
    subtotal = MoneyField("subtotal")
    shipping = MoneyField("shipping")
    tax = MoneyField("tax")
    total = MoneyField("total")

    class Meta:
        model = Order
        fields = [
            "number",
            "po_number",
            "currency",
            "subtotal",
            "shipping",
            "tax",
            "total",
            "payment_status",
            "created_at",
        ]


class BuyerOrderDetailSerializer(BuyerOrderSerializer):
    payments = serializers.SerializerMethodField()

    class Meta(BuyerOrderSerializer.Meta):
        fields = [*BuyerOrderSerializer.Meta.fields, "payments"]

    @extend_schema_field(BuyerTransactionSerializer(many=True))
    def get_payments(self, order: Order) -> Any:
        return BuyerTransactionSerializer(self.context["payments"], many=True).data


class BuyerInvoiceSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    order = serializers.CharField(source="order.number")
    payable = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = ["number", "order", "amount", "due_date", "status", "payment_status", "payable", "created_at"]

    def get_payable(self, invoice: Invoice) -> bool:
        return invoice_is_payable(invoice)
