"""Factories shared by every test: data is built the same way everywhere."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth.models import User
from factory import Trait
from factory.django import DjangoModelFactory

from customers.models import Customer, CustomerGroup, CustomerUser, PaymentTerm
from integrations.models import Integration
from orders.models import Address, Order, OrderLine


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw")

    class Params:
        staff = Trait(is_staff=True)
        superuser = Trait(is_staff=True, is_superuser=True)


class PaymentTermFactory(DjangoModelFactory[PaymentTerm]):
    class Meta:
        model = PaymentTerm
        django_get_or_create = ("label",)

    label = "Net 30"


class CustomerGroupFactory(DjangoModelFactory[CustomerGroup]):
    class Meta:
        model = CustomerGroup

    name = factory.Sequence(lambda n: f"Group {n}")


class CustomerFactory(DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")


class CustomerUserFactory(DjangoModelFactory[CustomerUser]):
    class Meta:
        model = CustomerUser

    user = factory.SubFactory(UserFactory)
    customer = factory.SubFactory(CustomerFactory)


class AddressFactory(DjangoModelFactory[Address]):
    class Meta:
        model = Address

    street = "1 Main Street"
    city = "Springfield"
    region_code = "US-IL"
    postal_code = "62701"
    country = "US"


class IntegrationFactory(DjangoModelFactory[Integration]):
    class Meta:
        model = Integration

    provider_key = "money_order"
    name = factory.Sequence(lambda n: f"Integration {n}")
    labels = factory.LazyAttribute(lambda i: {"en": i.name})
    settings = factory.LazyAttribute(
        lambda i: {"pay_to": "Paydesk Inc.", "send_to": "1 Market St"} if i.provider_key == "money_order" else {}
    )

    class Params:
        payment_term = Trait(provider_key="payment_term", name="Payment Terms")
        authorize_only = Trait(payment_action=Integration.PaymentAction.AUTHORIZE)


class OrderFactory(DjangoModelFactory[Order]):
    """An order of `total` (default 100.00 USD); `jpy=True` / `kwd=True` switch the currency."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"T-{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    currency = "USD"
    subtotal = Decimal("100.00")
    shipping = Decimal("0")
    tax = Decimal("0")
    total = factory.LazyAttribute(lambda o: o.subtotal + o.shipping + o.tax)
    billing_address = factory.SubFactory(AddressFactory)

    class Params:
        jpy = Trait(currency="JPY", subtotal=Decimal("12000"))
        kwd = Trait(currency="KWD", subtotal=Decimal("30.125"))

    @factory.post_generation
    def lines(obj: Order, create: bool, extracted: object, **kwargs: object) -> None:  # noqa: N805
        if create and not extracted:
            OrderLine.objects.create(order=obj, sku="SKU-1", name="Widget", quantity=1, unit_price=obj.subtotal)
