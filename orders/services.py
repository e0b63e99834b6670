"""Writes for orders: creating one from lines, with totals computed once and snapshotted; invoices; shipping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language

from checkout.models import Checkout
from customers.models import Customer, CustomerUser
from notifications.emails import buyer_email_queue
from notifications.models import BuyerEmail
from orders.models import Address, Invoice, Order, OrderLine
from payments.exceptions import PaymentRefused
from payments.ledger import lock_order, shipment_captures_schedule
from payments.models import OPEN_STATES
from payments.money import Money, MoneyError, ensure_exact, format_money, quantize, validate_currency
from payments.selectors import order_account


class OrderBeingPlaced(MoneyError):
    """The buyer's checkout has made the order and not finished paying for it: the order is not staff's yet."""


@dataclass(frozen=True, slots=True)
class LineInput:
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    product_id: int | None = None  # the catalog product, when the line comes from one


def order_create(
    *,
    customer: Customer,
    currency: str,
    lines: Sequence[LineInput],
    customer_user: CustomerUser | None = None,
    shipping: Decimal = Decimal("0"),
    tax: Decimal = Decimal("0"),
    billing_address: Address | None = None,
    shipping_address: Address | None = None,
    actor: User | None = None,
    number_prefix: str = "PD-",
    shipping_method: str = "",
    language: str | None = None,
    payment_method: str = "",
    po_number: str = "",
) -> Order:
    """Create an order with its lines; subtotal and total are computed here, in the order's currency.

    `language` (default: the active one, the buyer's at checkout) is the language of the e-mails about it.
    Its writes need no savepoint of their own: a failed insert ends the caller's transaction either way."""
    currency = validate_currency(currency)
    if not lines:
        raise MoneyError("An order needs at least one line.")
    if any(line.quantity <= 0 for line in lines):
        raise MoneyError("Line quantities must be greater than zero.")
    subtotal = quantize(sum((line.quantity * line.unit_price for line in lines), Decimal("0")), currency)
    shipping, tax = quantize(shipping, currency), quantize(tax, currency)
    with transaction.atomic(savepoint=False):
        return _order_insert(
            customer=customer,
            customer_user=customer_user,
            currency=currency,
            lines=lines,
            subtotal=subtotal,
            shipping=shipping,
            tax=tax,
            billing_address=billing_address,
            shipping_address=shipping_address,
            actor=actor,
            number_prefix=number_prefix,
            shipping_method=shipping_method,
            language=(get_language() or "") if language is None else language,
            payment_method=payment_method,
            po_number=po_number,
        )


def _order_insert(
    *,
    customer: Customer,
    customer_user: CustomerUser | None,
    currency: str,
    lines: Sequence[LineInput],
    subtotal: Decimal,
    shipping: Decimal,
    tax: Decimal,
    billing_address: Address | None,
    shipping_address: Address | None,
    actor: User | None,
    number_prefix: str,
    shipping_method: str,
    language: str,
    payment_method: str,
    po_number: str,
) -> Order:
    order = Order.objects.create(
        number=f"new-{uuid4().hex[:28]}",  # fits max_length=32 (PostgreSQL enforces it)
        customer=customer,
        customer_user=customer_user,
        currency=currency,
        subtotal=subtotal,
        shipping=shipping,
        tax=tax,
        total=subtotal + shipping + tax,
        billing_address=billing_address,
        shipping_address=shipping_address,
        shipping_method=shipping_method,
        language=language,
        payment_method=payment_method,
        po_number=po_number,
        created_by=actor,
    )
    # The number comes from the primary key, so it is unique and gap-free enough without a lock of its own.
    order.number = f"{number_prefix}{order.pk:06d}"
    order.save(update_fields=["number"])
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product_id=line.product_id,
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in lines
    )
    return order


@transaction.atomic
def invoice_create(
    *,
    order: Order,
    amount: Decimal | None = None,
    due_date: date | None = None,
    actor: User | None = None,
    number_prefix: str | None = None,
) -> Invoice:
    """Issue an invoice for what the order still owes (by default all of it), due in INVOICE_DUE_DAYS days.

    Under the order lock, like every ledger change: an invoice never asks for money the order has already
    taken, holds (an open authorization, a payment in flight) or asked for in another open invoice
    (`payments.account`). A pending check or payment-term promise does not stand in the way: an invoice is
    how such an order is collected. An order its buyer is still placing at checkout is not invoiced
    (OrderBeingPlaced): the buyer's payment would be refused and the attempt's order could not be discarded.
    """
    order = lock_order(order_id=order.pk)
    if order.discarded_at is not None:
        raise MoneyError(f"Order {order.number} belongs to a failed checkout attempt; it is not invoiced.")
    if Checkout.objects.filter(order_id=order.pk, completed_at__isnull=True).exists():
        # its payment is about to be reserved, or was declined and the order is about to be discarded
        raise OrderBeingPlaced(
            f"Order {order.number} is still being placed by the buyer at checkout; invoice it later."
        )
    owed = quantize(order_account(order=order).invoiceable, order.currency)
    if owed <= 0:
        raise MoneyError(
            f"Nothing is left to invoice on order {order.number}: it is paid, held by an open payment or "
            "already invoiced."
        )
    amount = owed if amount is None else ensure_exact(amount, order.currency)
    if amount <= 0:
        raise MoneyError("An invoice must be for more than zero.")
    if amount > owed:
        raise MoneyError(
            f"An invoice of order {order.number} may ask for at most {format_money(Money(owed, order.currency))}, "
            "what the order still owes."
        )
    prefix = settings.INVOICE_NUMBER_PREFIX if number_prefix is None else number_prefix
    invoice = Invoice.objects.create(
        number=f"new-{uuid4().hex[:28]}",  # fits max_length=32 (PostgreSQL enforces it)
        order=order,
        customer_id=order.customer_id,
        amount=amount,
        currency=order.currency,
        due_date=due_date or timezone.localdate() + timedelta(days=settings.INVOICE_DUE_DAYS),
        created_by=actor,
    )
    invoice.number = f"{prefix}{invoice.pk:06d}"
    invoice.save(update_fields=["number"])
    buyer_email_queue(
        order=order,
        kind=BuyerEmail.Kind.INVOICE_ISSUED,
        key=f"invoice:{invoice.pk}",
        amount=amount,
        invoice_number=invoice.number,
    )
    return invoice


@transaction.atomic
def invoice_void(*, invoice_id: int) -> Invoice:
    """Void an open invoice that nothing was paid, is being paid or was promised through, under the order lock.

    Its status is the ledger's to set otherwise: an invoice becomes paid when its payments say so, never by
    hand (a "paid" with no ledger row behind it let the order be invoiced and paid again). A void invoice asks
    for nothing any more (`payments.account`), so a replacement can be issued; it is never opened again. One
    with a payment made, in flight or promised (a check on its way) stays: the money would belong to nothing.
    """
    order_id = Invoice.objects.values_list("order_id", flat=True).get(pk=invoice_id)
    lock_order(order_id=order_id)
    invoice = Invoice.objects.get(pk=invoice_id)
    if invoice.status != Invoice.Status.OPEN:
        raise PaymentRefused(
            "invoice_not_open",
            f"Invoice {invoice.number} is {invoice.get_status_display().lower()}; only an open invoice can be voided.",
        )
    if invoice.transactions.filter(Q(successful=True) | Q(state__in=OPEN_STATES)).exists():
        raise PaymentRefused(
            "invoice_has_payment",
            f"Invoice {invoice.number} has a payment in progress or made, so it cannot be voided.",
        )
    invoice.status = Invoice.Status.VOID
    invoice.save(update_fields=["status", "updated_at"])
    return invoice


def order_mark_shipped(*, order_id: int) -> Order:
    """Mark an order shipped; authorizations of integrations that capture on shipment become due now."""
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        if order.shipped_at is None:
            order.shipped_at = timezone.now()
            order.save(update_fields=["shipped_at", "updated_at"])
        shipment_captures_schedule(order=order)
    return order
