"""Reads for the storefront. Everything a buyer sees is scoped to their own company here."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from checkout.models import Cart, CartLine, Checkout
from checkout.shipping import SHIPPING_METHODS, shipping_amount
from core.addresses import address_info, shipping_origin
from core.money import quantize
from customers.models import CustomerUser
from integrations.labels import localized, method_label
from integrations.models import Integration
from orders.models import Address, Invoice, Order
from payment_rules.matching import checkout_can_start, load_ruleset, match_methods
from payments.models import OPEN_STATES, PaymentTransaction, State
from payments.services import PURCHASE_ACTIONS
from providers.base import (
    Adapter,
    Capability,
    CheckoutContext,
    CustomerUserInfo,
    MethodInfo,
    Money,
    PaymentAction,
)


def buyer_of(user: object) -> CustomerUser | None:
    """The customer login behind a Django user, with what checkout contexts need; None for non-buyers."""
    user_id = getattr(user, "pk", None)
    if not getattr(user, "is_authenticated", False) or user_id is None:
        return None
    if isinstance(user, User) and User.customer_user.is_cached(user):  # read with the user (customers.backends)
        try:
            return user.customer_user
        except CustomerUser.DoesNotExist:
            return None
    return (
        CustomerUser.objects.select_related("user", "customer__group__payment_term", "customer__payment_term")
        .filter(user_id=user_id)
        .first()
    )


def buyer_cart(*, buyer: CustomerUser) -> Cart:
    cart, _ = Cart.objects.get_or_create(customer_user=buyer)
    return cart


def cart_lines(*, cart: Cart) -> list[CartLine]:
    return list(cart.lines.select_related("product__category"))


def open_checkout(*, cart: Cart) -> Checkout | None:
    return cart.checkouts.filter(completed_at__isnull=True).first()


def last_checkout(*, cart: Cart) -> Checkout | None:
    """The buyer's last completed checkout: its addresses prefill the forms of the next one."""
    return cart.checkouts.exclude(completed_at__isnull=True).order_by("-completed_at").first()


@dataclass(frozen=True, slots=True)
class Totals:
    currency: str
    subtotal: Decimal
    shipping: Decimal
    total: Decimal


def cart_totals(lines: list[CartLine], shipping_method: str = "") -> Totals:
    currency = lines[0].product.currency if lines else ""
    if not currency:
        return Totals("", Decimal("0"), Decimal("0"), Decimal("0"))
    subtotal = quantize(sum((line.amount for line in lines), Decimal("0")), currency)
    shipping = shipping_amount(shipping_method, currency)
    return Totals(currency, subtotal, shipping, subtotal + shipping)


def checkout_context(*, checkout: Checkout, lines: list[CartLine], buyer: CustomerUser) -> CheckoutContext:
    """The checkout as payment rules and providers see it; nothing here queries the database."""
    totals = cart_totals(lines, checkout.shipping_method)
    currency = totals.currency
    return CheckoutContext(
        currency=currency,
        subtotal=Money(totals.subtotal, currency),
        total=Money(totals.total, currency),
        line_items=[
            line.product.line_item_info(
                sku=line.product.sku,
                name=line.product.name,
                quantity=Decimal(line.quantity),
                unit_price=line.product.money,
            )
            for line in lines
        ],
        billing_address=address_info(checkout.billing_address),
        shipping_address=address_info(checkout.delivery_address),
        customer=buyer.customer.as_info(),
        customer_user=CustomerUserInfo(
            id=buyer.pk, email=buyer.user.email, first_name=buyer.user.first_name, last_name=buyer.user.last_name
        ),
        shipping_method=checkout.shipping_method if checkout.shipping_method in SHIPPING_METHODS else "",
        shipping_origin=shipping_origin(),
        po_number=checkout.po_number,  # the submit hands this context to the provider, not the order's
    )


def checkout_startable(*, checkout: Checkout, lines: list[CartLine], buyer: CustomerUser) -> bool:
    """The start-checkout check (reference §4.2): is there an enabled rule in the cart's currency with a live
    method its provider accepts for this buyer? Conditions are not evaluated yet, and addresses are left out, so
    that a buyer whose saved address has no method can still go and change it.

    Providers gate on the total, which includes a shipping method the buyer may not have chosen (or may still
    change): the cart can start when some shipping method gives a total that a method is offered for. Asked
    about the subtotal alone, card providers refused a free sample that the shipping charge makes payable."""
    context = replace(
        checkout_context(checkout=checkout, lines=lines, buyer=buyer), billing_address=None, shipping_address=None
    )
    ruleset = load_ruleset()
    currency = context.currency
    for key in list(SHIPPING_METHODS) or [""]:
        total = Money(context.subtotal.amount + shipping_amount(key, currency), currency)
        if checkout_can_start(replace(context, total=total, shipping_method=key), ruleset):
            return True
    return False


@dataclass(frozen=True, slots=True)
class PaymentOption:
    method: MethodInfo
    adapter: Adapter
    integration: Integration | None = None

    @property
    def identifier(self) -> str:
        return self.method.identifier

    @property
    def label(self) -> str:
        return method_label(self.method)

    @property
    def short_label(self) -> str:
        return localized(self.method.short_labels) or self.label


def authorizing_methods(options: list[PaymentOption]) -> set[str]:
    """The offered methods that only authorize at purchase (the money is held, and taken by a later capture), so
    the review step says "authorize", not "charge". Offline methods (a check, terms) move no money either way."""
    candidates = [
        option
        for option in options
        if Capability.AUTHORIZE in option.adapter.capabilities and Capability.PENDING not in option.adapter.capabilities
    ]
    actions = dict(
        Integration.objects.filter(pk__in={o.method.integration_id for o in candidates}).values_list(
            "pk", "payment_action"
        )
    )
    return {
        option.identifier
        for option in candidates
        if (option.method.payment_action or actions.get(option.method.integration_id)) == PaymentAction.AUTHORIZE
    }


def payment_options(context: CheckoutContext) -> list[PaymentOption]:
    """The methods the payment rules (and each provider's own gate) allow for this checkout, in rule order."""
    ruleset = load_ruleset()
    live = ruleset.methods
    return [
        PaymentOption(m, live[m.identifier].adapter, live[m.identifier].integration)
        for m in match_methods(context, ruleset)
    ]


# --- orders and invoices ----------------------------------------------------------------------------------


def buyer_orders(*, buyer: CustomerUser, search: str = "", status: str = "") -> QuerySet[Order]:
    """The company's placed orders; those of failed or abandoned checkout attempts are for staff only.

    `search` finds an order by its number, its PO number or the number of one of its invoices; `status` is a
    payment status. Both come from the buyer's query string: an unknown status is the caller's to refuse."""
    orders = Order.objects.placed().filter(customer_id=buyer.customer_id)
    if search := search.strip():
        invoiced = Invoice.objects.filter(order=OuterRef("pk"), number__iexact=search)
        orders = orders.filter(Q(number__icontains=search) | Q(po_number__icontains=search) | Exists(invoiced))
    if status:
        orders = orders.filter(payment_status=status)
    return orders.order_by("-created_at", "-id")


def buyer_order(*, buyer: CustomerUser, number: str) -> Order:
    """404 for an order of another company, or of a failed checkout attempt, exactly as for one that does not
    exist."""
    return get_object_or_404(
        Order.objects.placed().select_related("billing_address", "shipping_address", "payment_term"),
        customer_id=buyer.customer_id,
        number=number,
    )


def buyer_payment_history(*, order: Order) -> list[PaymentTransaction]:
    """The rows a buyer may see; the template shows date, action, method, amount and state, never the note,
    the actor, the reason or the provider's raw answer."""
    return list(
        PaymentTransaction.objects.filter(order=order)
        .only("id", "action", "amount", "currency", "state", "payment_method", "invoice_id", "created_at")
        .order_by("created_at", "id")
    )


def _invoice_payments() -> QuerySet[PaymentTransaction]:
    return PaymentTransaction.objects.filter(invoice=OuterRef("pk"), action__in=PURCHASE_ACTIONS)


def _invoice_payment_open_or_done() -> Exists:
    """Paid, or being paid; a payment that waits for the buyer at the provider (3-D Secure left) does not count:
    paying again ends it (`invoice_payment_purchase`)."""
    return Exists(
        _invoice_payments().filter(Q(successful=True) | Q(state__in=OPEN_STATES)).exclude(state=State.ACTION_REQUIRED)
    )


def buyer_invoices(*, buyer: CustomerUser, search: str = "", status: str = "") -> QuerySet[Invoice]:
    """The company's invoices; `has_payment` says whether one is paid or being paid (no Pay button then). None of
    an order hidden from the buyer (a failed checkout attempt): that order was never placed.

    `search` finds an invoice by its number or its order's number or PO number; `status` is an invoice status."""
    invoices = Invoice.objects.filter(customer_id=buyer.customer_id, order__discarded_at__isnull=True)
    if search := search.strip():
        invoices = invoices.filter(
            Q(number__icontains=search) | Q(order__number__icontains=search) | Q(order__po_number__icontains=search)
        )
    if status:
        invoices = invoices.filter(status=status)
    return (
        invoices.select_related("order")
        .annotate(
            has_payment=_invoice_payment_open_or_done(),
            waiting_for_buyer=Exists(_invoice_payments().filter(state=State.ACTION_REQUIRED)),
        )
        .order_by("-created_at", "-id")
    )


def buyer_invoice(*, buyer: CustomerUser, number: str) -> Invoice:
    return get_object_or_404(buyer_invoices(buyer=buyer), number=number)


def invoice_is_payable(invoice: Invoice) -> bool:
    return invoice.status == Invoice.Status.OPEN and not getattr(invoice, "has_payment", False)


BUYER_STATE_LABELS = {
    State.RESERVED: "Being confirmed",
    State.ACTION_REQUIRED: "Waiting for you",
    State.PROCESSING: "Processing",
    State.SUCCEEDED: "Succeeded",
    State.DECLINED: "Declined",
}


#: how many of the company's addresses the address steps offer
SAVED_ADDRESSES = 10


def company_addresses(*, buyer: CustomerUser) -> list[Address]:
    """The company's address book: the billing and shipping addresses of its placed orders, newest first, each
    only once (the same address on many orders is one entry)."""
    rows = _company_address_rows(buyer).order_by("-id")[:200]
    seen: set[tuple[str, ...]] = set()
    found: list[Address] = []
    for address in rows:
        fields = tuple(str(getattr(address, name)).strip().casefold() for name in SAVED_ADDRESS_FIELDS)
        if fields not in seen:
            seen.add(fields)
            found.append(address)
        if len(found) == SAVED_ADDRESSES:
            break
    return found


def company_address(*, buyer: CustomerUser, address_id: str) -> Address | None:
    """One address of the company's book, by the id the browser sent; None for anything else (another company's
    address, a made-up id): the browser names it, so it is checked here."""
    if not address_id.isdigit() or len(address_id) > 18:
        return None
    return _company_address_rows(buyer).filter(pk=int(address_id)).first()


def _company_address_rows(buyer: CustomerUser) -> QuerySet[Address]:
    orders = Order.objects.placed().filter(customer_id=buyer.customer_id)
    return Address.objects.filter(
        Q(pk__in=orders.values("billing_address_id")) | Q(pk__in=orders.values("shipping_address_id"))
    )


SAVED_ADDRESS_FIELDS = (
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
