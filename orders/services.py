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
from payments.money import MoneyError, quantize, validate_currency


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
    """Issue an invoice for an order (by default for its total, due in settings.INVOICE_DUE_DAYS days)."""
    amount = quantize(order.total if amount is None else amount, order.currency)
    if amount <= 0:
        raise MoneyError("An invoice must be for more than zero.")
    if amount > order.total:
        raise MoneyError(f"An invoice cannot exceed the order total ({order.total_money}).")
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
