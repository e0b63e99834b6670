"""The back-office as its users work with it, in Chromium: administrators, sales staff and buyers."""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from backoffice.roles import SALES
from integrations.models import Integration
from orders.models import Order, PaymentStatus
from payment_rules.models import PaymentRule, PaymentRuleMethod
from payments.models import Action
from payments.services import payment_purchase
from tests import factories
from tests.conftest import authorize
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ledger(order: Order) -> list[tuple]:
    return list(order.transactions.values_list("id", "action", "amount", "state", "active").order_by("id"))


def test_administrator_creates_a_money_order_integration(page: Page, seeded, screenshot_dir: Path) -> None:
    log_in(page, "admin", "paydesk-admin")
    page.get_by_role("rowheader", name="Integrations").get_by_role("link").click()
    page.get_by_role("link", name="Add integration").click()
    expect(page.get_by_text("Which payment provider does this integration connect?")).to_be_visible()
    page.get_by_role("link", name="Check / Money Order").click()

    page.get_by_label("Name:", exact=True).fill("Checks by mail")
    page.get_by_label("Label (English):", exact=True).fill("Pay by check")
    page.get_by_label("Short label (English):").fill("Check")
    page.get_by_label("Pay To:").fill("Paydesk Inc.")
    page.get_by_label("Send To:").fill("1 Market Street\nSan Francisco, CA 94105")
    page.screenshot(path=screenshot_dir / "integration-form.png", full_page=True)
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
    expect(page.locator("#result_list").get_by_role("link", name="Checks by mail")).to_be_visible()
    integration = Integration.objects.get(name="Checks by mail")
    assert integration.provider_key == "money_order"
    assert integration.settings["pay_to"] == "Paydesk Inc."
    assert integration.settings["send_to"].splitlines() == ["1 Market Street", "San Francisco, CA 94105"]
    assert integration.short_label("en") == "Check"

    # and a payment rule that offers it to US buyers paying in dollars
    page.goto("/admin/")
    page.get_by_role("rowheader", name="Payment rules").get_by_role("link").click()
    page.get_by_role("link", name="Add payment rule").click()
    page.get_by_label("Name:").fill("Checks in the US")
    page.get_by_label("Sort order:").fill("5")
    page.get_by_label("Currency:").select_option("USD")  # a chooser: no typed codes
    page.get_by_label("Expression:").fill("subtotal.value >")
    page.locator("select[name='methods-0-method']").select_option(label="Checks by mail")
    page.get_by_role("button", name="Add another Payment rule destination").click()
    page.locator("select[name='destinations-0-country']").select_option("US")  # ISO 3166 countries
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errorlist")).to_contain_text("position 16")  # the half-written condition is refused

    page.get_by_label("Expression:").fill("subtotal.value > 10.0")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
    rule = PaymentRule.objects.get(name="Checks in the US")
    assert (rule.currency, rule.enabled, rule.expression) == ("USD", True, "subtotal.value > 10.0")
    assert list(rule.methods.values_list("method", "integration")) == [
        (f"money_order_{integration.pk}", integration.pk)
    ]
    assert [str(d) for d in rule.destinations.all()] == ["US"]


def test_deleting_an_integration_lists_its_rules_and_disables_the_one_left_without_methods(page: Page, seeded) -> None:
    checks = Integration.objects.get(provider_key="money_order")
    terms = Integration.objects.get(provider_key="payment_term")
    alone = PaymentRule.objects.create(name="Only checks", currency="USD", sort_order=90)
    PaymentRuleMethod.objects.create(rule=alone, integration=checks, method=f"money_order_{checks.pk}")
    shared = PaymentRule.objects.create(name="Checks or terms", currency="USD", sort_order=91)
    PaymentRuleMethod.objects.create(rule=shared, integration=checks, method=f"money_order_{checks.pk}")
    PaymentRuleMethod.objects.create(rule=shared, integration=terms, method=f"payment_term_{terms.pk}")

    log_in(page, "admin", "paydesk-admin")
    page.goto(f"/admin/integrations/integration/{checks.pk}/change/")
    page.get_by_role("link", name="Delete", exact=True).click()
    rules = page.locator(".affected-rules")
    expect(rules.get_by_role("link", name="Only checks")).to_be_visible()
    expect(rules.get_by_role("link", name="Checks or terms")).to_be_visible()
    expect(rules.locator("li", has_text="Only checks")).to_contain_text("will be disabled")
    expect(rules.locator("li", has_text="Checks or terms")).to_contain_text("keeps its other methods")
    page.get_by_role("button", name="Yes, I’m sure").click()

    expect(page.locator("ul.messagelist")).to_contain_text("deleted successfully")
    alone.refresh_from_db()
    shared.refresh_from_db()
    assert (alone.enabled, shared.enabled) == (False, True)
    assert shared.methods.get(integration__provider_key="payment_term").enabled is True


def test_deactivating_an_integration_previewing_and_restoring_its_rules(
    page: Page, seeded, screenshot_dir: Path
) -> None:
    checks = Integration.objects.get(provider_key="money_order")
    us_checks = PaymentRule.objects.get(name="Checks for US billing addresses (USD)")
    order = Order.objects.filter(number__startswith="DEMO-").order_by("pk").first()
    assert order is not None

    log_in(page, "admin", "paydesk-admin")
    page.goto(f"/admin/integrations/integration/{checks.pk}/change/")
    page.get_by_role("link", name="Deactivate…").click()
    rules = page.locator(".affected-rules")
    expect(rules.locator("li", has_text="Checks for US billing addresses (USD)")).to_contain_text("will be disabled")
    page.screenshot(path=screenshot_dir / "integration-deactivate.png", full_page=True)
    page.get_by_role("button", name="Yes, deactivate").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Checks for US billing addresses (USD)")
    us_checks.refresh_from_db()
    assert us_checks.enabled is False

    # the preview shows the rule switched off and checks no longer offered on the demo order
    page.goto("/admin/payment_rules/paymentrule/")
    page.get_by_role("link", name="Preview rules").click()
    page.get_by_label("Order or cart:").select_option(f"order:{order.pk}")
    page.get_by_role("button", name="Preview").click()
    row = page.locator("table.rule-preview tr", has_text="Checks for US billing addresses (USD)")
    expect(row).to_contain_text("disabled")
    expect(page.locator(".offered-methods")).not_to_contain_text(f"money_order_{checks.pk}")
    page.screenshot(path=screenshot_dir / "rule-preview.png", full_page=True)

    page.goto(f"/admin/integrations/integration/{checks.pk}/change/")
    page.get_by_role("link", name="Activate…").click()
    expect(page.get_by_label(re.compile("Restore them"))).to_be_checked()
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Checks for US billing addresses (USD).")
    us_checks.refresh_from_db()
    checks.refresh_from_db()
    assert (checks.active, us_checks.enabled) == (True, True)


def test_sales_captures_a_seeded_money_order_from_the_order_page(page: Page, seeded, screenshot_dir: Path) -> None:
    order = Order.objects.filter(
        number__startswith="DEMO-", payment_method__startswith="money_order_", payment_status=PaymentStatus.PENDING
    ).get()
    log_in(page, "sales", "paydesk-sales")
    page.get_by_role("rowheader", name="Orders").get_by_role("link").click()
    page.get_by_role("link", name=order.number).click()
    expect(page.locator(".payment-status")).to_have_text("Pending payment")

    page.get_by_role("link", name="Capture", exact=True).click()
    expect(page.get_by_label("Amount (USD):")).to_have_value("97.13")
    page.get_by_label("Note:").fill("Check #1001 received")
    page.get_by_role("button", name="Yes, capture").click()

    expect(page.locator("ul.messagelist")).to_have_text("The payment of $97.13 has been captured successfully.")
    expect(page.locator(".payment-status")).to_have_text("Paid in full")
    expect(page.get_by_text("Check #1001 received", exact=True)).to_be_visible()  # the history row's note
    page.screenshot(path=screenshot_dir / "order-page.png", full_page=True)
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL
    capture = order.transactions.get(action=Action.CAPTURE)
    assert (capture.amount, capture.actor.username) == (Decimal("97.1300"), "sales")


def test_sales_cannot_open_integrations(page: Page, seeded) -> None:
    log_in(page, "sales", "paydesk-sales")
    expect(page.get_by_role("rowheader", name="Orders")).to_be_visible()
    expect(page.get_by_role("rowheader", name="Integrations")).to_have_count(0)
    for url in ["/admin/integrations/integration/", "/admin/integrations/integration/add/"]:
        response = page.goto(url)
        assert response is not None
        assert response.status == 403


def test_buyer_cannot_open_the_back_office(page: Page, seeded) -> None:
    log_in(page, "buyer@acme.example", "paydesk-buyer")
    expect(page.locator(".errornote")).to_contain_text("staff account")
    page.goto("/admin/orders/order/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/orders/order/"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_partial_capture_and_partial_refund_with_over_amounts_refused(
    page: Page, seeded, gateway_integration, fake_gateway, screenshot_dir: Path
) -> None:
    order = factories.OrderFactory(number="CARD-1")
    authorize(order, gateway_integration)
    log_in(page, "sales", "paydesk-sales")
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    expect(page.locator(".payment-status")).to_have_text("Payment authorized")

    page.get_by_role("link", name="Capture", exact=True).click()
    amount = page.get_by_label("Amount (USD):")
    expect(amount).to_have_value("100.00")
    before = ledger(order)
    amount.fill("150.00")
    page.get_by_role("button", name="Yes, capture").click()
    expect(page.locator("ul.messagelist")).to_have_text("The amount 150.00 USD exceeds the 100.00 USD available.")
    assert ledger(order) == before
    assert fake_gateway.calls["capture"] == 0

    page.get_by_label("Amount (USD):").fill("40.00")
    page.get_by_role("button", name="Yes, capture").click()
    expect(page.locator("ul.messagelist")).to_have_text("The payment of $40.00 has been captured successfully.")
    expect(page.locator(".payment-status")).to_have_text("Paid partially")
    page.screenshot(path=screenshot_dir / "order-page-partial-capture.png", full_page=True)

    page.locator("a.payment-operation.refund").click()
    expect(page.get_by_label("Amount (USD):")).to_have_value("40.00")
    before = ledger(order)
    page.get_by_label("Amount (USD):").fill("40.01")
    page.get_by_label("Reason:").select_option(label="Requested by customer")
    page.get_by_label("Note:").fill("Two boxes damaged")
    page.get_by_role("button", name="Yes, refund").click()
    expect(page.locator("ul.messagelist")).to_have_text("The amount 40.01 USD exceeds the 40.00 USD available.")
    assert ledger(order) == before

    page.get_by_label("Amount (USD):").fill("15.00")
    page.get_by_label("Note:").fill("Two boxes damaged")
    page.get_by_role("button", name="Yes, refund").click()
    expect(page.locator("ul.messagelist")).to_have_text("The refund of $15.00 has been made successfully.")
    expect(page.locator(".payment-status")).to_have_text("Refunded partially")
    refund = order.transactions.get(action=Action.REFUND)
    assert (refund.amount, refund.reason, refund.note) == (
        Decimal("15.0000"),
        "requested_by_customer",
        "Two boxes damaged",
    )
    assert fake_gateway.calls == {"authorize": 1, "capture": 1, "refund": 1}


SECRET = "sk_live_e2e_secret_9931"
ROTATED = "sk_live_e2e_rotated_5520"


def test_secrets_never_appear_in_pages_history_or_logs(
    page: Page, seeded, fake_gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pages: dict[str, str] = {}

    def keep(name: str) -> None:
        pages[name] = page.content()

    log_in(page, "admin", "paydesk-admin")
    page.goto("/admin/integrations/integration/add/")
    page.get_by_role("link", name="Fake gateway").click()
    page.get_by_label("Name:", exact=True).fill("Cards")
    page.get_by_label("Label (English):", exact=True).fill("Credit card")
    page.get_by_label("Login:").fill("merchant-1")
    page.get_by_label("API key:").fill(SECRET)
    page.get_by_label("Payment action:").select_option(label="Authorize only")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
    keep("change page after add")
    expect(page.get_by_text("Set; leave empty to keep it.")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("holds live credentials")  # live key, sandbox environment

    page.get_by_role("button", name="Check connection").click()
    expect(page.locator("ul.messagelist")).to_contain_text("works")
    keep("after check connection")

    page.get_by_label("API key:").fill(ROTATED)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    keep("change page after rotation")
    page.get_by_role("link", name="History").click()
    keep("history")
    page.goto("/admin/integrations/integration/")
    keep("list")
    page.goto("/admin/")
    keep("dashboard with recent actions")

    integration = Integration.objects.get(name="Cards")
    assert integration.secrets["api_key"] == ROTATED
    order = factories.OrderFactory()
    authorize(order, integration)
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    keep("order page")
    page.get_by_role("link", name="Capture", exact=True).click()
    keep("capture confirmation")
    page.get_by_role("button", name="Yes, capture").click()
    expect(page.locator("ul.messagelist")).to_contain_text("captured successfully")
    keep("order page after capture")

    history = " ".join(f"{e.object_repr} {e.change_message} {e.get_change_message()}" for e in LogEntry.objects.all())
    for secret in [SECRET, ROTATED]:
        for name, html in pages.items():
            assert secret not in html, name
        assert secret not in history
        assert secret not in caplog.text
    assert "Connection check of integration" in caplog.text  # the logs were captured from the live server


def test_dashboard(page: Page, seeded, gateway_integration, screenshot_dir: Path) -> None:
    authorize(factories.OrderFactory(customer=factories.CustomerFactory(name="Initech")), gateway_integration)
    declined = factories.OrderFactory(subtotal=Decimal("250.00"))
    payment_purchase(
        order_id=declined.pk,
        method=f"fakegw_{gateway_integration.pk}",
        key="declined-1",
        payment_data={"token": "tok_decline"},
    )
    sales = factories.UserFactory(username="sales2", password="pw-sales-2", staff=True)
    sales.groups.add(Group.objects.get(name=SALES))
    log_in(page, "sales2", "pw-sales-2")
    expect(page.get_by_role("heading", name="Orders by payment status")).to_be_visible()
    expect(page.locator("#payment-status-module")).to_contain_text("Paid in full")
    expect(page.locator("#payment-status-module")).to_contain_text("Pending payment")
    expect(page.get_by_role("heading", name="Authorizations awaiting capture (1)")).to_be_visible()
    expect(page.get_by_role("heading", name="Failed payments today (1)")).to_be_visible()
    page.screenshot(path=screenshot_dir / "dashboard.png", full_page=True)
