"""Buyer companies, their groups and logins, and the payment terms they may buy on."""

from django.conf import settings
from django.db import models

from providers.base import CustomerGroupInfo, CustomerInfo, PaymentTermInfo


class PaymentTerm(models.Model):
    """A label such as "Net 30". Like the reference, we do not compute due dates from it."""

    label = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label

    def as_info(self) -> PaymentTermInfo:
        return PaymentTermInfo(id=self.pk, label=self.label)


class CustomerGroup(models.Model):
    name = models.CharField(max_length=100, unique=True)
    payment_term = models.ForeignKey(
        PaymentTerm, null=True, blank=True, on_delete=models.PROTECT, related_name="customer_groups"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """A buyer company."""

    name = models.CharField(max_length=200)
    vat_id = models.CharField("VAT id", max_length=32, blank=True)
    group = models.ForeignKey(CustomerGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers")
    payment_term = models.ForeignKey(
        PaymentTerm,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customers",
        help_text="Overrides the group's term.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def resolved_payment_term(self) -> PaymentTerm | None:
        """The customer's own term wins over its group's; there is no global default."""
        if self.payment_term_id is not None:
            return self.payment_term
        return self.group.payment_term if self.group is not None else None

    def as_info(self) -> CustomerInfo:
        group = self.group
        return CustomerInfo(
            id=self.pk,
            name=self.name,
            vat_id=self.vat_id,
            group=CustomerGroupInfo(
                id=group.pk,
                name=group.name,
                payment_term=group.payment_term.as_info() if group.payment_term else None,
            )
            if group
            else None,
            payment_term=self.payment_term.as_info() if self.payment_term else None,
        )


class CustomerUser(models.Model):
    """A storefront login that buys on behalf of one customer company."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_user")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="users")

    class Meta:
        ordering = ["customer__name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user.get_full_name() or self.user.email} ({self.customer})"
