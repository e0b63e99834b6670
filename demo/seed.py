"""Demo data for `make run` and the end-to-end tests. Idempotent: running it again changes nothing."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction

from backoffice.roles import ADMINISTRATORS, SALES, roles_ensure
from checkout.models import Category, InventoryLevel, Product, Warehouse
from customers.models import Customer, CustomerGroup, CustomerUser, PaymentTerm
from integrations.adapters import integration_methods
from integrations.models import Integration
from orders.models import Address, Invoice, Order
from orders.services import LineInput, invoice_create, order_create
from payment_rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod
from payments.services import payment_capture, payment_purchase
from providers.stripe.adapter import StripeAdapter

DEMO_PREFIX = "DEMO-"


@dataclass(frozen=True)
class Login:
    role: str
    username: str
    password: str
    where: str


LOGINS = [
    Login("Administrator", "admin", "paydesk-admin", "/admin/"),
    Login("Sales", "sales", "paydesk-sales", "/admin/"),
    Login("Buyer (ACME Industrial)", "buyer@acme.example", "paydesk-buyer", "/"),
    Login("Buyer (Globex Trading)", "buyer@globex.example", "paydesk-buyer", "/"),
]


def _user(username: str, password: str, **fields: object) -> User:
    user, _ = User.objects.get_or_create(username=username, defaults=fields)
    for name, value in fields.items():
        setattr(user, name, value)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def seed_demo() -> list[Login]:
    admin = _user("admin", "paydesk-admin", email="admin@paydesk.example", is_staff=True, is_superuser=False)
    sales = _user("sales", "paydesk-sales", email="sales@paydesk.example", is_staff=True, first_name="Sam")
    roles_ensure()  # the migration made them; a flushed test database needs them again
    admin.groups.add(Group.objects.get(name=ADMINISTRATORS))
    sales.groups.add(Group.objects.get(name=SALES))
    sales.user_permissions.clear()  # earlier seeds granted permissions one by one; the group holds them now

    net30, _ = PaymentTerm.objects.get_or_create(label="Net 30")
    net60, _ = PaymentTerm.objects.get_or_create(label="Net 60")
    wholesale, _ = CustomerGroup.objects.get_or_create(name="Wholesale", defaults={"payment_term": net60})
    retail, _ = CustomerGroup.objects.get_or_create(name="Retail")
    acme, _ = Customer.objects.get_or_create(
        name="ACME Industrial", defaults={"group": wholesale, "payment_term": net30, "vat_id": "DE136695976"}
    )
    globex, _ = Customer.objects.get_or_create(name="Globex Trading", defaults={"group": retail})
    for email, customer, first, last in [
        ("buyer@acme.example", acme, "Ada", "Buyer"),
        ("buyer@globex.example", globex, "Gus", "Buyer"),
    ]:
        user = _user(email, "paydesk-buyer", email=email, first_name=first, last_name=last)
        CustomerUser.objects.get_or_create(user=user, defaults={"customer": customer})

    money_order, _ = Integration.objects.get_or_create(
        provider_key="money_order",
        name="Check / Money Order",
        defaults={
            "labels": {"en": "Check / Money Order", "de": "Scheck / Zahlungsanweisung"},
            "short_labels": {"en": "Check"},
            "settings": {
                "pay_to": "Paydesk Demo Inc.",
                "send_to": "1 Market Street\nSan Francisco, CA 94105",
            },
            "default_owner": admin,
        },
    )
    terms, _ = Integration.objects.get_or_create(
        provider_key="payment_term",
        name="Payment Terms",
        defaults={"labels": {"en": "Payment Terms"}, "short_labels": {"en": "Terms"}, "default_owner": admin},
    )

    stripe_integration_seed(admin=admin)
    payflow_integration_seed(admin=admin)
    authorizenet_integration_seed(admin=admin)
    infinitepay = infinitepay_integration_seed(admin=admin)
    oropay_integration_seed(admin=admin)
    wirecard = wirecard_integration_seed(admin=admin)
    _demo_rules(money_order, terms)
    _infinitepay_rule(infinitepay)
    _wirecard_rules(wirecard)
    _demo_products()
    if not Order.objects.filter(number__startswith=DEMO_PREFIX).exists():
        _demo_orders(acme, money_order, terms, sales)
    _demo_invoice(acme)
    apruve_integration_seed(admin=admin)
    return LOGINS


def stripe_integration_seed(*, admin: User | None) -> Integration:
    """A Stripe integration on the built-in sandbox, with generated test keys the sandbox accepts.

    The sandbox accepts any `sk_test_` key (the account is derived from it); the seed also registers the
    integration's webhook URL with the sandbox, as one would add an endpoint in Stripe's dashboard.
    """
    integration, created = Integration.objects.get_or_create(
        provider_key="stripe",
        name="Stripe (sandbox)",
        defaults={
            "labels": {"en": "Credit card", "de": "Kreditkarte", "fr": "Carte bancaire"},
            "short_labels": {"en": "Stripe"},
            "environment": Integration.Environment.SANDBOX,
            "payment_action": Integration.PaymentAction.AUTHORIZE,
            "default_owner": admin,
        },
    )
    if created or not integration.secrets:
        credentials, integration.secrets = _sandbox_credentials("stripe", secrets.token_hex(12))
        integration.settings = {
            **credentials,
            "user_monitoring": False,
            "re_authorization": False,
            "re_authorization_email": "",
        }
        integration.save()
    # as the README says to set up the live endpoint
    _sandbox_webhooks_register(integration, StripeAdapter.webhook_events, StripeAdapter.webhook_api_version)
    return integration


def authorizenet_integration_seed(*, admin: User | None) -> Integration:
    """An Authorize.Net integration (card and eCheck) on the built-in sandbox, with generated credentials.

    The sandbox accepts any API login ID with a 16-character transaction key; the seed also registers the
    integration's webhook URL and signature key with it, as one would in Authorize.Net's merchant interface.
    """
    integration, created = Integration.objects.get_or_create(
        provider_key="authorizenet",
        name="Authorize.Net (sandbox)",
        defaults={
            "labels": {"en": "Credit card (Authorize.Net)", "de": "Kreditkarte (Authorize.Net)"},
            "short_labels": {"en": "Authorize.Net"},
            "environment": Integration.Environment.SANDBOX,
            "payment_action": Integration.PaymentAction.AUTHORIZE,
            "default_owner": admin,
        },
    )
    if created or not integration.secrets:
        credentials, integration.secrets = _sandbox_credentials("authorizenet", f"paydesk{secrets.token_hex(6)}")
        integration.settings = {
            **credentials,
            "allowed_card_types": ["visa", "mastercard", "american_express", "discover", "jcb", "diners_club"],
            "require_cvv": True,
            "allow_held_transactions": True,
            "echeck_enabled": True,
            "echeck_label": "Bank account (eCheck)",
            "echeck_short_label": "eCheck",
            "echeck_account_types": ["checking", "savings", "businessChecking"],
            "echeck_confirmation_text": (
                "By clicking Place order I authorize Paydesk Demo Inc. to debit the bank account above for the "
                "amount of this order, once."
            ),
        }
        integration.save()
    _sandbox_webhooks_register(integration)
    return integration


def oropay_integration_seed(*, admin: User | None) -> Integration:
    """An OroPay integration (card and ACH) on the built-in GP-API sandbox, with a generated app id whose key the
    sandbox provisions. Automatic capture, since ACH is offered only then (domain.md §3.10); the status URL is
    registered with the sandbox, as the account manager does at Global Payments. The demo's .env makes it the
    invoice payment method (`INVOICE_PAYMENT_METHOD=oropay`)."""
    integration, created = Integration.objects.get_or_create(
        provider_key="oropay",
        name="OroPay (sandbox)",
        defaults={
            "labels": {"en": "Credit card (OroPay)", "de": "Kreditkarte (OroPay)"},
            "short_labels": {"en": "OroPay"},
            "environment": Integration.Environment.SANDBOX,
            "payment_action": Integration.PaymentAction.CHARGE,
            "default_owner": admin,
        },
    )
    if created or not integration.secrets:
        credentials, integration.secrets = _sandbox_credentials("oropay", f"paydesk{secrets.token_hex(6)}")
        integration.settings = {**credentials, "merchant_name": "Paydesk Demo Inc.", "ach_label": "ACH bank debit"}
        integration.save()
    _sandbox_webhooks_register(integration)
    return integration


def payflow_integration_seed(*, admin: User | None) -> Integration:
    """A PayPal Payflow Gateway integration on the built-in sandbox, with generated credentials it accepts.

    The sandbox takes any partner, vendor and user with a password of four characters or more; the account is
    derived from partner and vendor. Cards: 4111 1111 1111 1111; the amount picks the result as on PayPal's pilot.
    """
    integration, created = Integration.objects.get_or_create(
        provider_key="payflow",
        name="PayPal Payflow Gateway (sandbox)",
        defaults={
            "labels": {"en": "Credit card (PayPal)", "de": "Kreditkarte (PayPal)"},
            "short_labels": {"en": "Payflow"},
            "environment": Integration.Environment.SANDBOX,
            "payment_action": Integration.PaymentAction.AUTHORIZE,
            "default_owner": admin,
        },
    )
    if created or not integration.secrets:
        credentials, integration.secrets = _sandbox_credentials("payflow", f"paydesk{secrets.token_hex(6)}")
        integration.settings = {
            **credentials,
            "allowed_card_types": ["visa", "mastercard", "discover", "american_express"],
            "require_cvv": True,
            "zero_amount_authorization": False,
            "authorization_for_required_amount": False,
            "debug_mode": False,
            "express_checkout_name": "Paydesk Demo",
            "express_checkout_label": "PayPal",
            "express_checkout_short_label": "PayPal",
            "express_checkout_payment_action": "authorize",
        }
        integration.save()
    return integration


def infinitepay_integration_seed(*, admin: User | None) -> Integration:
    """An InfinitePay integration (guaranteed invoices for companies with a VAT id) on the built-in sandbox.

    The sandbox's credit check approves only the debtor e-mail email_for_success_emulation@test.com (as
    InfinitePay's test system does), up to 50,000.00 per company; reserve, then Capture and Activate on the order.
    """
    integration, created = Integration.objects.get_or_create(
        provider_key="infinitepay",
        name="InfinitePay (sandbox)",
        defaults={
            "labels": {"en": "Invoice (InfinitePay)", "de": "Rechnung (InfinitePay)"},
            "short_labels": {"en": "InfinitePay"},
            "environment": Integration.Environment.SANDBOX,
            "payment_action": Integration.PaymentAction.AUTHORIZE,
            "default_owner": admin,
        },
    )
    if created or not integration.secrets:
        credentials, integration.secrets = _sandbox_credentials("infinitepay", f"paydesk{secrets.token_hex(6)}")
        integration.settings = {
            **credentials,
            "auto_capture": False,
            "auto_activate": False,
            "invoice_due_period": 30,
            "invoice_shipping_duration": 21,
            "debug_mode": False,
        }
        integration.save()
    return integration


def _infinitepay_rule(integration: Integration) -> None:
    """Invoices guaranteed by InfinitePay for German billing addresses, in euros."""
    if not integration.active or integration.deleted_at is not None:
        return
    rule = _rule("Invoice by InfinitePay for Germany (EUR)", "EUR", 5, [integration])
    if not rule.destinations.exists():
        PaymentRuleDestination.objects.create(rule=rule, country="DE")


def apruve_integration_seed(*, admin: User | None) -> Integration:
    """An Apruve integration (trade credit, USD) on the built-in sandbox, with its own rule.

    The sandbox takes any merchant id with the API key it derives for it; webhooks come signed with the sandbox's
    RSA key (its public half is filled in here) to the webhook URL with the integration's token, registered here
    as one would in Apruve's merchant settings. The buyer "logs in" to the lightbox with any e-mail address.
    """
    integration, created = Integration.objects.get_or_create(
        provider_key="apruve",
        name="Apruve (sandbox)",
        defaults={
            "labels": {"en": "Apruve trade credit", "de": "Apruve Firmenkredit"},
            "short_labels": {"en": "Apruve"},
            "environment": Integration.Environment.SANDBOX,
            "payment_action": Integration.PaymentAction.AUTHORIZE,
            "default_owner": admin,
        },
    )
    if created or not integration.secrets:
        integration.settings, integration.secrets = _sandbox_credentials("apruve", f"paydesk{secrets.token_hex(6)}")
        integration.save()
    _sandbox_webhooks_register(integration)
    _rule("Apruve trade credit (USD)", "USD", 50, [integration])
    return integration


def wirecard_integration_seed(*, admin: User | None) -> Integration:
    """A Wirecard Checkout Seamless integration (card, SEPA direct debit, PayPal) on the built-in sandbox, with
    Wirecard's published demo merchant (D200001). Demo cards: 9500 0000 0000 0001 pays, …0010 is declined, …0028
    stays pending until `/sandbox/wirecard/__sim/settle`. The confirm comes from the sandbox, so no allow-list."""
    integration, created = Integration.objects.get_or_create(
        provider_key="wirecard",
        name="Wirecard (sandbox)",
        defaults={
            "labels": {"en": "Credit card (Wirecard)", "de": "Kreditkarte (Wirecard)"},
            "short_labels": {"en": "Wirecard"},
            "environment": Integration.Environment.SANDBOX,
            "payment_action": Integration.PaymentAction.AUTHORIZE,
            "default_owner": admin,
        },
    )
    if created or not integration.secrets:
        credentials, integration.secrets = _sandbox_credentials("wirecard", "paydesk")
        integration.settings = {
            **credentials,
            "sepa_label": "SEPA direct debit (Wirecard)",
            "sepa_short_label": "SEPA",
            "paypal_label": "PayPal (Wirecard)",
            "paypal_short_label": "PayPal",
        }
        integration.save()
    return integration


def _wirecard_rules(wirecard: Integration) -> None:
    """Card and PayPal in dollars and euros, SEPA direct debit in euros only; the euro ones for Germany and Austria
    (the card in dollars is in "All online methods (USD)")."""
    if not Integration.objects.live().filter(pk=wirecard.pk).exists():
        return
    _rule("PayPal by Wirecard (USD)", "USD", 12, [wirecard], variant="paypal")
    for name, variant in (
        ("Card by Wirecard (EUR)", ""),
        ("PayPal by Wirecard (EUR)", "paypal"),
        ("SEPA direct debit by Wirecard (EUR)", "sepa"),
    ):
        rule = _rule(name, "EUR", 12, [wirecard], variant=variant)
        if not rule.destinations.exists():
            PaymentRuleDestination.objects.bulk_create(
                [PaymentRuleDestination(rule=rule, country="DE"), PaymentRuleDestination(rule=rule, country="AT")]
            )


def _sandbox_credentials(key: str, account: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Test credentials the provider's simulator accepts, with freshly random secrets."""
    from sandbox.profiles import profile  # the simulators are loaded only where demo data asks for them

    return profile(key).credentials(account, secrets.token_hex(16))


def _sandbox_webhooks_register(integration: Integration, events: Sequence[str] = ("*",), api_version: str = "") -> None:
    """Give the simulator the integration's webhook URL, as one would in the provider's dashboard."""
    if not (settings.SANDBOX_ENABLED and integration.environment == Integration.Environment.SANDBOX):
        return
    from sandbox.profiles import profile

    register = profile(integration.provider_key).register_webhooks
    if register is not None:
        register({**integration.settings, **integration.secrets}, integration.get_webhook_url(), events, api_version)


def _rule(
    name: str, currency: str, sort_order: int, integrations: list[Integration], *, variant: str = "", **fields: object
) -> PaymentRule:
    """Create the rule once; later runs only add methods of integrations seeded since.

    One method per integration per rule (as the reference advises): the first, or the one of `variant`.
    """
    rule, _ = PaymentRule.objects.get_or_create(
        name=name, defaults={"currency": currency, "sort_order": sort_order, **fields}
    )
    for integration in integrations:
        for method in integration_methods(integration):
            if method.variant == variant:
                PaymentRuleMethod.objects.get_or_create(
                    rule=rule, integration=integration, defaults={"method": method.identifier}
                )
                break
    return rule


def _demo_rules(money_order: Integration, terms: Integration) -> None:
    card_and_other = list(
        Integration.objects.live().exclude(provider_key__in=["payment_term", "money_order"]).order_by("pk")
    )
    if card_and_other:  # a rule offers at least one method
        _rule("All online methods (USD)", "USD", 10, card_and_other)
    echeck = list(Integration.objects.live().filter(provider_key="authorizenet").order_by("pk")[:1])
    if echeck:
        bank = _rule("Bank account by eCheck for US billing addresses (USD)", "USD", 15, echeck, variant="echeck")
        if not bank.destinations.exists():
            PaymentRuleDestination.objects.create(rule=bank, country="US")
    checks_us = _rule("Checks for US billing addresses (USD)", "USD", 20, [money_order])
    if not checks_us.destinations.exists():
        PaymentRuleDestination.objects.create(rule=checks_us, country="US")
    _rule(
        "Payment terms for the Wholesale group (USD)",
        "USD",
        30,
        [terms],
        expression="customer.group and customer.group.name = 'Wholesale'",
    )
    _rule("Payment terms on orders from 5,000 (USD)", "USD", 40, [terms], expression="subtotal.value >= 5000.0")
    euro = _rule("Checks in euros for Germany and Austria (EUR)", "EUR", 10, [money_order])
    if not euro.destinations.exists():
        PaymentRuleDestination.objects.bulk_create(
            [PaymentRuleDestination(rule=euro, country="DE"), PaymentRuleDestination(rule=euro, country="AT")]
        )


def _demo_orders(acme: Customer, money_order: Integration, terms: Integration, sales: User) -> None:
    buyer = acme.users.first()
    address = Address.objects.create(
        organization="ACME Industrial",
        street="200 Industrial Way",
        city="Springfield",
        region_code="US-IL",
        region_name="Illinois",
        postal_code="62701",
        country="US",
    )
    products = {p.sku: p.pk for p in Product.objects.filter(sku__in=["BOLT-M8", "NUT-M8"])}
    lines = [
        LineInput("BOLT-M8", "Hex bolt M8 (box of 100)", Decimal("4"), Decimal("12.50"), products.get("BOLT-M8")),
        LineInput("NUT-M8", "Hex nut M8 (box of 100)", Decimal("4"), Decimal("6.25"), products.get("NUT-M8")),
    ]
    scenarios = [(money_order, False), (money_order, True), (terms, False), (terms, True)]
    for n, (integration, capture) in enumerate(scenarios, start=1):
        order = order_create(
            customer=acme,
            customer_user=buyer,
            currency="USD",
            lines=lines,
            shipping=Decimal("15.00"),
            tax=Decimal("7.13"),
            billing_address=address,
            shipping_address=address,
            number_prefix=DEMO_PREFIX,
            shipping_method="flat_rate",
        )
        method = f"{integration.provider_key}_{integration.pk}"
        txn = payment_purchase(order_id=order.pk, method=method, key=f"demo:purchase:{n}")
        if capture:
            payment_capture(source_id=txn.pk, amount=None, key=f"demo:capture:{n}", actor=sales, note="Check received")


#: sku, name, price, currency, category, unit, weight per unit (kg), length × width × height (cm), stock per warehouse
PRODUCTS = [
    ("BOLT-M8", "Hex bolt M8 (box of 100)", "12.50", "USD", "Fasteners", "box", "1.2", (18, 12, 6), (400, 120)),
    ("NUT-M8", "Hex nut M8 (box of 100)", "6.25", "USD", "Fasteners", "box", "0.6", (12, 8, 5), (350, 80)),
    ("WASHER-M8", "Flat washer M8 (box of 200)", "4.80", "USD", "Fasteners", "box", "0.5", (12, 8, 4), (500, 0)),
    (
        "GLOVE-NITRILE",
        "Nitrile work gloves (case of 10 pairs)",
        "39.00",
        "USD",
        "Safety",
        "case",
        "0.9",
        (30, 20, 10),
        (60, 25),
    ),
    ("DRILL-18V", "Cordless drill 18 V", "149.00", "USD", "Power tools", "item", "2.1", (35, 28, 11), (24, 6)),
    ("COMPRESSOR-50L", "Air compressor 50 L", "2450.00", "USD", "Power tools", "item", "38", (78, 36, 72), (3, 0)),
    ("DINRAIL-35", "DIN rail 35 mm (10 × 1 m)", "27.40", "EUR", "Electrical", "set", "2.4", (100, 4, 2), (0, 90)),
    ("RELAY-24V", "Relay 24 V DC (pack of 10)", "58.90", "EUR", "Electrical", "set", "0.4", (16, 10, 8), (0, 140)),
]
WAREHOUSES = ["Chicago Warehouse", "Rotterdam Warehouse"]


def _demo_products() -> None:
    """The storefront catalog: created once by SKU; later runs leave edited prices alone and only fill in the
    category, shipping data and stock of products that have none yet."""
    warehouses = [Warehouse.objects.get_or_create(name=name)[0] for name in WAREHOUSES]
    for sku, name, price, currency, category, unit, weight, (length, width, height), stock in PRODUCTS:
        product, created = Product.objects.get_or_create(
            sku=sku, defaults={"name": name, "price": Decimal(price), "currency": currency}
        )
        if created or product.weight is None:
            product.category = Category.objects.get_or_create(name=category)[0]
            product.unit = unit
            product.weight, product.weight_unit = Decimal(weight), Product.WeightUnit.KG
            product.length, product.width, product.height = Decimal(length), Decimal(width), Decimal(height)
            product.dimension_unit = Product.LengthUnit.CM
            product.save()
        for warehouse, quantity in zip(warehouses, stock, strict=True):
            InventoryLevel.objects.get_or_create(
                product=product, warehouse=warehouse, defaults={"quantity": Decimal(quantity)}
            )


def _demo_invoice(acme: Customer) -> None:
    """One open invoice for ACME, for the demo order bought on payment terms and not yet paid."""
    if Invoice.objects.filter(customer=acme).exists():
        return
    order = (
        Order.objects.filter(
            number__startswith=DEMO_PREFIX, payment_method__startswith="payment_term_", payment_status="pending"
        )
        .order_by("pk")
        .first()
    )
    if order is not None:
        invoice_create(order=order)
