"""Storefront views: thin entry points that parse, check the buyer, call one service and render."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from functools import wraps
from typing import Any, cast
from uuid import UUID, uuid4

from django.contrib import messages
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, LogoutView, redirect_to_login
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from checkout import services
from checkout.forms import (
    AddressForm,
    AddToCartForm,
    BuyerLoginForm,
    QuantityForm,
    ShippingForm,
    ShippingMethodForm,
)
from checkout.models import Checkout, CheckoutAttempt, Product
from checkout.payment_data import CardDataRefused, collect_payment_data
from checkout.selectors import (
    BUYER_STATE_LABELS,
    PaymentOption,
    buyer_cart,
    buyer_invoice,
    buyer_invoices,
    buyer_of,
    buyer_order,
    buyer_orders,
    buyer_payment_history,
    cart_lines,
    cart_totals,
    checkout_context,
    checkout_startable,
    invoice_is_payable,
    last_checkout,
    localized,
    method_short_label,
    open_checkout,
    payment_options,
)
from checkout.services import Outcome, SubmitResult
from checkout.shipping import SHIPPING_METHODS
from core.status import PaymentStatus
from integrations.adapters import adapter_for
from orders.models import Invoice
from payments.exceptions import PaymentRefused
from payments.models import PaymentTransaction, State
from payments.selectors import invoice_payment_method, order_account
from payments.services import invoice_payment_purchase, payment_complete

RETURN_SALT = "checkout.return"
NO_PAYMENT_METHOD_MESSAGE = (
    "No payment method is available for this order, so it cannot be checked out. "
    "Please contact us to complete your order."
)
CARD_DATA_MESSAGE = (
    "Card details must never be sent to this site. Please use the payment form of your payment method, "
    "which sends them directly to the payment provider."
)
STEPS = [
    ("storefront:checkout_billing", "Billing address"),
    ("storefront:checkout_shipping", "Shipping address"),
    ("storefront:checkout_shipping_method", "Shipping method"),
    ("storefront:checkout_payment", "Payment"),
    ("storefront:checkout_review", "Review"),
]


def buyer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in as a customer user; staff and other users get 403, anonymous visitors the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("storefront:login"))
        buyer = buyer_of(request.user)
        if buyer is None:
            raise PermissionDenied("Only customer accounts can use the shop.")
        request.buyer = buyer  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


# --- accounts ------------------------------------------------------------------------------------------------


class BuyerLoginView(LoginView):
    template_name = "storefront/login.html"
    authentication_form = BuyerLoginForm
    redirect_authenticated_user = False

    def get_default_redirect_url(self) -> str:
        return reverse("storefront:catalog")


class BuyerLogoutView(LogoutView):
    next_page = "storefront:catalog"


# --- catalog and cart ------------------------------------------------------------------------------------------


@require_GET
def catalog(request: HttpRequest) -> HttpResponse:
    products = Product.objects.filter(active=True)
    return render(request, "storefront/catalog.html", {"products": products, "buyer": buyer_of(request.user)})


@require_GET
@buyer_required
def cart(request: HttpRequest) -> HttpResponse:
    the_cart = buyer_cart(buyer=request.buyer)  # type: ignore[attr-defined]
    lines = cart_lines(cart=the_cart)
    startable = bool(lines) and checkout_startable(
        checkout=open_checkout(cart=the_cart) or Checkout(cart=the_cart),
        lines=lines,
        buyer=request.buyer,  # type: ignore[attr-defined]
    )
    context = {
        "lines": lines,
        "totals": cart_totals(lines),
        "startable": startable,
        "blocked": NO_PAYMENT_METHOD_MESSAGE,
    }
    return render(request, "storefront/cart.html", context)


@require_POST
@buyer_required
def cart_add(request: HttpRequest) -> HttpResponse:
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Please enter a quantity of at least 1.")
        return redirect("storefront:catalog")
    try:
        line = services.cart_add(
            cart=buyer_cart(buyer=request.buyer),  # type: ignore[attr-defined]
            product_id=form.cleaned_data["product"],
            quantity=form.cleaned_data["quantity"],
        )
    except services.CartError as error:
        messages.error(request, str(error))
        return redirect("storefront:catalog")
    messages.success(request, f"{line.product.name} was added to your cart.")
    return redirect("storefront:catalog")


@require_POST
@buyer_required
def cart_line(request: HttpRequest, line_id: int) -> HttpResponse:
    form = QuantityForm({"quantity": 0} if "remove" in request.POST else request.POST)
    if not form.is_valid():
        messages.error(request, "Please enter a quantity of 0 or more.")
        return redirect("storefront:cart")
    try:
        services.cart_line_update(
            cart=buyer_cart(buyer=request.buyer),  # type: ignore[attr-defined]
            line_id=line_id,
            quantity=form.cleaned_data["quantity"],
        )
    except services.CartError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Your cart was updated.")
    return redirect("storefront:cart")


# --- checkout steps ------------------------------------------------------------------------------------------------


class Step:
    """What every step view needs: the buyer, the open checkout, the cart lines."""

    def __init__(self, request: HttpRequest) -> None:
        self.buyer = request.buyer  # type: ignore[attr-defined]
        self.cart = buyer_cart(buyer=self.buyer)
        self.checkout = services.checkout_start(cart=self.cart)
        self.checkout.cart = self.cart
        self.lines = cart_lines(cart=self.cart)
        self.next_step = services.checkout_next_step(checkout=self.checkout, lines=self.lines)

    def requires(self, step: str) -> HttpResponse | None:
        """A redirect to an earlier step that is not done, or None when this step may be shown."""
        order = [name for name, _ in STEPS]
        if not self.lines:
            return redirect("storefront:cart")
        if step == order[0] and not self.startable():
            return redirect("storefront:cart")
        if self.next_step in order and order.index(self.next_step) < order.index(step):
            return redirect(self.next_step)
        return None

    def startable(self) -> bool:
        """Before any address: can this cart be paid at all? (The cart page says why not.)"""
        return checkout_startable(checkout=self.checkout, lines=self.lines, buyer=self.buyer)

    def context(self, current: str, **extra: Any) -> dict[str, Any]:
        order = [name for name, _ in STEPS]
        reachable = order.index(self.next_step) if self.next_step in order else 0
        steps = [
            {"url": reverse(name), "label": label, "current": name == current, "reachable": i <= reachable}
            for i, (name, label) in enumerate(STEPS)
        ]
        totals = cart_totals(self.lines, self.checkout.shipping_method)
        return {"checkout": self.checkout, "lines": self.lines, "totals": totals, "steps": steps, **extra}


@require_GET
@buyer_required
def checkout_start(request: HttpRequest) -> HttpResponse:
    """Where "Check out" leads: the first step not done, unless no payment method can serve this cart (then the
    buyer is told at once, on the cart page, rather than after entering two addresses)."""
    step = Step(request)
    if step.lines and not step.startable():
        return redirect("storefront:cart")  # which says why
    return redirect(step.next_step)


@require_http_methods(["GET", "POST"])
@buyer_required
def checkout_billing(request: HttpRequest) -> HttpResponse:
    step = Step(request)
    if blocked := step.requires("storefront:checkout_billing"):
        return blocked
    last = last_checkout(cart=step.cart)
    initial = step.checkout.billing_address or (last.billing_address if last else {})
    form = AddressForm(request.POST or None, initial=initial, prefix="billing")
    if request.method == "POST" and form.is_valid():
        services.checkout_update(checkout=step.checkout, buyer=step.buyer, billing_address=form.cleaned_data)
        return redirect("storefront:checkout_shipping")
    return render(
        request,
        "storefront/checkout/address.html",
        step.context("storefront:checkout_billing", form=form, title="Billing address"),
    )


@require_http_methods(["GET", "POST"])
@buyer_required
def checkout_shipping(request: HttpRequest) -> HttpResponse:
    step = Step(request)
    if blocked := step.requires("storefront:checkout_shipping"):
        return blocked
    checkout = step.checkout
    choice = ShippingForm(request.POST or None, initial={"ship_to_billing": checkout.ship_to_billing})
    data = request.POST if request.method == "POST" and not request.POST.get("ship_to_billing") else None
    form = AddressForm(data, initial=checkout.shipping_address or checkout.billing_address, prefix="shipping")
    if request.method == "POST" and choice.is_valid():
        if choice.cleaned_data["ship_to_billing"]:
            services.checkout_update(checkout=checkout, buyer=step.buyer, ship_to_billing=True, shipping_address={})
            return redirect("storefront:checkout_shipping_method")
        if form.is_valid():
            services.checkout_update(
                checkout=checkout, buyer=step.buyer, ship_to_billing=False, shipping_address=form.cleaned_data
            )
            return redirect("storefront:checkout_shipping_method")
    return render(
        request,
        "storefront/checkout/shipping.html",
        step.context("storefront:checkout_shipping", choice=choice, form=form),
    )


@require_http_methods(["GET", "POST"])
@buyer_required
def checkout_shipping_method(request: HttpRequest) -> HttpResponse:
    step = Step(request)
    if blocked := step.requires("storefront:checkout_shipping_method"):
        return blocked
    initial = step.checkout.shipping_method or next(iter(SHIPPING_METHODS))
    form = ShippingMethodForm(request.POST or None, initial={"shipping_method": initial})
    if request.method == "POST" and form.is_valid():
        services.checkout_update(
            checkout=step.checkout, buyer=step.buyer, shipping_method=form.cleaned_data["shipping_method"]
        )
        return redirect("storefront:checkout_payment")
    methods = [
        {"key": m.key, "label": m.label, "amount": m.amount_in(step.lines[0].product.currency)}
        for m in SHIPPING_METHODS.values()
    ]
    return render(
        request,
        "storefront/checkout/shipping_method.html",
        step.context("storefront:checkout_shipping_method", form=form, methods=methods, selected=initial),
    )


def _widgets(options: list[PaymentOption], context: Any) -> list[dict[str, Any]]:
    """Each method with its label and its provider's widget (template and options)."""
    rendered = []
    for option in options:
        try:
            template = get_template(option.method.widget).template.name if option.method.widget else ""  # type: ignore[attr-defined]
        except TemplateDoesNotExist:
            template = ""  # a provider without a widget: the label alone
        rendered.append(
            {
                "identifier": option.identifier,
                "label": option.label,
                "short_label": option.short_label,
                "widget": template,
                "options": option.adapter.widget_context(option.method, context),
            }
        )
    return rendered


@require_http_methods(["GET", "POST"])
@buyer_required
def checkout_payment(request: HttpRequest) -> HttpResponse:
    step = Step(request)
    if blocked := step.requires("storefront:checkout_payment"):
        return blocked
    checkout = step.checkout
    context = checkout_context(checkout=checkout, lines=step.lines, buyer=step.buyer)
    methods = _widgets(payment_options(context), context)
    error, status = "", 200
    if request.method == "POST":
        chosen = request.POST.get("payment_method", "")
        try:
            payment_data = collect_payment_data(request.POST)
        except CardDataRefused:
            error, status = CARD_DATA_MESSAGE, 400
        except ValueError:
            error, status = "The payment form sent too much data.", 400
        else:
            if chosen not in {m["identifier"] for m in methods}:
                error = "Please choose a payment method."
            else:
                instead = services.checkout_payment_choose(
                    checkout=checkout, buyer=step.buyer, payment_method=chosen, payment_data=payment_data
                )
                if instead is not None:  # the open payment is still with the provider, or went through
                    return _after_payment(request, instead)
                return redirect("storefront:checkout_review")
    open_attempt = services.checkout_open_attempt(checkout=checkout)
    return render(
        request,
        "storefront/checkout/payment.html",
        step.context("storefront:checkout_payment", methods=methods, error=error, open_attempt=open_attempt),
        status=status,
    )


@require_http_methods(["GET", "POST"])
@buyer_required
def checkout_review(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _submit(request)
    step = Step(request)
    if blocked := step.requires("storefront:checkout_review"):
        return blocked
    checkout = step.checkout
    context = checkout_context(checkout=checkout, lines=step.lines, buyer=step.buyer)
    chosen = [m for m in _widgets(payment_options(context), context) if m["identifier"] == checkout.payment_method]
    if not chosen:  # the cart or an address changed, and the rules no longer allow the method
        services.checkout_update(checkout=checkout, buyer=step.buyer, payment_method="", payment_data={})
        messages.error(request, services.METHOD_GONE_MESSAGE)
        return redirect("storefront:checkout_payment")
    return render(
        request,
        "storefront/checkout/review.html",
        step.context(
            "storefront:checkout_review",
            method=chosen[0],
            shipping=SHIPPING_METHODS[checkout.shipping_method],
            delivery=checkout.delivery_address,
            reviewed=services.checkout_fingerprint(checkout=checkout, lines=step.lines),
        ),
    )


def _return_url(request: HttpRequest) -> Callable[[str], str]:
    def build(key: str) -> str:
        token = signing.dumps(key, salt=RETURN_SALT, compress=True)
        return request.build_absolute_uri(reverse("storefront:checkout_return", args=[token]))

    return build


def _submit(request: HttpRequest) -> HttpResponse:
    buyer = request.buyer  # type: ignore[attr-defined]
    checkout_id = request.POST.get("checkout", "")
    checkout = (
        Checkout.objects.filter(pk=int(checkout_id), cart__customer_user=buyer).first()
        if checkout_id.isdigit()
        else None
    )
    if checkout is None:
        return redirect("storefront:checkout")
    attempt = request.POST.get("attempt", "")
    try:
        result = services.checkout_submit(
            checkout_id=checkout.pk,
            buyer=buyer,
            return_url=_return_url(request),
            attempt=int(attempt) if attempt.isdigit() else None,
            reviewed=request.POST.get("reviewed"),
        )
    except services.CheckoutIncomplete as incomplete:
        messages.error(request, incomplete.message)
        return redirect(incomplete.step)
    return _after_payment(request, result)


def _after_payment(request: HttpRequest, result: SubmitResult) -> HttpResponse:
    if result.outcome == Outcome.REDIRECT and result.redirect_url:
        return redirect(result.redirect_url)
    if result.outcome == Outcome.PROCESSING:
        return redirect("storefront:checkout_processing", attempt_id=result.attempt_id)
    if result.outcome in services.FAILED_OUTCOMES:
        messages.error(request, result.message)
        if result.order is None:
            return redirect("storefront:checkout_payment")
        # an earlier attempt of a checkout that a later attempt completed: show the order that was placed
        return redirect("storefront:order_confirmation", number=result.order.number)
    if result.message:
        messages.warning(request, result.message)
    return redirect("storefront:order_confirmation", number=result.order.number)  # type: ignore[union-attr]


@require_GET
@buyer_required
def checkout_processing(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Where the buyer waits while a submit is still with the provider; the page reloads until it is answered."""
    buyer = request.buyer  # type: ignore[attr-defined]
    if not CheckoutAttempt.objects.filter(pk=attempt_id, customer_user=buyer).exists():
        raise Http404
    result = services.checkout_attempt_outcome(attempt_id=attempt_id)
    if result.outcome != Outcome.PROCESSING:
        return _after_payment(request, result)
    return render(request, "storefront/checkout/processing.html", {"message": result.message})


@require_GET
@buyer_required
def checkout_return(request: HttpRequest, token: str) -> HttpResponse:
    """Where a redirecting provider sends the buyer back: complete the payment, then show where it stands."""
    try:
        key = signing.loads(token, salt=RETURN_SALT)
    except signing.BadSignature as exc:
        raise Http404 from exc
    buyer = request.buyer  # type: ignore[attr-defined]
    txn = (
        PaymentTransaction.objects.filter(idempotency_key=key, order__customer_id=buyer.customer_id)
        .select_related("invoice")
        .first()
    )
    if txn is None:
        raise Http404
    txn = payment_complete(transaction_id=txn.pk)
    if txn.invoice_id is not None:
        _invoice_message(request, txn)
        return redirect("storefront:invoice_detail", number=txn.invoice.number)  # type: ignore[union-attr]
    attempt = CheckoutAttempt.objects.filter(order_id=txn.order_id).values_list("checkout_id", flat=True).first()
    if attempt is None:  # the checkout is gone (its buyer login was deleted)
        return redirect("storefront:orders")
    return _after_payment(request, services.checkout_finish(checkout_id=attempt, transaction_id=txn.pk))


# --- after ---------------------------------------------------------------------------------------------------------


@require_GET
@buyer_required
def order_confirmation(request: HttpRequest, number: str) -> HttpResponse:
    order = buyer_order(buyer=request.buyer, number=number)  # type: ignore[attr-defined]
    return render(
        request,
        "storefront/confirmation.html",
        {"order": order, "method_label": method_short_label(order.payment_method)},
    )


@require_GET
@buyer_required
def orders(request: HttpRequest) -> HttpResponse:
    rows = list(buyer_orders(buyer=request.buyer))  # type: ignore[attr-defined]
    labels: dict[str, str] = {}
    for order in rows:
        if order.payment_method not in labels:
            labels[order.payment_method] = method_short_label(order.payment_method)
        order.method_label = labels[order.payment_method]  # type: ignore[attr-defined]
    return render(request, "storefront/orders.html", {"orders": rows})


@require_GET
@buyer_required
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = buyer_order(buyer=request.buyer, number=number)  # type: ignore[attr-defined]
    history = buyer_payment_history(order=order)
    labels: dict[str, str] = {}
    for row in history:
        if row.payment_method not in labels:
            labels[row.payment_method] = method_short_label(row.payment_method)
        row.method_label = labels[row.payment_method]  # type: ignore[attr-defined]
        row.buyer_state = BUYER_STATE_LABELS[State(row.state)]  # type: ignore[attr-defined]
    return render(
        request,
        "storefront/order_detail.html",
        {
            "order": order,
            "lines": order.lines.all(),
            "history": history,
            "method_label": labels.get(order.payment_method) or method_short_label(order.payment_method),
            "invoices": order.invoices.all(),
        },
    )


# --- invoices ------------------------------------------------------------------------------------------------------


@require_GET
@buyer_required
def invoices(request: HttpRequest) -> HttpResponse:
    rows = list(buyer_invoices(buyer=request.buyer))  # type: ignore[attr-defined]
    for invoice in rows:
        invoice.payable = invoice_is_payable(invoice)  # type: ignore[attr-defined]
    return render(request, "storefront/invoices.html", {"invoices": rows})


@require_GET
@buyer_required
def invoice_detail(request: HttpRequest, number: str) -> HttpResponse:
    invoice = buyer_invoice(buyer=request.buyer, number=number)  # type: ignore[attr-defined]
    return _invoice_page(request, invoice)


def _invoice_page(request: HttpRequest, invoice: Invoice, *, error: str = "", status: int = 200) -> HttpResponse:
    payable = invoice_is_payable(invoice)
    method = None
    notice = ""
    waiting = Decimal("0")  # a payment of this invoice that waits for the buyer at the provider: paying again ends it
    if getattr(invoice, "waiting_for_buyer", False):
        waiting = sum(
            invoice.transactions.filter(state=State.ACTION_REQUIRED).values_list("amount", flat=True), Decimal("0")
        )
        notice = (
            "You started paying this invoice and the payment provider is still waiting for you. If you pay with "
            "other payment details, that payment is canceled."
        )
    if payable and order_account(order=invoice.order).settleable + waiting < invoice.amount:
        # the order was settled another way (a check received, a card payment): the service would refuse it too
        payable = False
        notice = "This invoice's order has already been settled, so there is nothing to pay here."
    if payable:
        try:
            integration, info = invoice_payment_method()
        except LookupError:
            payable = False
        else:
            adapter = adapter_for(integration)
            context = invoice.order.checkout_context()
            invoice_context = replace(context, subtotal=invoice.money, total=invoice.money)
            if not adapter.is_applicable(invoice_context):
                payable = False
                notice = "This invoice cannot be paid online. Please contact us to arrange payment."
            template = ""
            try:
                template = get_template(info.widget).template.name if info.widget else ""  # type: ignore[attr-defined]
            except TemplateDoesNotExist:
                template = ""
            method = {
                "label": localized(info.labels) or integration.label(),
                "widget": template,
                "options": adapter.widget_context(info, context),
            }
    history = list(invoice.transactions.order_by("created_at", "id"))
    for row in history:
        row.buyer_state = BUYER_STATE_LABELS[State(row.state)]  # type: ignore[attr-defined]
        row.method_label = method_short_label(row.payment_method)  # type: ignore[attr-defined]
    return render(
        request,
        "storefront/invoice_detail.html",
        {
            "invoice": invoice,
            "payable": payable,
            "notice": notice,
            "method": method,
            "history": history,
            "key": uuid4(),
            "error": error,
        },
        status=status,
    )


@require_POST
@buyer_required
def invoice_pay(request: HttpRequest, number: str) -> HttpResponse:
    invoice = buyer_invoice(buyer=request.buyer, number=number)  # type: ignore[attr-defined]
    try:
        key = UUID(request.POST.get("key", ""))
    except ValueError:
        return HttpResponseBadRequest("Missing or malformed request key.")
    try:
        payment_data = collect_payment_data(request.POST)
    except CardDataRefused:
        return _invoice_page(request, invoice, error=CARD_DATA_MESSAGE, status=400)
    except ValueError:
        return _invoice_page(request, invoice, error="The payment form sent too much data.", status=400)
    try:
        txn = invoice_payment_purchase(
            invoice_id=invoice.pk,
            key=f"invoice:{invoice.pk}:{key}",
            actor=cast(User, request.user),
            payment_data=payment_data,
            return_url=_return_url(request)(f"invoice:{invoice.pk}:{key}"),
        )
    except PaymentRefused as refused:
        messages.error(request, refused.message)
        return redirect("storefront:invoice_detail", number=invoice.number)
    if txn.state == State.ACTION_REQUIRED and (url := (txn.response.get("next_action") or {}).get("redirect_url")):
        return redirect(url)
    _invoice_message(request, txn)
    return redirect("storefront:invoice_detail", number=invoice.number)


def _invoice_message(request: HttpRequest, txn: PaymentTransaction) -> None:
    invoice = Invoice.objects.get(pk=txn.invoice_id)  # type: ignore[misc]  # an invoice payment
    if txn.state == State.DECLINED:
        messages.error(request, services.DECLINED_MESSAGE)
    elif txn.state == State.RESERVED or txn.state == State.ACTION_REQUIRED:
        messages.warning(
            request,
            "We are waiting for the payment provider to confirm your payment; the invoice will update as soon as "
            "it does.",
        )
    else:
        messages.success(
            request,
            f"Thank you. Your payment for invoice {invoice.number} was recorded "
            f"({PaymentStatus(invoice.payment_status).label}).",
        )
