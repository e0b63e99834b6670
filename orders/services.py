"""Writes for orders: creating one from lines, with totals computed once and snapshotted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, CustomerUser
from orders.models import Address, Invoice, Order, OrderLine
from payments.money import Money, MoneyError, ensure_exact, format_money, quantize, validate_currency
from payments.selectors import order_account
from payments.services import lock_order


@dataclass(frozen=True, slots=True)
class LineInput:
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    product_id: int | None = None  # the catalog product, when the line comes from one


@transaction.atomic
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
) -> Order:
    """Create an order with its lines; subtotal and total are computed here, in the order's currency."""
    currency = validate_currency(currency)
    if not lines:
        raise MoneyError("An order needs at least one line.")
    if any(line.quantity <= 0 for line in lines):
        raise MoneyError("Line quantities must be greater than zero.")
    subtotal = quantize(sum((line.quantity * line.unit_price for line in lines), Decimal("0")), currency)
    shipping, tax = quantize(shipping, currency), quantize(tax, currency)
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
    how such an order is collected.
    """
    order = lock_order(order_id=order.pk)
    if order.discarded_at is not None:
        raise MoneyError(f"Order {order.number} belongs to a failed checkout attempt; it is not invoiced.")
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
    return invoice
