"""The back-office preview on the rule pages: every rule run against a recent order or cart, showing which rules
matched, which stopped processing, which methods would be offered, and any run-time error (issue 14, item 8)."""

from __future__ import annotations

import html as markup
import re
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from checkout.models import Cart, CartLine, Product
from demo.seed import seed_demo
from integrations.models import Integration
from orders.models import Order
from payment_rules.models import PaymentRule, PaymentRuleMethod

pytestmark = pytest.mark.django_db
PREVIEW = "/admin/payment_rules/paymentrule/preview/"


@pytest.fixture
def seeded(db: None) -> None:
    seed_demo()


@pytest.fixture
def admin(seeded: None, client: Client) -> Client:
    client.force_login(User.objects.get(username="admin"))  # the Administrators group, not a superuser
    return client


@pytest.fixture
def order(seeded: None) -> Order:
    found = Order.objects.filter(number__startswith="DEMO-").order_by("pk").first()
    assert found is not None
    return found


def rows(html: str) -> dict[str, str]:
    """Rule name -> its outcome cell, from the preview's rule table."""
    found = re.findall(
        r'/change/">([^<]+)</a>.*?<td class="outcome-[a-z_]+">([^<]+)</td>\s*<td>([^<]*)</td>', html, re.S
    )
    return {markup.unescape(name): markup.unescape(f"{outcome} {detail}".strip()) for name, outcome, detail in found}


def offered(html: str) -> list[str]:
    block = html.split('class="offered-methods"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r"<code>([^<]+)</code></li>", block)


def test_preview_of_an_order_shows_what_each_rule_did_and_the_methods(admin: Client, order: Order) -> None:
    checks = Integration.objects.get(provider_key="money_order")
    broken = PaymentRule.objects.create(
        name="Reads a sixth line", currency="USD", sort_order=25, expression="lineItems[5].weight.value > 1.0"
    )
    PaymentRuleMethod.objects.create(rule=broken, integration=checks, method=f"money_order_{checks.pk}")
    PaymentRule.objects.filter(name="Checks for US billing addresses (USD)").update(stop_processing=True)

    html = admin.get(PREVIEW, {"source": f"order:{order.pk}"}).content.decode()

    outcome = rows(html)
    assert outcome["All online methods (USD)"] == "matched"
    assert outcome["Checks for US billing addresses (USD)"] == "matched and stopped further rules"
    assert outcome["Reads a sixth line"] == "not reached: an earlier rule stopped processing"
    assert outcome["Payment terms for the Wholesale group (USD)"] == "not reached: an earlier rule stopped processing"
    assert f"money_order_{checks.pk}" in offered(html)
    assert not any(method.startswith("payment_term_") for method in offered(html))

    PaymentRule.objects.filter(name="Checks for US billing addresses (USD)").update(stop_processing=False)
    outcome = rows(admin.get(PREVIEW, {"source": f"order:{order.pk}"}).content.decode())
    assert outcome["Reads a sixth line"] == (
        "condition failed Cannot read attribute 'weight' of null (lineItems[5] is null) (at position 13)"
    )
    assert outcome["Payment terms for the Wholesale group (USD)"] == "matched true"
    assert outcome["Payment terms on orders from 5,000 (USD)"] == "condition is false false"


def test_preview_of_a_cart_and_of_an_unsaved_condition(admin: Client) -> None:
    buyer = User.objects.get(username="buyer@acme.example").customer_user
    cart = Cart.objects.create(customer_user=buyer)
    CartLine.objects.create(cart=cart, product=Product.objects.get(sku="DRILL-18V"), quantity=2)
    terms = PaymentRule.objects.get(name="Payment terms on orders from 5,000 (USD)")

    saved = rows(admin.get(PREVIEW, {"source": f"cart:{cart.pk}"}).content.decode())
    tried = rows(
        admin.get(
            PREVIEW,
            {"source": f"cart:{cart.pk}", "rule": terms.pk, "expression": "lineItems.sum(lineItem.weight.value) > 2.0"},
        ).content.decode()
    )

    assert saved["Payment terms on orders from 5,000 (USD)"] == "condition is false false"
    assert tried["Payment terms on orders from 5,000 (USD)"] == "matched true"
    assert saved["Checks for US billing addresses (USD)"] == "destination does not match"  # no address yet
    terms.refresh_from_db()
    assert terms.expression == "subtotal.value >= 5000.0"  # the preview changed nothing


def test_an_invalid_tried_condition_is_refused_with_its_message(admin: Client, order: Order) -> None:
    terms = PaymentRule.objects.get(name="Payment terms on orders from 5,000 (USD)")
    query = {"source": f"order:{order.pk}", "rule": terms.pk, "expression": "customer.grup.name = 'x'"}
    html = admin.get(PREVIEW, query).content.decode()
    assert "customer has no field &#x27;grup&#x27;" in html
    assert '<table class="rule-preview">' not in html


def test_the_rule_page_links_to_its_preview(admin: Client) -> None:
    rule = PaymentRule.objects.get(name="Payment terms on orders from 5,000 (USD)")
    html = admin.get(f"/admin/payment_rules/paymentrule/{rule.pk}/change/").content.decode()
    assert f'href="{PREVIEW}?{urlencode({"rule": rule.pk})}"' in html
    preview = admin.get(PREVIEW, {"rule": rule.pk}).content.decode()
    assert "subtotal.value &gt;= 5000.0</textarea>" in preview  # opened with the rule's saved condition


def test_the_rule_form_explains_the_differences_from_the_reference(admin: Client) -> None:
    html = admin.get("/admin/payment_rules/paymentrule/add/").content.decode()
    assert "Where this differs from the reference" in html
    assert "1 = 1.0" in html


@pytest.mark.parametrize("missing", ["view_paymentrule", "view_order"])
def test_the_preview_needs_rule_and_order_view_permissions(client: Client, order: Order, missing: str) -> None:
    user = User.objects.create(username="viewer", is_staff=True)
    for codename in {"view_paymentrule", "view_order"} - {missing}:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    assert client.get(PREVIEW, {"source": f"order:{order.pk}"}).status_code == 403


def test_sales_staff_cannot_preview(client: Client, order: Order) -> None:
    client.force_login(User.objects.get(username="sales"))
    assert client.get(PREVIEW, {"source": f"order:{order.pk}"}).status_code == 403


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("customer", "matched object"),
        ("customer.users", "matched array of 1"),
        ("lineItems[0].price", "matched 12.50 USD"),
        ("lineItems[0].quantity * 1.50", "matched 3"),
        ("{a: 'x'}", "matched hash of 1"),
        ("'Net 30'", "matched Net 30"),
    ],
)
def test_a_condition_value_is_shown_in_the_language_not_as_python_internals(
    admin: Client, expression: str, shown: str
) -> None:
    """The detail column printed Python's repr of what a condition returned: ``Obj(id=1, name='ACME…',
    users=Lazy(<not loaded>))``, every field of every line item, and once loaded the name and email of every
    user of the buyer's company. A value is shown as the language knows it; records and lists by their kind."""
    buyer = User.objects.get(username="buyer@acme.example").customer_user
    cart = Cart.objects.create(customer_user=buyer)
    CartLine.objects.create(cart=cart, product=Product.objects.get(sku="BOLT-M8"), quantity=2)
    terms = PaymentRule.objects.get(name="Payment terms on orders from 5,000 (USD)")
    query = {"source": f"cart:{cart.pk}", "rule": terms.pk, "expression": expression}

    html = admin.get(PREVIEW, query).content.decode()

    assert rows(html)["Payment terms on orders from 5,000 (USD)"] == shown
    assert "Obj(" not in html
    assert "buyer@acme.example" not in html.split('<table class="rule-preview">', 1)[1]
