"""Writes of the storefront: the cart, the checkout steps, and submitting a checkout as an order and a payment.

Submitting follows the reference's place-order flow (domain.md §6.2–6.3): create the order, run the purchase,
then act on the outcome. The order of one checkout attempt is created once, under a lock on the checkout row,
and paid with the idempotency key `checkout:<id>:<attempt>`, so a double click or a refresh makes neither a
second order nor a second charge. The payment itself goes through `payments.services` (three steps, no
transaction open while the provider is called).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from checkout.models import MAX_QUANTITY, Cart, CartLine, Checkout, Product
from checkout.selectors import cart_lines, cart_totals, checkout_context, payment_options
from checkout.shipping import SHIPPING_METHODS
from customers.models import CustomerUser
from orders.models import Address, Order, OrderLine, PaymentStatus
from orders.services import LineInput, order_create
from payments.exceptions import PaymentRefused
from payments.models import PaymentTransaction, State
from payments.services import lock_order, payment_purchase

DECLINED_MESSAGE = (
    "We were unable to process your payment. Please verify your payment information and try again, "
    "or try another payment method."
)
UNCONFIRMED_MESSAGE = (
    "Your order has been placed. We are still waiting for the payment provider to confirm your payment; "
    "the order will update as soon as it does."
)
METHOD_GONE_MESSAGE = (
    "The payment method you chose is no longer available for this order. Please choose another payment method."
)
#: an order whose payment reached one of these is kept even when a later attempt fails (domain.md §6.3)
KEEP_STATUSES = frozenset(
    {PaymentStatus.FULL, PaymentStatus.PARTIALLY, PaymentStatus.AUTHORIZED, PaymentStatus.AUTHORIZED_PARTIALLY}
)


class CartError(ValueError):
    """A cart change the buyer must fix; the message is fit to show."""


class CheckoutIncomplete(ValueError):
    """A step is missing or no longer valid; `step` is the URL name to send the buyer to."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


# --- cart ------------------------------------------------------------------------------------------------------


def cart_add(*, cart: Cart, product_id: int, quantity: int) -> CartLine:
    """Add a product (or more of it). One currency per cart: the order is paid in it.

    A line holds at most MAX_QUANTITY, however often the product is added (each add alone passes the form).
    """
    if quantity < 1:
        raise CartError("The quantity must be at least 1.")
    if quantity > MAX_QUANTITY:
        raise CartError(f"You can order at most {MAX_QUANTITY:,} of one product.")
    product = Product.objects.filter(pk=product_id, active=True).first()
    if product is None:
        raise CartError("This product is not available.")
    with transaction.atomic():
        Cart.objects.select_for_update().filter(pk=cart.pk).first()  # serialise changes of one cart
        other = cart.lines.exclude(product__currency=product.currency).select_related("product").first()
        if other is not None:
            raise CartError(
                f"Your cart is in {other.product.currency}; {product.name} is sold in {product.currency}. "
                "Please check out or empty your cart first."
            )
        line, created = CartLine.objects.get_or_create(cart=cart, product=product, defaults={"quantity": quantity})
        if not created:
            if line.quantity + quantity > MAX_QUANTITY:
                raise CartError(
                    f"You can order at most {MAX_QUANTITY:,} of {product.name}; your cart already has "
                    f"{line.quantity:,}."
                )
            line.quantity += quantity
            line.save(update_fields=["quantity"])
        cart.save(update_fields=["updated_at"])
    return line


def cart_line_update(*, cart: Cart, line_id: int, quantity: int) -> None:
    """Set a line's quantity; 0 removes the line."""
    if quantity < 0:
        raise CartError("The quantity cannot be negative.")
    if quantity > MAX_QUANTITY:
        raise CartError(f"You can order at most {MAX_QUANTITY:,} of one product.")
    line = cart.lines.filter(pk=line_id).first()
    if line is None:
        raise CartError("This line is no longer in your cart.")
    if quantity == 0:
        line.delete()
    else:
        line.quantity = quantity
        line.save(update_fields=["quantity"])
    cart.save(update_fields=["updated_at"])


# --- checkout steps -----------------------------------------------------------------------------------------------


def checkout_start(*, cart: Cart) -> Checkout:
    """The cart's open checkout, or a new one."""
    checkout, _ = Checkout.objects.get_or_create(cart=cart, completed_at__isnull=True)
    return checkout


def checkout_update(*, checkout: Checkout, buyer: CustomerUser, **fields: object) -> Checkout:
    """Save what a step collected; a change of address re-runs the payment rules and drops a chosen method that
    they no longer allow."""
    for name, value in fields.items():
        setattr(checkout, name, value)
    if checkout.payment_method and not checkout_method_applicable(checkout=checkout, buyer=buyer):
        checkout.payment_method = ""
        checkout.payment_data = {}
    checkout.save()
    return checkout


def checkout_method_applicable(*, checkout: Checkout, buyer: CustomerUser, lines: list[CartLine] | None = None) -> bool:
    lines = cart_lines(cart=checkout.cart) if lines is None else lines
    context = checkout_context(checkout=checkout, lines=lines, buyer=buyer)
    return checkout.payment_method in {o.identifier for o in payment_options(context)}


def checkout_next_step(*, checkout: Checkout, lines: list[CartLine]) -> str:
    """The URL name of the first step that is not done (resuming a checkout starts there)."""
    if not lines:
        return "storefront:cart"
    if not checkout.billing_address:
        return "storefront:checkout_billing"
    if not checkout.ship_to_billing and not checkout.shipping_address:
        return "storefront:checkout_shipping"
    if checkout.shipping_method not in SHIPPING_METHODS:
        return "storefront:checkout_shipping_method"
    if not checkout.payment_method:
        return "storefront:checkout_payment"
    return "storefront:checkout_review"


def checkout_validate(*, checkout: Checkout, buyer: CustomerUser, lines: list[CartLine]) -> None:
    """Raise CheckoutIncomplete unless the checkout can be submitted as it stands now (cart and rules rechecked)."""
    step = checkout_next_step(checkout=checkout, lines=lines)
    if step != "storefront:checkout_review":
        raise CheckoutIncomplete(step, "Please complete this step first.")
    if not checkout_method_applicable(checkout=checkout, buyer=buyer, lines=lines):
        raise CheckoutIncomplete("storefront:checkout_payment", METHOD_GONE_MESSAGE)


# --- submit ---------------------------------------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    COMPLETED = "completed"  # the order is kept; its payment succeeded or is pending (offline, processing)
    UNCONFIRMED = "unconfirmed"  # the order is kept; the provider did not answer (reconcile settles it)
    REDIRECT = "redirect"  # the buyer must finish at the provider
    DECLINED = "declined"  # the order is gone, the cart intact; back to the payment step
    REFUSED = "refused"  # refused before any money moved (e.g. the method was switched off)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    outcome: Outcome
    order: Order | None = None
    message: str = ""
    redirect_url: str = ""


def checkout_submit(*, checkout_id: int, buyer: CustomerUser, return_url: Callable[[str], str]) -> SubmitResult:
    """Place the order of the checkout's current attempt and pay it. Safe to repeat (see the module docstring).

    `return_url(key)` builds the address a redirecting provider sends the buyer back to.
    """
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().select_related("cart").get(pk=checkout_id)
        if checkout.cart.customer_user_id != buyer.pk:
            raise Checkout.DoesNotExist
        if checkout.completed_at is not None:
            return SubmitResult(Outcome.COMPLETED, checkout.order)
        if checkout.order_id is None:
            lines = cart_lines(cart=checkout.cart)
            checkout_validate(checkout=checkout, buyer=buyer, lines=lines)
            checkout.order = _order_from_checkout(checkout, lines, buyer)
            checkout.save(update_fields=["order", "updated_at"])
        order, key = checkout.order, checkout.idempotency_key
        method, payment_data = checkout.payment_method, dict(checkout.payment_data)
    try:
        assert order is not None  # noqa: S101 - made above, under the checkout lock
        txn = payment_purchase(
            order_id=order.pk,
            method=method,
            key=key,
            actor=buyer.user,
            payment_data=payment_data,
            return_url=return_url(key),
            options={"checkout_id": checkout_id},
        )
    except PaymentRefused as refused:
        _attempt_failed(checkout_id)
        return SubmitResult(Outcome.REFUSED, message=refused.message)
    return checkout_finish(checkout_id=checkout_id, transaction_id=txn.pk)


def checkout_finish(*, checkout_id: int, transaction_id: int) -> SubmitResult:
    """Act on where the attempt's payment stands: complete the checkout, send the buyer to the provider, or
    (declined) discard the order and open the next attempt. Submit, a repeated submit and the return page all
    end here; under the checkout lock the first decides and the others find the checkout completed."""
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout_id)
        txn = PaymentTransaction.objects.select_related("order").get(pk=transaction_id)
        if checkout.completed_at is not None or checkout.order_id != txn.order_id:
            return SubmitResult(Outcome.COMPLETED, txn.order)
        if txn.state in (State.SUCCEEDED, State.PROCESSING):
            _complete(checkout)
            return SubmitResult(Outcome.COMPLETED, txn.order)
        if txn.state == State.ACTION_REQUIRED:
            url = (txn.response.get("next_action") or {}).get("redirect_url", "")
            if url:
                return SubmitResult(Outcome.REDIRECT, txn.order, redirect_url=url)
            _complete(checkout)
            return SubmitResult(Outcome.UNCONFIRMED, txn.order, UNCONFIRMED_MESSAGE)
        if txn.state == State.RESERVED:
            # No answer from the provider: money may have moved, so the order stays, pending, for reconcile.
            _complete(checkout)
            return SubmitResult(Outcome.UNCONFIRMED, txn.order, UNCONFIRMED_MESSAGE)
    _attempt_failed(checkout_id)
    return SubmitResult(Outcome.DECLINED, message=DECLINED_MESSAGE)


def _complete(checkout: Checkout) -> None:
    checkout.completed_at = timezone.now()
    checkout.payment_data = {}
    checkout.save(update_fields=["completed_at", "payment_data", "updated_at"])
    CartLine.objects.filter(cart_id=checkout.cart_id).delete()


def _attempt_failed(checkout_id: int) -> None:
    """Discard the attempt's order unless money was taken, and move on to the next attempt (a new key)."""
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout_id)
        if checkout.completed_at is not None or checkout.order_id is None:
            return
        order_id = checkout.order_id
        checkout.order = None
        checkout.attempt += 1
        checkout.save(update_fields=["order", "attempt", "updated_at"])
        checkout_order_discard(order_id=order_id)


def checkout_order_discard(*, order_id: int) -> bool:
    """Delete an order whose payment failed, with its declined ledger rows, lines and addresses (domain.md §6.3).

    Kept (False) when any of its rows succeeded or is still open, or its status is paid or authorized: then
    money may have moved and the order must stay. The rows are deleted explicitly (the ledger protects them)
    in the same transaction, under the order lock.
    """
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        rows = list(PaymentTransaction.objects.filter(order_id=order_id).order_by("-id"))
        if order.payment_status in KEEP_STATUSES or any(r.successful or r.is_open for r in rows):
            return False
        for row in rows:  # children (higher ids) before the rows they point at
            row.delete()
        OrderLine.objects.filter(order_id=order_id).delete()
        address_ids = {pk for pk in (order.billing_address_id, order.shipping_address_id) if pk is not None}
        order.delete()
        Address.objects.filter(pk__in=address_ids).delete()
        return True


def _order_from_checkout(checkout: Checkout, lines: list[CartLine], buyer: CustomerUser) -> Order:
    totals = cart_totals(lines, checkout.shipping_method)
    billing = Address.objects.create(**_address_fields(checkout.billing_address))
    shipping = (
        billing if checkout.ship_to_billing else Address.objects.create(**_address_fields(checkout.shipping_address))
    )
    return order_create(
        customer=buyer.customer,
        customer_user=buyer,
        currency=totals.currency,
        lines=[
            LineInput(line.product.sku, line.product.name, Decimal(line.quantity), line.product.price, line.product_id)
            for line in lines
        ],
        shipping=totals.shipping,
        shipping_method=checkout.shipping_method,
        billing_address=billing,
        shipping_address=shipping,
        actor=buyer.user,
    )


ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "organization",
    "street",
    "street2",
    "city",
    "region_code",
    "postal_code",
    "country",
    "phone",
)


def _address_fields(address: dict) -> dict[str, str]:
    return {name: str(address.get(name, "")) for name in ADDRESS_FIELDS}
