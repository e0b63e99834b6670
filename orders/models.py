"""Orders and their lines and addresses, snapshotted at purchase so later catalog changes do not rewrite them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from core.addresses import shipping_origin
from core.money import quantize
from core.status import PaymentStatus
from providers.base import AddressInfo, CheckoutContext, CustomerUserInfo, LineItemInfo, Money


class Address(models.Model):
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    organization = models.CharField(max_length=200, blank=True)
    street = models.CharField(max_length=200)
    street2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    region_code = models.CharField(max_length=16, blank=True, help_text='Combined code, e.g. "US-NY".')
    region_name = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        parts = [self.organization, self.street, f"{self.postal_code} {self.city}".strip(), self.country]
        return ", ".join(p for p in parts if p)

    def as_info(self) -> AddressInfo:
        return AddressInfo(
            country_iso2=self.country,
            region_code=self.region_code,
            region_name=self.region_name,
            postal_code=self.postal_code,
            city=self.city,
            street=self.street,
            street2=self.street2,
            organization=self.organization,
            first_name=self.first_name,
            last_name=self.last_name,
        )


#: Authorize.Net's `poNumber` and Payflow's `PONUM` take at most 25 characters
PO_NUMBER_MAX_LENGTH = 25


class OrderQuerySet(models.QuerySet["Order"]):
    def placed(self) -> OrderQuerySet:
        """Orders a buyer placed: what the storefront lists and the back-office counts by default."""
        return self.filter(discarded_at__isnull=True)

    def discarded(self) -> OrderQuerySet:
        """Orders of checkout attempts that failed or were abandoned, kept for staff only."""
        return self.filter(discarded_at__isnull=False)


class Order(models.Model):
    number = models.CharField(max_length=32, unique=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="orders")
    customer_user = models.ForeignKey(
        "customers.CustomerUser", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=20, decimal_places=4, default=Decimal("0"))
    shipping = models.DecimalField(max_digits=20, decimal_places=4, default=Decimal("0"))
    tax = models.DecimalField(max_digits=20, decimal_places=4, default=Decimal("0"))
    total = models.DecimalField(max_digits=20, decimal_places=4, default=Decimal("0"))
    billing_address = models.ForeignKey(Address, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    shipping_address = models.ForeignKey(Address, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment_method = models.CharField(max_length=80, blank=True, help_text="Method identifier, e.g. money_order_3")
    shipping_method = models.CharField(max_length=40, blank=True, help_text="Key of the chosen shipping method.")
    #: the buyer's purchase order number, sent to providers that take one (Authorize.Net, Payflow, Stripe metadata)
    po_number = models.CharField("PO number", max_length=PO_NUMBER_MAX_LENGTH, blank=True)
    payment_status = models.CharField(
        max_length=24, choices=PaymentStatus.choices, default=PaymentStatus.PENDING, db_index=True
    )
    payment_term = models.ForeignKey(
        "customers.PaymentTerm",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        help_text="Copied from the customer at purchase.",
    )
    #: the buyer's language when the order was placed: the e-mails about it are written in it
    language = models.CharField(max_length=10, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    #: set when the checkout attempt that made the order failed or was abandoned: the buyer never sees the order
    #: again, staff keep it with its lines and ledger (the reference deletes it, losing what the provider was told)
    discarded_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="When its checkout attempt failed or was abandoned; hidden from the buyer, kept for staff.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("export_finance", "Can export orders, invoices and payments for finance")]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") + F("shipping") + F("tax")), name="order_total_adds_up"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def total_money(self) -> Money:
        return Money(quantize(self.total, self.currency), self.currency)

    def checkout_context(self) -> CheckoutContext:
        """The order as rules and providers see it (lines, addresses, customer)."""
        user = self.customer_user
        return CheckoutContext(
            currency=self.currency,
            subtotal=Money(quantize(self.subtotal, self.currency), self.currency),
            total=self.total_money,
            line_items=[line.as_info(self.currency) for line in self.lines.select_related("product__category")],
            billing_address=self.billing_address.as_info() if self.billing_address else None,
            shipping_address=self.shipping_address.as_info() if self.shipping_address else None,
            customer=self.customer.as_info(),
            customer_user=CustomerUserInfo(
                id=user.pk,
                email=user.user.email,
                first_name=user.user.first_name,
                last_name=user.user.last_name,
            )
            if user
            else None,
            shipping_method=self.shipping_method,
            shipping_origin=shipping_origin(),
            po_number=self.po_number,
        )


class OrderLine(models.Model):
    """A line as bought: sku, name and price are copied, not linked, so they never change afterwards."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    #: the catalog product, for what rules read from it now (weight, category, stock); None once it is deleted
    product = models.ForeignKey("checkout.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    quantity = models.DecimalField(max_digits=14, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))])
    unit_price = models.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price

    def as_info(self, currency: str) -> LineItemInfo:
        price = Money(self.unit_price, currency)
        if self.product is not None:
            return self.product.line_item_info(sku=self.sku, name=self.name, quantity=self.quantity, unit_price=price)
        return LineItemInfo(sku=self.sku, name=self.name, quantity=self.quantity, unit_price=price)


#: invoice payment statuses that count as paid (reference §8: InvoicePaymentStatusChecker)
INVOICE_PAID_STATUSES = frozenset(
    {PaymentStatus.FULL, PaymentStatus.AUTHORIZED, PaymentStatus.REFUNDED, PaymentStatus.REFUNDED_PARTIALLY}
)


class Invoice(models.Model):
    """A request to pay (part of) an order, issued by staff or imported; the buyer pays it in the storefront.

    How its payments sit in the ledger: an invoice payment is an ordinary `PaymentTransaction` of the invoice's
    order, tagged with `invoice`. So the order's ledger (and its payment status, recomputed by the same services
    under the same order lock) includes what was paid through its invoices, and the invoice's own
    `payment_status` is computed by `payments.status` over only the rows tagged with it, against `amount`.
    Captures and refunds of an invoice payment inherit the tag from their source row. An invoice becomes
    `paid` when its payment status is one the reference counts as paid (`INVOICE_PAID_STATUSES`).
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    number = models.CharField(max_length=32, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="invoices")
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    currency = models.CharField(max_length=3)
    due_date = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN, db_index=True)
    payment_status = models.CharField(
        max_length=24, choices=PaymentStatus.choices, default=PaymentStatus.PENDING, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive")]

    def __str__(self) -> str:
        return self.number

    @property
    def money(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)


class OrderNote(models.Model):
    """A staff member's note on an order, shown on its timeline; never shown to the buyer."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note on {self.order_id}"
