"""Storefront views: thin entry points that parse, check the buyer, call one service and render."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import wraps
from typing import Any, Concatenate, ParamSpec, cast
from urllib.parse import urlencode
from uuid import UUID, uuid4

from django.contrib import messages
from django.contrib.auth.views import LoginView, LogoutView, redirect_to_login
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, QueryDict
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
    PONumberForm,
    QuantityForm,
    ShippingForm,
    ShippingMethodForm,
)
from checkout.models import Checkout, CheckoutAttempt, Product
from checkout.payment_data import CardDataRefused, collect_payment_data
from checkout.selectors import (
    BUYER_STATE_LABELS,
    PaymentOption,
    authorizing_methods,
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
    company_address,
    company_addresses,
    invoice_is_payable,
    last_checkout,
    open_checkout,
    payment_options,
)
from checkout.services import CheckoutStep, Outcome, SubmitResult
from checkout.shipping import SHIPPING_METHODS
from core.addresses import country_regions
from core.status import PaymentStatus
from customers.models import CustomerUser
from integrations.adapters import adapter_for
from integrations.labels import method_label
from integrations.selectors import method_short_labels
from orders.documents import DocumentError
from orders.documents import invoice_pdf as invoice_pdf_render
from orders.models import Invoice, Order
from payments.abandonment import ended_by_abandonment
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State
from payments.selectors import invoice_payment_methods, order_account
from payments.services import invoice_payment_purchase, payment_complete

logger = logging.getLogger(__name__)
RETURN_SALT = "checkout.return"
NO_PAYMENT_METHOD_MESSAGE = (
    "No payment method is available for this order, so it cannot be checked out. "
    "Please contact us to complete your order."
)
CARD_DATA_MESSAGE = (
    "Card details must never be sent to this site. Please use the payment form of your payment method, "
    "which sends them directly to the payment provider."
)
#: the page of each checkout step
STEP_URLS = {
    CheckoutStep.CART: "storefront:cart",
    CheckoutStep.BILLING: "storefront:checkout_billing",
    CheckoutStep.SHIPPING: "storefront:checkout_shipping",
    CheckoutStep.SHIPPING_METHOD: "storefront:checkout_shipping_method",
    CheckoutStep.PAYMENT: "storefront:checkout_payment",
    CheckoutStep.REVIEW: "storefront:checkout_review",
}
#: the steps the progress bar shows, in order (the cart comes before it)
STEPS = [
    (CheckoutStep.BILLING, "Billing address"),
    (CheckoutStep.SHIPPING, "Shipping address"),
    (CheckoutStep.SHIPPING_METHOD, "Shipping method"),
    (CheckoutStep.PAYMENT, "Payment"),
    (CheckoutStep.REVIEW, "Review"),
]
P = ParamSpec("P")


class BuyerRequest(HttpRequest):
    """A request of a signed-in buyer, as `buyer_required` hands it to a view: `buyer` is their customer login
    (with its company), so no view looks the buyer up again or reaches for an untyped attribute."""

    buyer: CustomerUser


def buyer_required(
    view: Callable[Concatenate[BuyerRequest, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Signed in as a customer user; staff and other users get 403, anonymous visitors the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("storefront:login"))
        buyer = buyer_of(request.user)
        if buyer is None:
            raise PermissionDenied("Only customer accounts can use the shop.")
        buyer_request = cast(BuyerRequest, request)  # it becomes one here, with its buyer
        buyer_request.buyer = buyer
        return view(buyer_request, *args, **kwargs)

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


@require_GET
def regions(request: HttpRequest) -> JsonResponse:
    """The regions of a country, for the address form's script that refills the region dropdown."""
    country = request.GET.get("country", "")
    return JsonResponse({"regions": [{"code": code, "name": name} for code, name in country_regions(country)]})


# --- catalog and cart ------------------------------------------------------------------------------------------


@require_GET
def catalog(request: HttpRequest) -> HttpResponse:
    products = Product.objects.filter(active=True)
    return render(request, "storefront/catalog.html", {"products": products, "buyer": buyer_of(request.user)})


@require_GET
@buyer_required
def cart(request: BuyerRequest) -> HttpResponse:
    the_cart = buyer_cart(buyer=request.buyer)
    lines = cart_lines(cart=the_cart)
    startable = bool(lines) and checkout_startable(
        checkout=open_checkout(cart=the_cart) or Checkout(cart=the_cart), lines=lines, buyer=request.buyer
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
def cart_add(request: BuyerRequest) -> HttpResponse:
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Please enter a quantity of at least 1.")
        return redirect("storefront:catalog")
    try:
        line = services.cart_add(
            cart=buyer_cart(buyer=request.buyer),
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
def cart_line(request: BuyerRequest, line_id: int) -> HttpResponse:
    form = QuantityForm({"quantity": 0} if "remove" in request.POST else request.POST)
    if not form.is_valid():
        messages.error(request, "Please enter a quantity of 0 or more.")
        return redirect("storefront:cart")
    try:
        services.cart_line_update(
            cart=buyer_cart(buyer=request.buyer),
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
    """What every step view needs: the buyer, the open checkout, the cart lines, and the first step not done."""

    def __init__(self, request: BuyerRequest) -> None:
        self.buyer = request.buyer
        self.cart = buyer_cart(buyer=self.buyer)
        self.checkout = services.checkout_start(cart=self.cart)
        self.checkout.cart = self.cart
        self.lines = cart_lines(cart=self.cart)
        self.next_step = services.checkout_next_step(checkout=self.checkout, lines=self.lines)

    def requires(self, step: CheckoutStep) -> HttpResponse | None:
        """A redirect to an earlier step that is not done, or None when this step may be shown."""
        order = list(CheckoutStep)
        if not self.lines:
            return redirect(STEP_URLS[CheckoutStep.CART])
        if step == CheckoutStep.BILLING and not self.startable():
            return redirect(STEP_URLS[CheckoutStep.CART])
        if order.index(self.next_step) < order.index(step):
            return redirect(STEP_URLS[self.next_step])
        return None

    def startable(self) -> bool:
        """Before any address: can this cart be paid at all? (The cart page says why not.)"""
        return checkout_startable(checkout=self.checkout, lines=self.lines, buyer=self.buyer)

    def context(self, current: CheckoutStep, **extra: Any) -> dict[str, Any]:
        order = list(CheckoutStep)
        reachable = max(order.index(self.next_step), order.index(CheckoutStep.BILLING))
        steps = [
            {
                "url": reverse(STEP_URLS[step]),
                "label": label,
                "current": step == current,
                "reachable": order.index(step) <= reachable,
            }
            for step, label in STEPS
        ]
        totals = cart_totals(self.lines, self.checkout.shipping_method)
        return {"checkout": self.checkout, "lines": self.lines, "totals": totals, "steps": steps, **extra}


StepView = Callable[[BuyerRequest, Step], HttpResponse]


def checkout_step(
    step: CheckoutStep, *, on_post: Callable[[BuyerRequest], HttpResponse] | None = None
) -> Callable[[StepView], Callable[[HttpRequest], HttpResponse]]:
    """The prologue of every checkout step page: GET or POST, a signed-in buyer, the open checkout with its cart
    lines (`Step`), and a redirect to an earlier step while that one is not done.

    `on_post` answers a POST before any of that: submitting the order reads the checkout it was shown for, and
    must not open a new one when another tab has just completed it.
    """

    def decorate(view: StepView) -> Callable[[HttpRequest], HttpResponse]:
        @require_http_methods(["GET", "POST"])
        @buyer_required
        @wraps(view)
        def wrapper(request: BuyerRequest) -> HttpResponse:
            if on_post is not None and request.method == "POST":
                return on_post(request)
            current = Step(request)
            if blocked := current.requires(step):
                return blocked
            return view(request, current)

        return wrapper

    return decorate


@require_GET
@buyer_required
def checkout_start(request: BuyerRequest) -> HttpResponse:
    """Where "Check out" leads: the first step not done, unless no payment method can serve this cart (then the
    buyer is told at once, on the cart page, rather than after entering two addresses)."""
    step = Step(request)
    if step.lines and not step.startable():
        return redirect(STEP_URLS[CheckoutStep.CART])  # which says why
    return redirect(STEP_URLS[step.next_step])


def _address_data(request: BuyerRequest, prefix: str) -> tuple[QueryDict | dict[str, str] | None, str]:
    """What an address step validates: the typed fields, or the fields of the company's saved address the buyer
    chose (`<prefix>-saved`), and the error when the chosen one is not the company's."""
    if request.method != "POST":
        return None, ""
    chosen = request.POST.get(f"{prefix}-saved", "")
    if not chosen:
        return request.POST, ""
    saved = company_address(buyer=request.buyer, address_id=chosen)
    if saved is None:
        return request.POST, "Please choose one of your saved addresses, or enter the address."
    return {f"{prefix}-{name}": str(getattr(saved, name)) for name in services.ADDRESS_FIELDS}, ""


@checkout_step(CheckoutStep.BILLING)
def checkout_billing(request: BuyerRequest, step: Step) -> HttpResponse:
    last = last_checkout(cart=step.cart)
    initial = step.checkout.billing_address or (last.billing_address if last else {})
    data, error = _address_data(request, "billing")
    form = AddressForm(data, initial=initial, prefix="billing")
    if data is not None and not error and form.is_valid():
        services.checkout_update(checkout=step.checkout, buyer=step.buyer, billing_address=form.cleaned_data)
        return redirect(STEP_URLS[CheckoutStep.SHIPPING])
    return render(
        request,
        "storefront/checkout/address.html",
        step.context(
            CheckoutStep.BILLING,
            form=form,
            title="Billing address",
            saved=company_addresses(buyer=step.buyer),
            prefix="billing",
            error=error,
        ),
        status=400 if error else 200,
    )


@checkout_step(CheckoutStep.SHIPPING)
def checkout_shipping(request: BuyerRequest, step: Step) -> HttpResponse:
    checkout = step.checkout
    choice = ShippingForm(request.POST or None, initial={"ship_to_billing": checkout.ship_to_billing})
    data, error = (None, "") if request.POST.get("ship_to_billing") else _address_data(request, "shipping")
    form = AddressForm(data, initial=checkout.shipping_address or checkout.billing_address, prefix="shipping")
    if request.method == "POST" and choice.is_valid() and not error:
        if choice.cleaned_data["ship_to_billing"]:
            services.checkout_update(checkout=checkout, buyer=step.buyer, ship_to_billing=True, shipping_address={})
            return redirect(STEP_URLS[CheckoutStep.SHIPPING_METHOD])
        if form.is_valid():
            services.checkout_update(
                checkout=checkout, buyer=step.buyer, ship_to_billing=False, shipping_address=form.cleaned_data
            )
            return redirect(STEP_URLS[CheckoutStep.SHIPPING_METHOD])
    return render(
        request,
        "storefront/checkout/shipping.html",
        step.context(
            CheckoutStep.SHIPPING,
            choice=choice,
            form=form,
            saved=company_addresses(buyer=step.buyer),
            prefix="shipping",
            error=error,
        ),
        status=400 if error else 200,
    )


@checkout_step(CheckoutStep.SHIPPING_METHOD)
def checkout_shipping_method(request: BuyerRequest, step: Step) -> HttpResponse:
    initial = step.checkout.shipping_method or next(iter(SHIPPING_METHODS))
    form = ShippingMethodForm(request.POST or None, initial={"shipping_method": initial})
    if request.method == "POST" and form.is_valid():
        services.checkout_update(
            checkout=step.checkout, buyer=step.buyer, shipping_method=form.cleaned_data["shipping_method"]
        )
        return redirect(STEP_URLS[CheckoutStep.PAYMENT])
    methods = [
        {"key": m.key, "label": m.label, "amount": m.amount_in(step.lines[0].product.currency)}
        for m in SHIPPING_METHODS.values()
    ]
    return render(
        request,
        "storefront/checkout/shipping_method.html",
        step.context(CheckoutStep.SHIPPING_METHOD, form=form, methods=methods, selected=initial),
    )


def _widget_template(name: str) -> str:
    """The template of a provider's storefront widget, or "" for a provider without one (its label alone)."""
    if not name:
        return ""
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return ""
    return name


def _widgets(options: list[PaymentOption], context: Any) -> list[dict[str, Any]]:
    """Each method with its label, its provider's widget (template and options), and whether it only authorizes.

    The payment step shows every widget inside the same frame (`payment.html`): only the chosen method's one is
    expanded, by CSS alone, so a new provider's widget gets it without code of its own."""
    authorizing = authorizing_methods(options)
    return [
        {
            "identifier": option.identifier,
            "label": option.label,
            "short_label": option.short_label,
            "widget": _widget_template(option.method.widget),
            "options": option.adapter.widget_context(option.method, context),
            "authorize_only": option.identifier in authorizing,
        }
        for option in options
    ]


@checkout_step(CheckoutStep.PAYMENT)
def checkout_payment(request: BuyerRequest, step: Step) -> HttpResponse:
    checkout = step.checkout
    context = checkout_context(checkout=checkout, lines=step.lines, buyer=step.buyer)
    methods = _widgets(payment_options(context), context)
    error, status = "", 200
    po_form = PONumberForm(initial={"po_number": checkout.po_number})
    if request.method == "POST":
        chosen = request.POST.get("payment_method", "")
        po_form = PONumberForm(request.POST)
        try:
            payment_data = collect_payment_data(request.POST)
        except CardDataRefused:
            error, status = CARD_DATA_MESSAGE, 400
        except ValueError:
            error, status = "The payment form sent too much data.", 400
        else:
            if chosen not in {m["identifier"] for m in methods}:
                error = "Please choose a payment method."
            elif not po_form.is_valid():
                error, status = "Please correct the PO number.", 400
            else:
                instead = services.checkout_payment_choose(
                    checkout=checkout,
                    buyer=step.buyer,
                    payment_method=chosen,
                    payment_data=payment_data,
                    po_number=po_form.cleaned_data["po_number"],
                )
                if instead is not None:  # the open payment is still with the provider, or went through
                    return _after_payment(request, instead)
                return redirect(STEP_URLS[CheckoutStep.REVIEW])
    open_attempt = services.checkout_open_attempt(checkout=checkout)
    return render(
        request,
        "storefront/checkout/payment.html",
        step.context(CheckoutStep.PAYMENT, methods=methods, error=error, open_attempt=open_attempt, po_form=po_form),
        status=status,
    )


def _submit(request: BuyerRequest) -> HttpResponse:
    buyer = request.buyer
    checkout_id = request.POST.get("checkout", "")
    if not checkout_id.isdigit():
        return redirect("storefront:checkout")
    attempt = request.POST.get("attempt", "")
    try:
        result = services.checkout_submit(  # it locks the checkout and checks it is the buyer's
            checkout_id=int(checkout_id),
            buyer=buyer,
            return_url=_return_url(request),
            attempt=int(attempt) if attempt.isdigit() else None,
            reviewed=request.POST.get("reviewed"),
        )
    except services.CheckoutIncomplete as incomplete:
        messages.error(request, incomplete.message)
        return redirect(STEP_URLS[incomplete.step])
    except Checkout.DoesNotExist:  # none, or another buyer's
        return redirect("storefront:checkout")
    return _after_payment(request, result)


@checkout_step(CheckoutStep.REVIEW, on_post=_submit)
def checkout_review(request: BuyerRequest, step: Step) -> HttpResponse:
    checkout = step.checkout
    context = checkout_context(checkout=checkout, lines=step.lines, buyer=step.buyer)
    chosen = [m for m in _widgets(payment_options(context), context) if m["identifier"] == checkout.payment_method]
    if not chosen:  # the cart or an address changed, and the rules no longer allow the method
        services.checkout_update(checkout=checkout, buyer=step.buyer, payment_method="", payment_data={})
        messages.error(request, services.METHOD_GONE_MESSAGE)
        return redirect(STEP_URLS[CheckoutStep.PAYMENT])
    return render(
        request,
        "storefront/checkout/review.html",
        step.context(
            CheckoutStep.REVIEW,
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


def _after_payment(request: HttpRequest, result: SubmitResult) -> HttpResponse:
    if result.outcome == Outcome.REDIRECT and result.redirect_url:
        return redirect(result.redirect_url)
    if result.outcome == Outcome.PROCESSING:
        return redirect("storefront:checkout_processing", attempt_id=result.attempt_id)
    if result.outcome in services.FAILED_OUTCOMES:
        messages.error(request, result.message)
    elif result.message:
        messages.warning(request, result.message)
    if result.order is None:  # failed, and no later attempt placed the order: the buyer chooses again
        return redirect(STEP_URLS[CheckoutStep.PAYMENT])
    # placed, or an earlier attempt of a checkout that a later attempt completed: show the order that was placed
    return redirect("storefront:order_confirmation", number=result.order.number)


@require_GET
@buyer_required
def checkout_processing(request: BuyerRequest, attempt_id: int) -> HttpResponse:
    """Where the buyer waits while a submit is still with the provider; the page reloads until it is answered."""
    if not CheckoutAttempt.objects.filter(pk=attempt_id, customer_user=request.buyer).exists():
        raise Http404
    result = services.checkout_attempt_outcome(attempt_id=attempt_id)
    if result.outcome != Outcome.PROCESSING:
        return _after_payment(request, result)
    return render(request, "storefront/checkout/processing.html", {"message": result.message})


#: what the buyer is told after closing a provider's window (Apruve's lightbox) without paying
WINDOW_CLOSED_MESSAGE = "You closed the payment window without paying. Choose how you want to pay."
ACCEPTED_AFTER_END_MESSAGE = (
    "This payment had ended when you closed its window, so what you confirmed in the other window does not count "
    "and is canceled. Choose how you want to pay."
)


@require_http_methods(["GET", "POST"])
@buyer_required
def checkout_return(request: BuyerRequest, token: str) -> HttpResponse:
    """Where a redirecting provider sends the buyer back: complete the payment, then show where it stands.

    A provider whose buyer step runs in our page (`next_action` of type "lightbox", Apruve) comes here too: GET
    shows that step; its script POSTs back the `reference` the provider gave the browser (verified with the
    provider before it counts, never taken on the browser's word), or `closed` when the buyer closed the window,
    which ends the attempt and returns the buyer to the payment step.
    """
    try:
        key = signing.loads(token, salt=RETURN_SALT)
    except signing.BadSignature as exc:
        raise Http404 from exc
    txn = (
        PaymentTransaction.objects.filter(idempotency_key=key, order__customer_id=request.buyer.customer_id)
        .select_related("invoice")
        .first()
    )
    if txn is None:
        raise Http404
    in_page = (txn.response.get("next_action") or {}).get("type") == "lightbox"
    if request.method == "POST" and not in_page and request.POST.get("reference") and _ended_hold(txn):
        return _accepted_after_end(request, txn, request.POST["reference"])
    if request.method == "POST" and not in_page:
        return HttpResponseBadRequest("This payment takes no answer from the browser.")
    if request.method == "POST" and request.POST.get("closed") and txn.is_open:
        return _window_closed(request, txn)
    returned = request.POST.get("reference", "") if request.method == "POST" else ""
    txn = payment_complete(transaction_id=txn.pk, returned_reference=returned)
    if in_page and txn.state == State.ACTION_REQUIRED:
        error = "Apruve did not confirm this purchase. Please try again." if returned else ""
        next_action = dict(txn.response.get("next_action") or {})
        context = {"next_action": next_action, "error": error}
        return render(request, str(next_action.get("template") or ""), context, status=400 if returned else 200)
    if txn.invoice_id is not None:
        invoice = _invoice_message(request, txn, txn.invoice_id)
        return redirect("storefront:invoice_detail", number=invoice.number)
    attempt = CheckoutAttempt.objects.filter(order_id=txn.order_id).values_list("checkout_id", flat=True).first()
    if attempt is None:  # the checkout is gone (its buyer login was deleted)
        return redirect("storefront:orders")
    return _after_payment(request, services.checkout_finish(checkout_id=attempt, transaction_id=txn.pk))


def _ended_hold(txn: PaymentTransaction) -> bool:
    """An authorization the ledger ended because its buyer left it: a hold the provider made for it afterwards is
    released (`payments.abandonment.late_acceptance_release`)."""
    return txn.action == Action.AUTHORIZE and ended_by_abandonment(txn)


def _accepted_after_end(request: BuyerRequest, txn: PaymentTransaction, reference: str) -> HttpResponse:
    """The buyer confirmed at the provider in another window after this payment was ended (its window closed): what
    the provider made for it is canceled there once the provider confirms it is this payment's
    (`payment_complete`), and the buyer chooses again, told why, instead of getting an error page."""
    payment_complete(transaction_id=txn.pk, returned_reference=reference)
    messages.error(request, ACCEPTED_AFTER_END_MESSAGE)
    if txn.invoice_id is not None:
        invoice = Invoice.objects.get(pk=txn.invoice_id)
        return redirect("storefront:invoice_detail", number=invoice.number)
    if not CheckoutAttempt.objects.filter(order_id=txn.order_id, checkout__completed_at__isnull=True).exists():
        return redirect("storefront:orders")
    return redirect(STEP_URLS[CheckoutStep.PAYMENT])


def _window_closed(request: BuyerRequest, txn: PaymentTransaction) -> HttpResponse:
    """The buyer closed the provider's window: the attempt ends (failure-modes §5), and the buyer chooses again."""
    if txn.invoice is not None:
        messages.error(request, WINDOW_CLOSED_MESSAGE)
        return redirect("storefront:invoice_detail", number=txn.invoice.number)
    checkout_id = CheckoutAttempt.objects.filter(order_id=txn.order_id).values_list("checkout_id", flat=True).first()
    if checkout_id is None:
        return redirect("storefront:orders")
    result = services.checkout_attempt_end(checkout_id=checkout_id, buyer=request.buyer)
    if result is None or result.outcome == Outcome.ABANDONED:
        messages.error(request, WINDOW_CLOSED_MESSAGE)
        return redirect(STEP_URLS[CheckoutStep.PAYMENT])
    return _after_payment(request, result)


# --- after ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order of the buyer's list, with the short label of how it was paid."""

    order: Order
    method_label: str


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """A payment of an order's or invoice's history, in the words the buyer reads: its method and its state."""

    txn: PaymentTransaction
    method_label: str
    state: str


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    """An invoice of the buyer's list, and whether it can be paid from there."""

    invoice: Invoice
    payable: bool


def _history(rows: list[PaymentTransaction], labels: dict[str, str]) -> list[HistoryRow]:
    return [HistoryRow(row, labels.get(row.payment_method, ""), BUYER_STATE_LABELS[State(row.state)]) for row in rows]


@require_GET
@buyer_required
def order_confirmation(request: BuyerRequest, number: str) -> HttpResponse:
    order = buyer_order(buyer=request.buyer, number=number)
    labels = method_short_labels([order.payment_method])
    return render(
        request,
        "storefront/confirmation.html",
        {"order": order, "method_label": labels.get(order.payment_method, "")},
    )


#: rows per page of the buyer's order and invoice lists: a company with a thousand orders gets the same page
LIST_PAGE_SIZE = 25


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What the buyer asked a list for: a search text, a status among `choices` (anything else is none), a page."""

    search: str
    status: str
    choices: list[tuple[str, str]]

    @classmethod
    def read(cls, request: HttpRequest, choices: list[tuple[str, str]]) -> ListQuery:
        search = request.GET.get("q", "").strip()[:100]
        status = request.GET.get("status", "")
        return cls(search, status if status in dict(choices) else "", choices)

    def querystring(self) -> str:
        """The search and status, for the pager's links."""
        return urlencode({name: value for name, value in (("q", self.search), ("status", self.status)) if value})


def _page(request: HttpRequest, rows: QuerySet) -> Page:
    """One page of a list; a page number past the end shows the last page, anything not a number the first."""
    return Paginator(rows, LIST_PAGE_SIZE).get_page(request.GET.get("page"))


@require_GET
@buyer_required
def orders(request: BuyerRequest) -> HttpResponse:
    query = ListQuery.read(request, list(PaymentStatus.choices))
    page = _page(request, buyer_orders(buyer=request.buyer, search=query.search, status=query.status))
    labels = method_short_labels(order.payment_method for order in page)
    listed = [OrderRow(order, labels.get(order.payment_method, "")) for order in page]
    return render(request, "storefront/orders.html", {"orders": listed, "page": page, "query": query})


@require_GET
@buyer_required
def order_detail(request: BuyerRequest, number: str) -> HttpResponse:
    order = buyer_order(buyer=request.buyer, number=number)
    history = buyer_payment_history(order=order)
    labels = method_short_labels([order.payment_method, *(row.payment_method for row in history)])
    return render(
        request,
        "storefront/order_detail.html",
        {
            "order": order,
            "lines": order.lines.all(),
            "history": _history(history, labels),
            "method_label": labels.get(order.payment_method, ""),
            "invoices": order.invoices.all(),
            "account": order_account(order=order),  # the amounts at a glance, from the one account of the order
        },
    )


# --- invoices ------------------------------------------------------------------------------------------------------


@require_GET
@buyer_required
def invoices(request: BuyerRequest) -> HttpResponse:
    query = ListQuery.read(request, list(Invoice.Status.choices))
    page = _page(request, buyer_invoices(buyer=request.buyer, search=query.search, status=query.status))
    rows = [InvoiceRow(invoice, invoice_is_payable(invoice)) for invoice in page]
    return render(request, "storefront/invoices.html", {"invoices": rows, "page": page, "query": query})


@require_GET
@buyer_required
def invoice_detail(request: BuyerRequest, number: str) -> HttpResponse:
    invoice = buyer_invoice(buyer=request.buyer, number=number)
    return _invoice_page(request, invoice)


@require_GET
@buyer_required
def invoice_pdf(request: BuyerRequest, number: str) -> HttpResponse:
    """The invoice as a PDF; another company's invoice is a 404, as on its page."""
    invoice = buyer_invoice(buyer=request.buyer, number=number)
    invoice = Invoice.objects.select_related("order__billing_address", "order__payment_term", "customer").get(
        pk=invoice.pk
    )
    try:
        pdf = invoice_pdf_render(invoice=invoice)
    except DocumentError:
        logger.exception("invoice PDF of %s failed", invoice.number)
        messages.error(request, "The PDF of this invoice could not be made. Please try again later or contact us.")
        return redirect("storefront:invoice_detail", number=invoice.number)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
    return response


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
    methods: list[dict[str, Any]] = []
    if payable:
        try:
            integration, infos = invoice_payment_methods()
        except LookupError:
            payable = False
        else:
            adapter = adapter_for(integration)
            context = invoice.order.checkout_context()
            invoice_context = replace(context, subtotal=invoice.money, total=invoice.money)
            if not adapter.is_applicable(invoice_context):
                payable = False
                notice = "This invoice cannot be paid online. Please contact us to arrange payment."
            # every method of the invoice integration (OroPay: card and ACH); no payment rule is asked
            methods = [
                {
                    "identifier": info.identifier,
                    "label": method_label(info, integration),
                    "widget": _widget_template(info.widget),
                    "options": adapter.widget_context(info, context),
                }
                for info in infos
            ]
            method = methods[0]
    history = list(invoice.transactions.order_by("created_at", "id"))
    labels = method_short_labels(row.payment_method for row in history)
    return render(
        request,
        "storefront/invoice_detail.html",
        {
            "invoice": invoice,
            "payable": payable,
            "notice": notice,
            "method": method,
            "methods": methods,
            "history": _history(history, labels),
            "key": uuid4(),
            "error": error,
        },
        status=status,
    )


@require_POST
@buyer_required
def invoice_pay(request: BuyerRequest, number: str) -> HttpResponse:
    invoice = buyer_invoice(buyer=request.buyer, number=number)
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
            actor=request.buyer.user,
            payment_data=payment_data,
            return_url=_return_url(request)(f"invoice:{invoice.pk}:{key}"),
            method=request.POST.get("method", ""),
        )
    except PaymentRefused as refused:
        messages.error(request, refused.message)
        return redirect("storefront:invoice_detail", number=invoice.number)
    if txn.state == State.ACTION_REQUIRED and (url := (txn.response.get("next_action") or {}).get("redirect_url")):
        return redirect(url)
    _invoice_message(request, txn, invoice.pk)
    return redirect("storefront:invoice_detail", number=invoice.number)


def _invoice_message(request: HttpRequest, txn: PaymentTransaction, invoice_id: int) -> Invoice:
    """Tell the buyer where their payment of the invoice stands; the invoice is read again, after the payment."""
    invoice = Invoice.objects.get(pk=invoice_id)
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
    return invoice
