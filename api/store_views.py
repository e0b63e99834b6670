"""Buyer endpoints: a headless checkout over the storefront's own services, and the company's orders and invoices.

The same steps as the storefront's pages (`checkout.services`): cart, addresses and shipping method, the methods
the payment rules offer, the payment choice with what the provider's browser tokenization returned, submit, and
completion after the provider sent the buyer back. Card data is refused exactly as the storefront refuses it
(`checkout.payment_data`). Every query is scoped to the buyer's company: another company's order is 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import ApiError
from api.idempotency import IDEMPOTENCY_PARAMETER, idempotent, not_final, service_key
from api.permissions import BuyerPermission
from api.serializers import money
from api.store_serializers import (
    BuyerInvoiceSerializer,
    BuyerOrderDetailSerializer,
    BuyerOrderSerializer,
    BuyerTransactionSerializer,
    CartLineAddSerializer,
    CartLineSerializer,
    CartLineUpdateSerializer,
    CartSerializer,
    CheckoutSerializer,
    CheckoutUpdateSerializer,
    CompleteSerializer,
    InvoicePaySerializer,
    MethodSerializer,
    PaymentChoiceSerializer,
    ProductSerializer,
    SubmitResultSerializer,
    SubmitSerializer,
)
from api.views import ERROR, REFUSED, validated
from checkout import services as checkout_services
from checkout.models import CheckoutAttempt, Product
from checkout.payment_data import CardDataRefused, collect_payment_data, looks_like_card_field, looks_like_card_number
from checkout.selectors import (
    buyer_cart,
    buyer_invoice,
    buyer_invoices,
    buyer_order,
    buyer_orders,
    buyer_payment_history,
    cart_lines,
    cart_totals,
    checkout_context,
    payment_options,
)
from checkout.shipping import SHIPPING_METHODS
from customers.models import CustomerUser
from orders.models import Invoice, Order
from payments.models import OPEN_STATES, PaymentTransaction
from payments.services import PURCHASE_ACTIONS, invoice_payment_purchase, payment_complete

CARD_DATA_MESSAGE = (
    "Card details must never be sent to this site. Use the payment provider's browser tokenization, which sends "
    "them directly to the provider, and send its token here."
)


def _card_data_at(value: Any, path: str = "") -> str | None:
    """Where in a JSON value a field is named like card data or a value looks like a card number, or None.

    Every depth and every list is walked: `{"notes": ["4111…"]}` or `{"card": {"number": …}}` is card data as
    much as a top-level field is.
    """
    if isinstance(value, Mapping):
        for name, inner in value.items():
            if looks_like_card_number(str(name)):  # a card number as a field's name: its path would repeat it
                return path
            where = f"{path}.{name}" if path else str(name)
            if looks_like_card_field(str(name)):
                return where
            if (found := _card_data_at(inner, where)) is not None:
                return found
        return None
    if isinstance(value, list):
        for index, inner in enumerate(value):
            if (found := _card_data_at(inner, f"{path}.{index}" if path else str(index))) is not None:
                return found
        return None
    if isinstance(value, str | int) and not isinstance(value, bool) and looks_like_card_number(str(value)):
        return path  # "" for a body that is nothing but a card number
    return None


def refuse_card_data_anywhere(body: Any) -> None:
    """The storefront's tripwire over a whole JSON body: card data anywhere refuses the request, nothing stored."""
    where = _card_data_at(body)
    if where is not None:
        raise ApiError("card_data_refused", CARD_DATA_MESSAGE, field=where or None)


def refuse_card_data(body: Any) -> dict[str, str]:
    """The payment data of a JSON body, through the storefront's tripwire: a field named like card data, or any
    value that looks like a card number, anywhere in the body, refuses the whole request (nothing is stored)."""
    refuse_card_data_anywhere(body)
    if not isinstance(body, Mapping):
        return {}
    fields: dict[str, str] = {}
    for name, value in body.items():
        if name == "payment_data" and isinstance(value, Mapping):
            fields.update({f"payment_data[{key}]": str(inner) for key, inner in value.items()})
        elif isinstance(value, Mapping):
            fields.update({f"{name}[{key}]": str(inner) for key, inner in value.items()})
        else:
            fields[str(name)] = str(value)
    try:
        return collect_payment_data(fields)
    except CardDataRefused as refused:
        raise ApiError("card_data_refused", CARD_DATA_MESSAGE, field=str(refused)) from None
    except ValueError as exc:
        raise ApiError("too_much_payment_data", "The payment data is too large.", field="payment_data") from exc


def buyer_of_request(request: Request) -> CustomerUser:
    return cast(CustomerUser, request.buyer)  # type: ignore[attr-defined]  # set by BuyerPermission


def submit_answer(result: checkout_services.SubmitResult) -> Response:
    body = {
        "outcome": result.outcome.value,
        "order": result.order.number if result.order is not None else None,
        "message": result.message,
        "redirect_url": result.redirect_url,
    }
    return Response(body, status=status.HTTP_200_OK)


class CardDataTripwire:
    """Buyer endpoints refuse card data in any body they are sent, before a view reads it (addresses, submit,
    invoice payments): a misbuilt client fails loudly instead of putting card numbers in our database."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # authentication and permissions first
        if request.method in ("POST", "PUT", "PATCH"):
            refuse_card_data_anywhere(request.data)


class BuyerView(CardDataTripwire, APIView):
    permission_classes = [BuyerPermission]


@extend_schema(summary="Products for sale", responses={200: ProductSerializer(many=True)})
class ProductListView(BuyerView):
    def get(self, request: Request) -> Response:
        return Response(ProductSerializer(Product.objects.filter(active=True).order_by("name", "id"), many=True).data)


def cart_body(buyer: CustomerUser) -> dict[str, Any]:
    lines = cart_lines(cart=buyer_cart(buyer=buyer))
    totals = cart_totals(lines)
    return {
        "lines": CartLineSerializer(lines, many=True).data,
        "subtotal": money(totals.subtotal, totals.currency) if totals.currency else None,
    }


class CartView(BuyerView):
    @extend_schema(summary="The buyer's cart", responses={200: CartSerializer})
    def get(self, request: Request) -> Response:
        return Response(cart_body(buyer_of_request(request)))


class CartLinesView(BuyerView):
    @extend_schema(
        summary="Add a product to the cart",
        request=CartLineAddSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: CartSerializer, 400: ERROR, 409: ERROR, 422: ERROR},
        examples=[OpenApiExample("Two widgets", value={"product": 1, "quantity": 2})],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        buyer = buyer_of_request(request)
        data = validated(CartLineAddSerializer, request)
        try:
            checkout_services.cart_add(
                cart=buyer_cart(buyer=buyer), product_id=data["product"], quantity=data["quantity"]
            )
        except checkout_services.CartError as exc:
            raise ApiError("cart_refused", str(exc), field="product") from exc
        return Response(cart_body(buyer), status=status.HTTP_201_CREATED)


class CartLineView(BuyerView):
    @extend_schema(
        summary="Change a cart line's quantity (0 removes it)",
        request=CartLineUpdateSerializer,
        responses={200: CartSerializer, 400: ERROR},
    )
    def patch(self, request: Request, line_id: int) -> Response:
        buyer = buyer_of_request(request)
        data = validated(CartLineUpdateSerializer, request)
        try:
            checkout_services.cart_line_update(cart=buyer_cart(buyer=buyer), line_id=line_id, quantity=data["quantity"])
        except checkout_services.CartError as exc:
            raise ApiError("cart_refused", str(exc), field="quantity") from exc
        return Response(cart_body(buyer))


def checkout_body(buyer: CustomerUser) -> dict[str, Any]:
    cart = buyer_cart(buyer=buyer)
    checkout = checkout_services.checkout_start(cart=cart)
    lines = cart_lines(cart=cart)
    totals = cart_totals(lines, checkout.shipping_method)
    currency = totals.currency

    def amount(value: Any) -> dict[str, str] | None:
        return money(value, currency) if currency else None

    return {
        "id": checkout.pk,
        "lines": CartLineSerializer(lines, many=True).data,
        "billing_address": checkout.billing_address,
        "ship_to_billing": checkout.ship_to_billing,
        "shipping_address": checkout.shipping_address,
        "shipping_method": checkout.shipping_method,
        "payment_method": checkout.payment_method,
        "po_number": checkout.po_number,
        "subtotal": amount(totals.subtotal),
        "shipping": amount(totals.shipping),
        "total": amount(totals.total),
        "next_step": str(checkout_services.checkout_next_step(checkout=checkout, lines=lines)),
        "fingerprint": checkout_services.checkout_fingerprint(checkout=checkout, lines=lines),
        "shipping_methods": [
            {"key": m.key, "label": m.label, "amount": money(m.amount_in(currency), currency)}
            for m in SHIPPING_METHODS.values()
            if currency
        ],
    }


class CheckoutView(BuyerView):
    @extend_schema(summary="The open checkout of the buyer's cart", responses={200: CheckoutSerializer})
    def get(self, request: Request) -> Response:
        return Response(checkout_body(buyer_of_request(request)))

    @extend_schema(
        summary="Set addresses and the shipping method",
        description="A changed address re-runs the payment rules and drops a chosen method they no longer allow.",
        request=CheckoutUpdateSerializer,
        responses={200: CheckoutSerializer, 400: ERROR},
        examples=[
            OpenApiExample(
                "Billing address, shipped there, flat rate",
                value={
                    "billing_address": {
                        "first_name": "Ada",
                        "last_name": "Lovelace",
                        "street": "1 Main Street",
                        "city": "Springfield",
                        "region_code": "US-IL",
                        "postal_code": "62701",
                        "country": "US",
                    },
                    "ship_to_billing": True,
                    "shipping_method": "flat_rate",
                },
            )
        ],
    )
    def patch(self, request: Request) -> Response:
        buyer = buyer_of_request(request)
        data = validated(CheckoutUpdateSerializer, request)
        if data.get("ship_to_billing"):
            data["shipping_address"] = {}
        checkout = checkout_services.checkout_start(cart=buyer_cart(buyer=buyer))
        if data:
            checkout_services.checkout_update(checkout=checkout, buyer=buyer, **data)
        return Response(checkout_body(buyer))


class PaymentMethodsView(BuyerView):
    @extend_schema(
        summary="Payment methods the rules offer for this checkout", responses={200: MethodSerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        buyer = buyer_of_request(request)
        cart = buyer_cart(buyer=buyer)
        checkout = checkout_services.checkout_start(cart=cart)
        context = checkout_context(checkout=checkout, lines=cart_lines(cart=cart), buyer=buyer)
        options = payment_options(context) if context.currency else []
        return Response(
            [
                {
                    "identifier": o.identifier,
                    "label": o.label,
                    "short_label": o.short_label,
                    "provider": o.method.provider_key,
                }
                for o in options
            ]
        )


class PaymentChoiceView(BuyerView):
    @extend_schema(
        summary="Choose the payment method, with the browser-tokenized payment data",
        description=(
            "Card numbers and security codes are refused (400 `card_data_refused`), as in the storefront: "
            "tokenize them in the browser with the provider's script and send its token."
        ),
        request=PaymentChoiceSerializer,
        responses={200: CheckoutSerializer, 400: ERROR},
        examples=[
            OpenApiExample("A card token", value={"payment_method": "stripe_1", "payment_data": {"token": "pm_…"}})
        ],
    )
    def post(self, request: Request) -> Response:
        buyer = buyer_of_request(request)
        payment_data = refuse_card_data(request.data)  # before anything else reads the body
        data = validated(PaymentChoiceSerializer, request)
        cart = buyer_cart(buyer=buyer)
        checkout = checkout_services.checkout_start(cart=cart)
        context = checkout_context(checkout=checkout, lines=cart_lines(cart=cart), buyer=buyer)
        offered = {o.identifier for o in payment_options(context)} if context.currency else set()
        if data["payment_method"] not in offered:
            raise ApiError("method_unavailable", "This payment method is not available.", field="payment_method")
        instead = checkout_services.checkout_payment_choose(
            checkout=checkout,
            buyer=buyer,
            payment_method=data["payment_method"],
            payment_data=payment_data,
            po_number=data.get("po_number"),
        )
        if instead is not None:  # the open payment is still with the provider, or went through
            return submit_answer(instead)
        return Response(checkout_body(buyer))


class SubmitView(BuyerView):
    @extend_schema(
        summary="Place the order and pay it",
        description=(
            "Safe to repeat. `outcome` says what happened: completed or unconfirmed (the order is placed), "
            "redirect (send the buyer to `redirect_url`, then call complete), processing (ask again), declined, "
            "refused or abandoned (choose a payment again)."
        ),
        request=SubmitSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: SubmitResultSerializer, 400: ERROR, 409: ERROR, 422: ERROR},
        examples=[OpenApiExample("Submit", value={"return_url": "https://shop.example/return"})],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        buyer = buyer_of_request(request)
        data = validated(SubmitSerializer, request)
        checkout = checkout_services.checkout_start(cart=buyer_cart(buyer=buyer))
        try:
            result = checkout_services.checkout_submit(
                checkout_id=checkout.pk,
                buyer=buyer,
                return_url=lambda key: data["return_url"],
                reviewed=data.get("reviewed"),
            )
        except checkout_services.CheckoutIncomplete as incomplete:
            raise ApiError(
                "checkout_incomplete", incomplete.message, status_code=409, field=str(incomplete.step)
            ) from incomplete
        return submit_answer(result)


class CompleteView(BuyerView):
    @extend_schema(
        summary="Complete the payment after the provider sent the buyer back (3-D Secure, a hosted page)",
        request=CompleteSerializer,
        responses={200: SubmitResultSerializer, 404: ERROR},
    )
    def post(self, request: Request) -> Response:
        buyer = buyer_of_request(request)
        data = validated(CompleteSerializer, request)
        order = buyer_order(buyer=buyer, number=data["order"])  # another company's: 404
        txn = (
            PaymentTransaction.objects.filter(order=order, invoice__isnull=True, action__in=PURCHASE_ACTIONS)
            .order_by("-id")
            .first()
        )
        if txn is None:
            raise ApiError("not_found", "This order has no payment to complete.", status_code=404)
        txn = payment_complete(transaction_id=txn.pk)
        checkout_id = CheckoutAttempt.objects.filter(order_id=order.pk).values_list("checkout_id", flat=True).first()
        if checkout_id is None:
            return submit_answer(checkout_services.SubmitResult(checkout_services.Outcome.COMPLETED, order))
        return submit_answer(checkout_services.checkout_finish(checkout_id=checkout_id, transaction_id=txn.pk))


class MyOrderViewSet(CardDataTripwire, viewsets.GenericViewSet):
    permission_classes = [BuyerPermission]
    serializer_class = BuyerOrderSerializer
    lookup_field = "number"

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no buyer
            return Order.objects.none()
        return buyer_orders(buyer=buyer_of_request(self.request))

    @extend_schema(summary="The company's orders")
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(BuyerOrderSerializer(page, many=True).data)

    @extend_schema(
        summary="One of the company's orders, with its payments", responses={200: BuyerOrderDetailSerializer}
    )
    def retrieve(self, request: Request, number: str) -> Response:
        order = buyer_order(buyer=buyer_of_request(request), number=number)
        context = {"payments": buyer_payment_history(order=order)}
        return Response(BuyerOrderDetailSerializer(order, context=context).data)


class MyInvoiceViewSet(CardDataTripwire, viewsets.GenericViewSet):
    permission_classes = [BuyerPermission]
    serializer_class = BuyerInvoiceSerializer
    lookup_field = "number"

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Invoice.objects.none()
        return buyer_invoices(buyer=buyer_of_request(self.request))

    @extend_schema(summary="The company's invoices")
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(BuyerInvoiceSerializer(page, many=True).data)

    @extend_schema(summary="One of the company's invoices")
    def retrieve(self, request: Request, number: str) -> Response:
        return Response(BuyerInvoiceSerializer(buyer_invoice(buyer=buyer_of_request(request), number=number)).data)

    @extend_schema(
        summary="Pay an open invoice",
        description="With the invoice payment method; `redirect_url` is set when the provider needs the buyer.",
        request=InvoicePaySerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: BuyerTransactionSerializer, 400: ERROR, 409: REFUSED, 422: ERROR},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def pay(self, request: Request, number: str) -> Response:
        buyer = buyer_of_request(request)
        invoice = buyer_invoice(buyer=buyer, number=number)  # another company's: 404
        payment_data = refuse_card_data(request.data)
        data = validated(InvoicePaySerializer, request)
        txn = invoice_payment_purchase(
            invoice_id=invoice.pk,
            key=service_key(request),
            actor=cast(User, request.user),
            payment_data=payment_data,
            return_url=data["return_url"],
        )
        body = dict(BuyerTransactionSerializer(txn).data)
        body["redirect_url"] = (txn.response.get("next_action") or {}).get("redirect_url", "")
        response = Response(body, status=status.HTTP_201_CREATED)
        # an open payment (no answer yet, 3-D Secure) is not kept under the key: a retry reads the row again
        return not_final(response) if txn.state in OPEN_STATES else response
