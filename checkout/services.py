"""Writes of the storefront: the cart, the checkout steps, and submitting a checkout as an order and a payment.

Submitting follows the reference's place-order flow (domain.md §6.2–6.3): create the order, run the purchase,
then act on the outcome. Each submission is an attempt (`CheckoutAttempt`): its order is created once, under a
lock on the checkout row, and paid with the idempotency key `checkout:<id>:<attempt>`. The payment itself goes
through `payments.services` (three steps, no transaction open while the provider is called).

- A second submit while the first is still with the provider waits for the first one's outcome (or sends the
  buyer to a page that waits for it); it never takes the open row for an answer.
- A submit of the same things again continues the attempt (back to the provider's page); a submit after the cart,
  an address or the payment details changed ends the attempt first (cancelled at the provider where it could still
  complete) and starts the next one, with a new key. So a checkout has at most one order that can take money.
- A declined, refused or abandoned attempt keeps the cart; its order is discarded for the buyer and kept, with
  its ledger rows, for staff.
"""

from __future__ import annotations

import enum
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery, Sum
from django.utils import timezone, translation

from checkout.models import MAX_QUANTITY, Cart, CartLine, Checkout, CheckoutAttempt, Product
from checkout.selectors import PaymentOption, cart_lines, cart_totals, checkout_context, payment_options
from checkout.shipping import SHIPPING_METHODS
from core.status import PaymentStatus
from customers.models import CustomerUser
from integrations.selectors import method_resolve
from orders.models import Address, Invoice, Order, OrderLine
from orders.services import LineInput, order_create
from payments.abandonment import ABANDONED, payment_abandon
from payments.exceptions import PaymentRefused
from payments.models import OPEN_STATES, PaymentTransaction, State
from payments.services import (
    ReservedPurchase,
    lock_order,
    notice_raise,
    order_purchase_reserve,
    purchase_call,
    purchase_record,
)
from providers.base import CheckoutContext

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
PROCESSING_MESSAGE = (
    "We are confirming your payment with the payment provider. This page updates by itself; "
    "please do not submit the order again."
)
ABANDONED_MESSAGE = (
    "You changed how to pay after starting this payment, so it was canceled and will not be charged. "
    "If your bank shows a hold for it, the hold will be released."
)
EXPIRED_MESSAGE = (
    "This payment was not completed in time, so it was canceled and will not be charged. "
    "If your bank shows a hold for it, the hold will be released. Please submit your order again."
)
EARLIER_PAYMENT_MESSAGE = (
    "Your earlier payment for this order went through, so your order was placed with it. "
    "The payment details you entered afterwards were not used."
)
CHANGED_MESSAGE = (
    "Your order changed after you reviewed it (in another window, perhaps). Please check it and submit it again."
)
REFUSED_MESSAGE = "We could not start your payment. Please try again, or choose another payment method."
#: refusals whose reason the buyer can act on; any other shows REFUSED_MESSAGE (never our internal wording)
REFUSED_MESSAGES = {
    "method_unavailable": METHOD_GONE_MESSAGE,
    "method_not_applicable": METHOD_GONE_MESSAGE,
    "amount_not_positive": "There is nothing to pay on this order. Please check your cart.",
}
#: an attempt still under way: sent to the provider, or waiting for the buyer there
OPEN_ATTEMPT_STATUSES = frozenset({CheckoutAttempt.Status.SUBMITTING, CheckoutAttempt.Status.AWAITING_BUYER})
#: a submit still "with the provider" after this long died on the way (every provider call times out well before)
SUBMIT_OVERDUE_AFTER = timedelta(minutes=3)
#: an order whose payment reached one of these is kept even when a later attempt fails (domain.md §6.3)
KEEP_STATUSES = frozenset(
    {PaymentStatus.FULL, PaymentStatus.PARTIALLY, PaymentStatus.AUTHORIZED, PaymentStatus.AUTHORIZED_PARTIALLY}
)


class CartError(ValueError):
    """A cart change the buyer must fix; the message is fit to show."""


class CheckoutStep(enum.StrEnum):
    """Where a buyer is in the checkout, in the order the steps are taken; the storefront maps each to its page,
    the API to its own resource."""

    CART = "cart"
    BILLING = "billing"
    SHIPPING = "shipping"
    SHIPPING_METHOD = "shipping_method"
    PAYMENT = "payment"
    REVIEW = "review"


class CheckoutIncomplete(ValueError):
    """A step is missing or no longer valid; `step` is where to send the buyer."""

    def __init__(self, step: CheckoutStep, message: str) -> None:
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
    they no longer allow.

    Only the fields the step changed are written, under the checkout lock: a submit in another tab may have
    moved the checkout on since the step read it (the next attempt, a placed order), and that must stay. A
    checkout completed meanwhile is left as it is; the buyer's next step starts a new one.
    """
    for name, value in fields.items():
        setattr(checkout, name, value)
    changed = set(fields)
    if checkout.payment_method and not checkout_method_applicable(checkout=checkout, buyer=buyer):
        checkout.payment_method = ""
        checkout.payment_data = {}
        changed |= {"payment_method", "payment_data"}
    with transaction.atomic():
        current = Checkout.objects.select_for_update().get(pk=checkout.pk)
        if current.completed_at is not None:
            return current
        for name in changed:
            setattr(current, name, getattr(checkout, name))
        current.save(update_fields=[*sorted(changed), "updated_at"])
    return current


def checkout_method_applicable(*, checkout: Checkout, buyer: CustomerUser, lines: list[CartLine] | None = None) -> bool:
    return _chosen_option(checkout, buyer, lines) is not None


def _chosen_option(
    checkout: Checkout, buyer: CustomerUser, lines: list[CartLine] | None = None
) -> tuple[CheckoutContext, PaymentOption] | None:
    """The checkout as rules and providers see it, with its payment method as the rules still offer it."""
    lines = cart_lines(cart=checkout.cart) if lines is None else lines
    context = checkout_context(checkout=checkout, lines=lines, buyer=buyer)
    chosen = [o for o in payment_options(context) if o.identifier == checkout.payment_method]
    return (context, chosen[0]) if chosen else None


def checkout_next_step(*, checkout: Checkout, lines: list[CartLine]) -> CheckoutStep:
    """The first step that is not done (resuming a checkout starts there)."""
    if not lines:
        return CheckoutStep.CART
    if not checkout.billing_address:
        return CheckoutStep.BILLING
    if not checkout.ship_to_billing and not checkout.shipping_address:
        return CheckoutStep.SHIPPING
    if checkout.shipping_method not in SHIPPING_METHODS:
        return CheckoutStep.SHIPPING_METHOD
    if not checkout.payment_method:
        return CheckoutStep.PAYMENT
    return CheckoutStep.REVIEW


def checkout_validate(
    *, checkout: Checkout, buyer: CustomerUser, lines: list[CartLine]
) -> tuple[CheckoutContext, PaymentOption]:
    """Raise CheckoutIncomplete unless the checkout can be submitted as it stands now (cart and rules rechecked);
    the context the rules were checked with and the method they offer, which the payment reuses."""
    step = checkout_next_step(checkout=checkout, lines=lines)
    if step != CheckoutStep.REVIEW:
        raise CheckoutIncomplete(step, "Please complete this step first.")
    chosen = _chosen_option(checkout, buyer, lines)
    if chosen is None:
        raise CheckoutIncomplete(CheckoutStep.PAYMENT, METHOD_GONE_MESSAGE)
    return chosen


# --- submit ---------------------------------------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    COMPLETED = "completed"  # the order is kept; its payment succeeded or is pending (offline, processing)
    UNCONFIRMED = "unconfirmed"  # the order is kept; the provider did not answer (reconcile settles it)
    REDIRECT = "redirect"  # the buyer must finish at the provider
    PROCESSING = "processing"  # another submit of this attempt is still waiting for the provider's answer
    DECLINED = "declined"  # the order is gone for the buyer, the cart intact; back to the payment step
    REFUSED = "refused"  # refused before any money moved (e.g. the method was switched off)
    ABANDONED = "abandoned"  # the buyer changed how to pay; this attempt was ended for the next one


#: outcomes that send the buyer back to the payment step (or to the order a later attempt placed)
FAILED_OUTCOMES = frozenset({Outcome.DECLINED, Outcome.REFUSED, Outcome.ABANDONED})


@dataclass(frozen=True, slots=True)
class SubmitResult:
    outcome: Outcome
    #: the order the buyer may see: the attempt's own, or for a failed attempt the one a later attempt placed
    order: Order | None = None
    message: str = ""
    redirect_url: str = ""
    #: the attempt to wait for (PROCESSING)
    attempt_id: int | None = None


def checkout_submit(
    *,
    checkout_id: int,
    buyer: CustomerUser,
    return_url: Callable[[str], str],
    attempt: int | None = None,
    reviewed: str | None = None,
) -> SubmitResult:
    """Place the order of the checkout's current attempt and pay it. Safe to repeat (see the module docstring).

    `attempt` is the attempt number the review page was shown for: a submit for an attempt that has ended
    (a double click that arrives after the first click's decline) gets that attempt's outcome, not a new attempt.
    `reviewed` is the review page's `checkout_fingerprint`: a page that no longer shows the checkout (the cart or
    the payment details changed in another tab since) is refused with CheckoutIncomplete, so the buyer pays only
    what they confirmed. `return_url(key)` builds the address a redirecting provider sends the buyer back to.
    """
    with transaction.atomic():
        checkout = _lock_checkout(checkout_id, buyer)
        if attempt is not None and attempt < checkout.attempt:
            earlier = checkout.attempts.filter(number=attempt).select_related("order").first()
            if earlier is not None:
                return _attempt_result(earlier, checkout)
        if checkout.completed_at is not None:
            return SubmitResult(Outcome.COMPLETED, checkout.order)
        current = _current_attempt(checkout) if checkout.order_id is not None else None  # made with its order
        lines = cart_lines(cart=checkout.cart)
        if reviewed is not None and reviewed != _fingerprint(checkout, lines):
            raise CheckoutIncomplete(CheckoutStep.REVIEW, CHANGED_MESSAGE)
        started: ReservedPurchase | PaymentRefused | None = None
        if current is None:
            context, option = checkout_validate(checkout=checkout, buyer=buyer, lines=lines)
            current = _attempt_start(checkout, lines, buyer)
            started = _reserve(checkout, current, option, context, buyer, return_url)
        fingerprint = _fingerprint(checkout, lines)
    if isinstance(started, PaymentRefused):
        return _attempt_failed(current.pk, CheckoutAttempt.Status.REFUSED, reason=started.code, message=started.message)
    if started is not None:  # its row is committed with the order: now the provider
        return _send(checkout_id, current, started)
    if current.status == CheckoutAttempt.Status.SUBMITTING:
        return _await(current)
    if fingerprint == current.fingerprint:  # the same thing again: the buyer goes back to the provider's page
        txn = _purchase_row(current)
        if txn is not None:
            return checkout_finish(checkout_id=checkout_id, transaction_id=txn.pk)
    # the cart, an address or the payment details changed since: that attempt ends, the next one starts
    ended = checkout_attempt_end(checkout_id=checkout_id, buyer=buyer)
    if ended is not None and ended.outcome not in FAILED_OUTCOMES:
        return ended  # it was paid before it could be ended: that payment stands
    return checkout_submit(checkout_id=checkout_id, buyer=buyer, return_url=return_url)


def _lock_checkout(checkout_id: int, buyer: CustomerUser) -> Checkout:
    checkout = Checkout.objects.select_for_update(of=("self",)).select_related("cart", "order").get(pk=checkout_id)
    if checkout.cart.customer_user_id != buyer.pk:
        raise Checkout.DoesNotExist
    return checkout


def _current_attempt(checkout: Checkout) -> CheckoutAttempt | None:
    return checkout.attempts.filter(number=checkout.attempt).select_related("order").first()


def checkout_fingerprint(*, checkout: Checkout, lines: list[CartLine]) -> str:
    """What the review page shows, as a digest it posts back with "Submit order" (see `checkout_submit`)."""
    return _fingerprint(checkout, lines)


def _fingerprint(checkout: Checkout, lines: list[CartLine]) -> str:
    """What an attempt is made of: the cart, the addresses, shipping, the payment method and its data."""
    submitted = {
        "lines": sorted((line.product_id, line.quantity) for line in lines),
        "billing": checkout.billing_address,
        "ship_to_billing": checkout.ship_to_billing,
        "shipping": checkout.shipping_address,
        "shipping_method": checkout.shipping_method,
        "payment_method": checkout.payment_method,
        "payment_data": checkout.payment_data,
        **({"po_number": checkout.po_number} if checkout.po_number else {}),  # absent: earlier attempts' hashes hold
    }
    return hashlib.sha256(json.dumps(submitted, sort_keys=True, default=str).encode()).hexdigest()


def _attempt_start(checkout: Checkout, lines: list[CartLine], buyer: CustomerUser) -> CheckoutAttempt:
    """The attempt's order and its record, made once under the checkout lock; then the payment is sent."""
    order = _order_from_checkout(checkout, lines, buyer)
    checkout.order = order
    checkout.save(update_fields=["order", "updated_at"])
    return CheckoutAttempt.objects.create(
        checkout=checkout,
        number=checkout.attempt,
        order=order,
        customer_id=buyer.customer_id,
        customer_user=buyer,
        payment_method=checkout.payment_method,
        amount=order.total,
        currency=order.currency,
        idempotency_key=checkout.idempotency_key,
        fingerprint=_fingerprint(checkout, lines),
    )


def _reserve(
    checkout: Checkout,
    attempt: CheckoutAttempt,
    option: PaymentOption,
    context: CheckoutContext,
    buyer: CustomerUser,
    return_url: Callable[[str], str],
) -> ReservedPurchase | PaymentRefused:
    """The attempt's payment row, written in the transaction that made its order (one transaction, not two; the
    provider is called after it commits). A refusal writes nothing and is returned, for the attempt to end with."""
    key = attempt.idempotency_key
    try:
        if option.integration is None:  # a rule set built without its integrations (never the cached one)
            integration, method = method_resolve(option.identifier)
        else:
            integration, method = option.integration, option.method
        return order_purchase_reserve(
            order=attempt.order,
            integration=integration,
            method_info=method,
            key=key,
            actor=buyer.user,
            payment_data=dict(checkout.payment_data),
            return_url=return_url(key),
            # the buyer's language, for providers whose pages speak it (Wirecard)
            options={"checkout_id": checkout.pk, "language": translation.get_language() or ""},
            context=context,
        )
    except LookupError:
        return PaymentRefused("method_unavailable", "This payment method is not available.")
    except PaymentRefused as refused:
        return refused


def _purchase_row(attempt: CheckoutAttempt) -> PaymentTransaction | None:
    return PaymentTransaction.objects.filter(idempotency_key=attempt.idempotency_key).first()


def _in_flight(attempt: CheckoutAttempt) -> bool:
    """Still with the provider: the submit that sent it has not come back yet, and is not overdue."""
    return (
        attempt.status == CheckoutAttempt.Status.SUBMITTING
        and attempt.updated_at > timezone.now() - SUBMIT_OVERDUE_AFTER
    )


def _await(attempt: CheckoutAttempt) -> SubmitResult:
    """A second submit while the first is still waiting for the provider: wait a little for its outcome and act
    on it as the first does; if it takes longer, the buyer waits on the processing page, which reads it again."""
    deadline = time.monotonic() + settings.CHECKOUT_SUBMIT_WAIT_SECONDS
    while _in_flight(attempt) and time.monotonic() < deadline:
        time.sleep(0.2)
        attempt = CheckoutAttempt.objects.select_related("order").get(pk=attempt.pk)
    return checkout_attempt_outcome(attempt_id=attempt.pk)


def checkout_attempt_outcome(*, attempt_id: int) -> SubmitResult:
    """Where an attempt stands, for the processing page and a repeated submit.

    An attempt whose submit never came back (the web process died while the provider was asked) is settled
    here once it is overdue: its row is open, so its order is kept as unconfirmed for reconcile, exactly as
    when the provider gives no answer.
    """
    attempt = CheckoutAttempt.objects.select_related("order", "checkout").get(pk=attempt_id)
    if attempt.status == CheckoutAttempt.Status.SUBMITTING:
        if _in_flight(attempt):
            return SubmitResult(Outcome.PROCESSING, attempt.order, PROCESSING_MESSAGE, attempt_id=attempt.pk)
        txn = _purchase_row(attempt)
        if txn is None:  # it never got as far as the ledger: nothing was sent
            return _attempt_failed(
                attempt.pk,
                CheckoutAttempt.Status.REFUSED,
                reason="not_sent",
                message="The submit stopped before the payment was sent to the provider.",
            )
        if attempt.checkout_id is not None:
            return checkout_finish(checkout_id=attempt.checkout_id, transaction_id=txn.pk)
    return _attempt_result(attempt, attempt.checkout)


def checkout_finish(*, checkout_id: int, transaction_id: int) -> SubmitResult:
    """Act on where the attempt's payment stands: complete the checkout, send the buyer to the provider, or
    (declined) discard the order for the buyer and open the next attempt. Submit, a repeated submit, the return
    page and the processing page all end here; under the checkout lock the first decides and the others find
    the attempt's outcome recorded.

    An attempt the buyer is ending (another card or method, `checkout_attempt_end`) is decided by the request
    that ends it: its payment may complete at the provider just before the cancel arrives, and placing its order
    here would leave a placed order whose hold that cancel releases. Until then the buyer waits (PROCESSING)."""
    return _finish(checkout_id=checkout_id, transaction_id=transaction_id, ending=False)


def _send(checkout_id: int, attempt: CheckoutAttempt, reserved: ReservedPurchase) -> SubmitResult:
    """Steps 2 and 3 of the attempt's payment. Its record and what the checkout does with it are one transaction,
    under the checkout's lock and then the order's, the order every path takes them in."""
    answer = purchase_call(reserved)
    with transaction.atomic():
        checkout = _lock_checkout_and_cart(checkout_id)
        txn = purchase_record(reserved, answer, savepoint=False)
        if not _still_open(checkout, attempt):
            attempt = CheckoutAttempt.objects.get(pk=attempt.pk)  # ended or completed meanwhile: as it stands
        attempt.order = txn.order
        outcome = _finish_locked(checkout, txn, attempt, ending=False)
    if outcome is None:
        return _attempt_failed(attempt.pk, CheckoutAttempt.Status.DECLINED, reason=txn.error_code, message=txn.message)
    return outcome


def _still_open(checkout: Checkout, attempt: CheckoutAttempt) -> bool:
    """Under the checkout lock: the attempt this request started is still the checkout's open one. Every request
    that ends or completes an attempt changes the checkout with it (the next attempt number, no order, or
    completed), so the attempt as this request made it is current, and need not be read again."""
    return (
        checkout.attempt == attempt.number and checkout.order_id == attempt.order_id and checkout.completed_at is None
    )


def _lock_checkout_and_cart(checkout_id: int) -> Checkout:
    """The checkout's lock and its cart's in one statement (completing takes the ordered lines out of the cart,
    serialised with `cart_add`); nothing takes the cart's lock before the checkout's."""
    return Checkout.objects.select_for_update(of=("self", "cart")).select_related("cart").get(pk=checkout_id)


def _finish(*, checkout_id: int, transaction_id: int, ending: bool) -> SubmitResult:
    with transaction.atomic():
        checkout = _lock_checkout_and_cart(checkout_id)
        txn = PaymentTransaction.objects.select_related("order__checkout_attempt").get(pk=transaction_id)
        attempt = getattr(txn.order, "checkout_attempt", None)
        if attempt is None:  # not the payment of a checkout attempt
            return SubmitResult(Outcome.COMPLETED, txn.order)
        outcome = _finish_locked(checkout, txn, attempt, ending=ending)
    if outcome is None:
        return _attempt_failed(attempt.pk, CheckoutAttempt.Status.DECLINED, reason=txn.error_code, message=txn.message)
    return outcome


def _finish_locked(
    checkout: Checkout, txn: PaymentTransaction, attempt: CheckoutAttempt, *, ending: bool
) -> SubmitResult | None:
    """What the attempt's payment means for the checkout, under the checkout's lock (and its cart's); None when it
    failed (the caller ends the attempt after this transaction)."""
    if attempt.status not in OPEN_ATTEMPT_STATUSES:
        return _attempt_result(attempt, checkout)
    if not ending and txn.reason == ABANDONED and _in_flight(attempt):  # being ended by another request
        return SubmitResult(Outcome.PROCESSING, attempt.order, PROCESSING_MESSAGE, attempt_id=attempt.pk)
    if txn.state in (State.SUCCEEDED, State.PROCESSING):
        _complete(checkout, attempt, CheckoutAttempt.Status.PLACED, txn, cart_locked=True)
        return SubmitResult(Outcome.COMPLETED, attempt.order)
    if txn.state == State.ACTION_REQUIRED:
        url = (txn.response.get("next_action") or {}).get("redirect_url", "")
        if url:
            if attempt.status != CheckoutAttempt.Status.AWAITING_BUYER:
                attempt.status = CheckoutAttempt.Status.AWAITING_BUYER
                attempt.provider_reference = txn.provider_reference
                attempt.save(update_fields=["status", "provider_reference", "updated_at"])
            return SubmitResult(Outcome.REDIRECT, attempt.order, redirect_url=url)
        _complete(checkout, attempt, CheckoutAttempt.Status.UNCONFIRMED, txn, cart_locked=True)
        return SubmitResult(Outcome.UNCONFIRMED, attempt.order, UNCONFIRMED_MESSAGE)
    if txn.state == State.RESERVED:
        # No answer from the provider: money may have moved, so the order stays, pending, for reconcile.
        _complete(checkout, attempt, CheckoutAttempt.Status.UNCONFIRMED, txn, cart_locked=True)
        return SubmitResult(Outcome.UNCONFIRMED, attempt.order, UNCONFIRMED_MESSAGE)
    return None


def checkout_attempt_end(*, checkout_id: int, buyer: CustomerUser) -> SubmitResult | None:
    """The buyer changed how to pay while an attempt waits for them at the provider (3-D Secure, a hosted page):
    end that attempt before another one starts, so at most one order of the checkout can take money.

    The payment is ended at the provider where it can still complete (`payments.abandonment`); its order is
    discarded for the buyer and kept for staff, and the next attempt gets a new key. If the buyer completed it
    meanwhile, it stands instead: the checkout completes with it. None when no attempt waits for the buyer.
    """
    with transaction.atomic():
        _lock_checkout(checkout_id, buyer)  # the buyer's own
    return _attempt_end(
        checkout_id,
        reason="abandoned",
        message="The buyer changed the payment details or the cart while the provider waited for them.",
    )


def _attempt_end(
    checkout_id: int, *, reason: str, message: str, waiting_since: datetime | None = None
) -> SubmitResult | None:
    """End the checkout's attempt that waits for the buyer (`waiting_since`: only if it has waited since then)."""
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout_id)
        current = _current_attempt(checkout)
        if current is None or current.status != CheckoutAttempt.Status.AWAITING_BUYER:
            return None
        if waiting_since is not None and current.updated_at > waiting_since:
            return None  # the buyer came back to it meanwhile
        # With the provider again until this request decides: a return page, a processing page or another submit
        # of this attempt now waits for that decision (`checkout_finish`), as for any submit still under way.
        current.status = CheckoutAttempt.Status.SUBMITTING
        current.save(update_fields=["status", "updated_at"])
    txn = _purchase_row(current)
    if txn is not None:
        txn = payment_abandon(transaction_id=txn.pk)  # the provider is asked with no transaction open
        if txn.state == State.PROCESSING:  # accepted and settling at the provider: it stands
            result = _finish(checkout_id=checkout_id, transaction_id=txn.pk, ending=True)
            return replace(result, message=EARLIER_PAYMENT_MESSAGE) if result.outcome == Outcome.COMPLETED else result
    # an order that holds money after all (the buyer finished just before) is kept, under the order lock, here:
    return _attempt_failed(current.pk, CheckoutAttempt.Status.ABANDONED, reason=reason, message=message)


#: where a purchase stands once the provider answered it: enough to settle its attempt without the buyer
ANSWERED_STATES = (State.SUCCEEDED, State.PROCESSING, State.DECLINED)
#: how long an attempt waits for a buyer who left the provider's page (3-D Secure, a hosted page) before it is
#: ended; the provider's own page times out well before (a 3-D Secure challenge in minutes, Payflow's token in 30)
AWAITING_BUYER_EXPIRES_AFTER = timedelta(hours=1)


def checkout_attempts_to_settle(*, now: datetime | None = None, batch: int = 500) -> list[int]:
    """Attempts still waiting for the buyer at the provider that no longer should: the payment was answered without
    them (a webhook or reconcile recorded it; the tab was closed before the return page), or they have not come
    back for AWAITING_BUYER_EXPIRES_AFTER."""
    now = now or timezone.now()
    answered = PaymentTransaction.objects.filter(idempotency_key=OuterRef("idempotency_key"), state__in=ANSWERED_STATES)
    return list(
        CheckoutAttempt.objects.filter(status=CheckoutAttempt.Status.AWAITING_BUYER, checkout__isnull=False)
        .filter(Exists(answered) | Q(updated_at__lte=now - AWAITING_BUYER_EXPIRES_AFTER))
        .order_by("updated_at", "id")
        .values_list("id", flat=True)[:batch]
    )


def checkout_attempt_settle(*, attempt_id: int, now: datetime | None = None) -> SubmitResult | None:
    """Settle an attempt as its return page would have: placed when paid (what it holds leaves the cart, so it is
    not bought twice), declined otherwise (its order hidden, the cart kept). One the buyer has left waiting too
    long is ended as a change of method ends it (reason `expired`). None when there is nothing to do."""
    now = now or timezone.now()
    attempt = CheckoutAttempt.objects.filter(pk=attempt_id).first()
    if attempt is None or attempt.checkout_id is None or attempt.status != CheckoutAttempt.Status.AWAITING_BUYER:
        return None
    txn = _purchase_row(attempt)
    if txn is not None and txn.state in ANSWERED_STATES:
        return checkout_finish(checkout_id=attempt.checkout_id, transaction_id=txn.pk)
    return _attempt_end(
        attempt.checkout_id,
        reason="expired",
        message="The buyer did not come back from the provider's page; the payment was ended.",
        waiting_since=now - AWAITING_BUYER_EXPIRES_AFTER,
    )


def checkout_open_attempt(*, checkout: Checkout) -> CheckoutAttempt | None:
    """The checkout's attempt that is still under way (sent to the provider, or waiting for the buyer there)."""
    if checkout.completed_at is not None:
        return None
    attempt = _current_attempt(checkout)
    return attempt if attempt is not None and attempt.status in OPEN_ATTEMPT_STATUSES else None


def checkout_payment_choose(
    *, checkout: Checkout, buyer: CustomerUser, payment_method: str, payment_data: dict, po_number: str | None = None
) -> SubmitResult | None:
    """The payment step: save the chosen method and what its widget produced. Another method or other data than
    an attempt still under way was made with ends that attempt first (`checkout_attempt_end`).

    Returns what the buyer must see instead when the choice cannot apply: the attempt is still with the provider
    (PROCESSING), or it was paid meanwhile (COMPLETED). None when the choice was saved.
    """
    attempt = checkout_open_attempt(checkout=checkout)
    if attempt is not None and attempt.status == CheckoutAttempt.Status.SUBMITTING:
        return checkout_attempt_outcome(attempt_id=attempt.pk)
    po_number = checkout.po_number if po_number is None else po_number
    changed = (payment_method, payment_data, po_number) != (
        checkout.payment_method,
        checkout.payment_data,
        checkout.po_number,
    )
    if attempt is not None and changed:
        ended = checkout_attempt_end(checkout_id=checkout.pk, buyer=buyer)
        if ended is not None and ended.outcome not in FAILED_OUTCOMES:
            return ended
        checkout.refresh_from_db()
    checkout_update(
        checkout=checkout, buyer=buyer, payment_method=payment_method, payment_data=payment_data, po_number=po_number
    )
    return None


def _attempt_result(attempt: CheckoutAttempt, checkout: Checkout | None) -> SubmitResult:
    """An attempt's recorded outcome as the buyer sees it."""
    status = attempt.status
    if status == CheckoutAttempt.Status.PLACED:
        return SubmitResult(Outcome.COMPLETED, attempt.order)
    if status == CheckoutAttempt.Status.UNCONFIRMED:
        return SubmitResult(Outcome.UNCONFIRMED, attempt.order, UNCONFIRMED_MESSAGE)
    if status == CheckoutAttempt.Status.SUBMITTING:
        return SubmitResult(Outcome.PROCESSING, attempt.order, PROCESSING_MESSAGE, attempt_id=attempt.pk)
    if status == CheckoutAttempt.Status.AWAITING_BUYER:
        txn = _purchase_row(attempt)
        url = ((txn.response.get("next_action") or {}).get("redirect_url", "")) if txn is not None else ""
        return SubmitResult(Outcome.REDIRECT, attempt.order, redirect_url=url)
    placed = checkout.order if checkout is not None and checkout.completed_at is not None else None
    if status == CheckoutAttempt.Status.ABANDONED:
        return SubmitResult(
            Outcome.ABANDONED, placed, EXPIRED_MESSAGE if attempt.reason == "expired" else ABANDONED_MESSAGE
        )
    if status == CheckoutAttempt.Status.REFUSED:
        return SubmitResult(Outcome.REFUSED, placed, REFUSED_MESSAGES.get(attempt.reason, REFUSED_MESSAGE))
    return SubmitResult(Outcome.DECLINED, placed, DECLINED_MESSAGE)


def _complete(
    checkout: Checkout,
    attempt: CheckoutAttempt,
    status: CheckoutAttempt.Status,
    txn: PaymentTransaction | None,
    *,
    cart_locked: bool = False,
) -> None:
    """The attempt's order is kept: the checkout is done, and the cart loses what the order holds.

    Only what was ordered leaves the cart: what the buyer added while paying at the provider (another tab, the
    3-D Secure page left open) stays for the next order. The attempt's amount was fixed when the provider was
    asked, so nothing added later can join this order.
    """
    now = timezone.now()
    checkout.completed_at = now
    checkout.order_id = attempt.order_id
    checkout.payment_data = {}
    checkout.save(update_fields=["completed_at", "order", "payment_data", "updated_at"])
    attempt.status = status
    attempt.finished_at = now
    if txn is not None and txn.provider_reference:
        attempt.provider_reference = txn.provider_reference
    attempt.save(update_fields=["status", "finished_at", "provider_reference", "updated_at"])
    _cart_remove_ordered(checkout.cart_id, attempt.order_id, cart_locked=cart_locked)


#: PostgreSQL: what the order holds leaves the cart in one statement (lines left at 0 or less go, lines the buyer
#: added to while paying keep the difference)
_CART_REMOVE_ORDERED_SQL = """
WITH left_over AS (
    SELECT line.id, line.quantity - COALESCE((
        SELECT TRUNC(SUM(ordered.quantity)) FROM {order_line} ordered
        WHERE ordered.order_id = %s AND ordered.sku = product.sku
    ), 0) AS quantity
    FROM {cart_line} line JOIN {product} product ON product.id = line.product_id
    WHERE line.cart_id = %s
), gone AS (
    DELETE FROM {cart_line} WHERE id IN (SELECT id FROM left_over WHERE quantity <= 0) RETURNING id
)
UPDATE {cart_line} line SET quantity = left_over.quantity::integer FROM left_over
WHERE line.id = left_over.id AND left_over.quantity > 0 AND left_over.quantity < line.quantity
"""


def _cart_remove_ordered(cart_id: int, order_id: int, *, cart_locked: bool = False) -> None:
    if not cart_locked:  # taken with the checkout's lock otherwise
        Cart.objects.select_for_update().filter(pk=cart_id).first()  # serialised with cart_add
    if connection.vendor == "postgresql":
        tables = {
            "order_line": OrderLine._meta.db_table,
            "cart_line": CartLine._meta.db_table,
            "product": Product._meta.db_table,
        }
        with connection.cursor() as cursor:
            cursor.execute(_CART_REMOVE_ORDERED_SQL.format(**tables), [order_id, cart_id])
        return
    ordered = (
        OrderLine.objects.filter(order_id=order_id, sku=OuterRef("product__sku"))
        .order_by()
        .values("sku")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    gone, smaller = [], []
    lines = CartLine.objects.filter(cart_id=cart_id).annotate(ordered=Subquery(ordered))
    for line_id, quantity, in_order in lines.values_list("pk", "quantity", "ordered"):
        left = quantity - int(in_order or 0)
        if left <= 0:
            gone.append(line_id)
        elif left != quantity:
            smaller.append(CartLine(pk=line_id, quantity=left))
    if gone:
        CartLine.objects.filter(pk__in=gone).delete()
    if smaller:
        CartLine.objects.bulk_update(smaller, ["quantity"])


def _attempt_failed(attempt_id: int, status: CheckoutAttempt.Status, *, reason: str, message: str) -> SubmitResult:
    """Record how the attempt ended, discard its order for the buyer (kept for staff) and open the next attempt,
    with a new key. If its payment succeeded meanwhile (a webhook overtook us), the order is kept instead."""
    checkout_id = CheckoutAttempt.objects.values_list("checkout_id", flat=True).get(pk=attempt_id)
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().filter(pk=checkout_id).first()
        attempt = CheckoutAttempt.objects.select_related("order").get(pk=attempt_id)  # read under the lock
        if checkout is None or attempt.status not in OPEN_ATTEMPT_STATUSES:
            return _attempt_result(attempt, checkout)
        txn = _purchase_row(attempt)
        if not checkout_order_discard(order_id=attempt.order_id):
            attempt.order.refresh_from_db(fields=["payment_status"])
            if attempt.order.payment_status not in KEEP_STATUSES:  # kept while what moved is not known yet
                _complete(checkout, attempt, CheckoutAttempt.Status.UNCONFIRMED, txn)
                return SubmitResult(Outcome.UNCONFIRMED, attempt.order, UNCONFIRMED_MESSAGE)
            _complete(checkout, attempt, CheckoutAttempt.Status.PLACED, txn)
            return SubmitResult(Outcome.COMPLETED, attempt.order, EARLIER_PAYMENT_MESSAGE)
        attempt.status = status
        attempt.reason = (reason or "")[:64]
        attempt.message = message or ""
        attempt.finished_at = timezone.now()
        if txn is not None and txn.provider_reference:
            attempt.provider_reference = txn.provider_reference
        attempt.save(update_fields=["status", "reason", "message", "finished_at", "provider_reference", "updated_at"])
        if checkout.attempt == attempt.number:
            checkout.order = None
            checkout.attempt += 1
            checkout.save(update_fields=["order", "attempt", "updated_at"])
        return _attempt_result(attempt, checkout)


def checkout_order_discard(*, order_id: int) -> bool:
    """Discard the order of a failed or abandoned attempt for the buyer: it leaves their pages and the order
    counts, and stays, with its lines, addresses and every ledger row, for staff (the reference deletes it;
    domain.md §6.3). A row that carries a provider reference is evidence of what the provider was asked.

    Refused (False) when its payment reached a paid or authorized status, when a payment of it has an outcome
    not known yet (no answer, a void of a refused card that did not go through, still settling: money may be
    held, and it is "a decline only when no money is held"), or when an invoice of it is paid or being paid:
    that order is the buyer's. A payment waiting for the buyer at the provider does not keep it (it is being
    ended), and a late success after the discard is given back by `payments.abandonment.order_release`. An unpaid
    invoice staff issued meanwhile (the order looked like any order awaiting payment) is voided, and staff are
    told: nobody may pay an order that was never placed.
    """
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.payment_status in KEEP_STATUSES:
            return False
        if order.transactions.filter(state__in=(State.RESERVED, State.PROCESSING)).exists():
            return False
        invoice_payments = order.transactions.filter(invoice__isnull=False)
        if invoice_payments.filter(Q(successful=True) | Q(state__in=OPEN_STATES)).exists():
            return False
        if order.discarded_at is None:
            order.discarded_at = timezone.now()
            order.save(update_fields=["discarded_at", "updated_at"])
        for invoice in order.invoices.filter(status=Invoice.Status.OPEN):
            invoice.status = Invoice.Status.VOID
            invoice.save(update_fields=["status", "updated_at"])
            notice_raise(
                key=f"invoice-voided:{invoice.pk}",
                order=order,
                message=(
                    f"Invoice {invoice.number} was voided: its order {order.number} belongs to a checkout attempt "
                    "that failed, so the buyer never placed it."
                ),
            )
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
        po_number=checkout.po_number,
        billing_address=billing,
        shipping_address=shipping,
        actor=buyer.user,
        payment_method=checkout.payment_method,
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
