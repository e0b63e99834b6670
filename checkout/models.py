"""Storefront state: the catalog, one cart per buyer login, and the checkout that turns a cart into an order."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from core.money import quantize
from providers.base import Dimensions, LineItemInfo, Money, Weight


class Category(models.Model):
    """A catalog category; payment rules can test it (`lineItem.product.category.id`)."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """What the shop sells; order lines copy sku, name and price, so editing a product rewrites no order.

    Weight and dimensions are per unit, as shipping data (payment rules read them, e.g. the order's total
    weight `lineItems.sum(lineItem.weight.value * lineItem.quantity)`).
    """

    class WeightUnit(models.TextChoices):  # the reference's weight unit codes
        KG = "kg", "kilogram"
        LBS = "lbs", "pound"

    class LengthUnit(models.TextChoices):  # the reference's length unit codes
        CM = "cm", "centimetre"
        M = "m", "metre"
        INCH = "inch", "inch"
        FOOT = "foot", "foot"

    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=255)
    price = models.DecimalField(max_digits=20, decimal_places=4)
    currency = models.CharField(max_length=3)
    active = models.BooleanField(default=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products")
    unit = models.CharField(
        max_length=20, default="item", help_text='The unit it is sold in, e.g. "item", "set", "box".'
    )
    unit_precision = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(6)],
        help_text="Decimal places a quantity of this unit may have (the cart sells whole units).",
    )
    weight = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="Shipping weight of one unit."
    )
    weight_unit = models.CharField(max_length=4, choices=WeightUnit.choices, default=WeightUnit.KG)
    length = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    width = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    height = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    dimension_unit = models.CharField(max_length=4, choices=LengthUnit.choices, default=LengthUnit.CM)

    class Meta:
        ordering = ["currency", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(
                condition=Q(weight__gte=0) | Q(weight__isnull=True), name="product_weight_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(length__isnull=True, width__isnull=True, height__isnull=True)
                | Q(length__gte=0, width__gte=0, height__gte=0),
                name="product_dimensions_all_or_none",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

    def clean(self) -> None:
        given = [value is not None for value in (self.length, self.width, self.height)]
        if any(given) and not all(given):
            raise ValidationError("Give length, width and height together, or none of them.")

    @property
    def money(self) -> Money:
        return Money(quantize(self.price, self.currency), self.currency)

    def line_item_info(self, *, sku: str, name: str, quantity: Decimal, unit_price: Money) -> LineItemInfo:
        """A line of this product as rules and providers see it; sku, name and price come from the line (an order
        keeps what was bought), the shipping data and category from the product."""
        dimensions = None
        if self.length is not None and self.width is not None and self.height is not None:
            dimensions = Dimensions(self.length, self.width, self.height, self.dimension_unit)
        category = self.category
        return LineItemInfo(
            sku=sku,
            name=name,
            quantity=quantity,
            unit_price=unit_price,
            product_id=self.pk,
            unit_code=self.unit,
            unit_precision=self.unit_precision,
            category_id=category.pk if category is not None else None,
            category_name=category.name if category is not None else "",
            weight=Weight(self.weight, self.weight_unit) if self.weight is not None else None,
            dimensions=dimensions,
        )


class Warehouse(models.Model):
    """Where stock is kept; payment rules can require it (`inventoryLevel.warehouse.name`)."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class InventoryLevel(models.Model):
    """How much of a product one warehouse holds, in the unit the product is sold in."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="inventory_levels")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="inventory_levels")
    quantity = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal("0"))

    class Meta:
        ordering = ["warehouse__name"]
        constraints = [models.UniqueConstraint(fields=["product", "warehouse"], name="one_level_per_warehouse")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} in {self.warehouse_id}"


class Cart(models.Model):
    """The buyer's cart, kept in the database so it survives logging out and in again."""

    customer_user = models.OneToOneField("customers.CustomerUser", on_delete=models.CASCADE, related_name="cart")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Cart of {self.customer_user_id}"


#: the most of one product a cart line (and so an order line) may hold
MAX_QUANTITY = 9999


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="one_line_per_product"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cart_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id}"

    @property
    def amount(self) -> Decimal:
        return quantize(self.quantity * self.product.price, self.product.currency)


class Checkout(models.Model):
    """One pass through the checkout steps for a cart; every step saves here, so the buyer can resume.

    `attempt` numbers the submissions: the order and the payment of one attempt are created once (the
    idempotency key is `checkout:<id>:<attempt>`), and a declined attempt moves on to the next number. The
    checkout is `completed` when its order is kept (paid, pending, or awaiting the provider); the cart is
    emptied then, and the next purchase starts a new checkout.
    """

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="checkouts")
    billing_address = models.JSONField(default=dict, blank=True)
    ship_to_billing = models.BooleanField(default=True)
    shipping_address = models.JSONField(default=dict, blank=True)
    shipping_method = models.CharField(max_length=40, blank=True)
    payment_method = models.CharField(max_length=80, blank=True)
    #: what the payment widget posted (a token, opaque provider data), never card data
    payment_data = models.JSONField(default=dict, blank=True)
    #: the buyer's purchase order number, copied to the order
    po_number = models.CharField("PO number", max_length=25, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cart"], condition=Q(completed_at__isnull=True), name="one_open_checkout_per_cart"
            )
        ]

    def __str__(self) -> str:
        return f"Checkout {self.pk} (attempt {self.attempt})"

    @property
    def idempotency_key(self) -> str:
        return f"checkout:{self.pk}:{self.attempt}"

    @property
    def delivery_address(self) -> dict:
        return self.billing_address if self.ship_to_billing else self.shipping_address


class CheckoutAttempt(models.Model):
    """One submission of a checkout: the order it made, the payment it started, and how it ended.

    Kept for every attempt, also declined, refused and abandoned ones, whose orders the buyer no longer sees
    (`Order.discarded_at`): support staff find here what the buyer tried and what the provider answered, and the
    attempt's transactions are its order's ledger rows. `status` is also how a second submit of the same checkout
    knows that the first one is still talking to the provider (`submitting`) and waits for its outcome.
    """

    class Status(models.TextChoices):
        SUBMITTING = "submitting", "Sent to the provider"
        AWAITING_BUYER = "awaiting_buyer", "Waiting for the buyer at the provider"
        PLACED = "placed", "Order placed"
        UNCONFIRMED = "unconfirmed", "Order placed, provider's answer missing"
        DECLINED = "declined", "Declined"
        REFUSED = "refused", "Refused before payment"
        ABANDONED = "abandoned", "Abandoned by the buyer"

    #: attempts that ended without an order for the buyer
    FAILED = frozenset({Status.DECLINED, Status.REFUSED, Status.ABANDONED})
    #: attempts whose order the buyer keeps
    KEPT = frozenset({Status.PLACED, Status.UNCONFIRMED})

    checkout = models.ForeignKey(
        Checkout, null=True, blank=True, on_delete=models.SET_NULL, related_name="attempts"
    )  # a deleted buyer login takes its cart and checkouts along; the record of what was tried stays
    number = models.PositiveIntegerField()
    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="checkout_attempt")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    customer_user = models.ForeignKey(
        "customers.CustomerUser", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payment_method = models.CharField(max_length=80)
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTING, db_index=True)
    #: why it failed, for staff: a normalised code and the provider's or our own words
    reason = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    provider_reference = models.CharField("reference code", max_length=255, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    #: hash of what was submitted (cart, addresses, shipping, method, payment data): a later submit of the same
    #: things continues this attempt, anything else ends it and starts the next one
    fingerprint = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField("started", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["checkout", "number"], name="one_record_per_attempt")]

    def __str__(self) -> str:
        return f"Checkout {self.checkout_id} attempt {self.number} ({self.get_status_display()})"

    @property
    def money(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)

    @property
    def failed(self) -> bool:
        return self.status in self.FAILED
