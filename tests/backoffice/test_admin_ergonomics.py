"""Admin ergonomics: integration names in rule lists, currency and country choosers, a read-only order page without
Save buttons, actions a role cannot use hidden, and branded 403 and 404 pages for staff and buyers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from backoffice.roles import SALES
from payment_rules.models import PaymentRule, PaymentRuleMethod
from tests import factories
from tests.payment_rules.test_admin import ADD, form

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):  # noqa: ANN001, ANN201
    client.force_login(factories.UserFactory(superuser=True))
    return client


@pytest.fixture
def sales_client(client):  # noqa: ANN001, ANN201
    user = factories.UserFactory(username="sam", staff=True)
    user.groups.add(Group.objects.get(name=SALES))
    client.force_login(user)
    return client


def test_the_rule_list_names_integrations_not_method_ids(admin_client) -> None:  # noqa: ANN001
    checks = factories.IntegrationFactory(name="Checks by mail")
    gone = factories.IntegrationFactory(name="Old checks")
    rule = PaymentRule.objects.create(name="US", currency="USD")
    PaymentRuleMethod.objects.create(rule=rule, method=f"money_order_{checks.pk}", integration=checks)
    PaymentRuleMethod.objects.create(rule=rule, method=f"money_order_{gone.pk}", integration=None, enabled=False)

    html = admin_client.get("/admin/payment_rules/paymentrule/").content.decode()

    assert "Checks by mail" in html
    assert f"money_order_{checks.pk}" not in html
    assert f"money_order_{gone.pk} (integration deleted) (disabled)" in html


def test_the_rule_currency_is_chosen_and_a_typo_is_refused(admin_client) -> None:  # noqa: ANN001
    checks = factories.IntegrationFactory()
    page = admin_client.get(ADD).content.decode()
    assert '<select name="currency"' in page
    assert '<option value="USD">USD — US Dollar</option>' in page
    assert '<option value="KWD">KWD — Kuwaiti Dinar</option>' in page

    refused = admin_client.post(ADD, form(currency="UDS", **{"methods-0-method": f"money_order_{checks.pk}"}))

    assert refused.status_code == 200
    assert "Select a valid choice. UDS is not one of the available choices." in refused.content.decode()
    assert not PaymentRule.objects.exists()


def test_addresses_choose_a_country_and_products_a_currency(admin_client) -> None:  # noqa: ANN001
    address = factories.AddressFactory()

    address_page = admin_client.get(f"/admin/orders/address/{address.pk}/change/").content.decode()
    product_page = admin_client.get("/admin/checkout/product/add/").content.decode()

    assert '<select name="country"' in address_page
    assert '<option value="US" selected>United States (US)</option>' in address_page
    assert '<select name="currency"' in product_page
    assert '<option value="JPY">JPY — Yen</option>' in product_page


@pytest.mark.parametrize("who", ["admin", "sales"])
def test_the_order_page_has_no_save_buttons(request, who: str) -> None:  # noqa: ANN001
    client = request.getfixturevalue(f"{who}_client")
    order = factories.OrderFactory()

    html = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()

    assert 'name="_save"' not in html
    assert 'name="_continue"' not in html
    assert 'name="_addanother"' not in html
    assert "closelink" in html  # the one way out


def test_order_actions_follow_the_role(client) -> None:  # noqa: ANN001
    factories.OrderFactory()
    sales = factories.UserFactory(username="sam", staff=True)
    sales.groups.add(Group.objects.get(name=SALES))
    viewer = factories.UserFactory(username="viewer", staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_order"))

    client.force_login(sales)
    for_sales = client.get("/admin/orders/order/").content.decode()
    client.force_login(viewer)
    for_viewer = client.get("/admin/orders/order/").content.decode()

    assert 'value="mark_shipped"' in for_sales
    assert 'value="create_invoices"' not in for_sales  # Sales may not invoice
    assert 'value="mark_shipped"' not in for_viewer
    assert 'name="action"' not in for_viewer  # no action at all: no empty chooser either


def test_staff_get_the_back_office_403_and_404(sales_client) -> None:  # noqa: ANN001
    forbidden = sales_client.get("/admin/integrations/integration/")
    missing = sales_client.get("/admin/orders/order/999999/history/")

    for response, title in ((forbidden, "You may not open this page"), (missing, "Page not found")):
        html = response.content.decode()
        assert title in html
        assert "Paydesk back-office" in html
        assert "Paydesk Supply" not in html
    assert (forbidden.status_code, missing.status_code) == (403, 404)


def test_buyers_get_the_storefront_404_and_staff_in_the_shop_its_403(client) -> None:  # noqa: ANN001
    buyer = factories.CustomerUserFactory()
    client.force_login(buyer.user)
    missing = client.get("/account/orders/NOT-THERE/")
    client.force_login(factories.UserFactory(username="clerk", staff=True))
    forbidden = client.get("/cart/")

    assert (missing.status_code, forbidden.status_code) == (404, 403)
    for response, title in ((missing, "Page not found"), (forbidden, "You may not open this page")):
        html = response.content.decode()
        assert title in html
        assert "Paydesk Supply" in html
        assert "Paydesk back-office" not in html
    assert "Only customer accounts" not in forbidden.content.decode()  # no exception text reaches a page


def test_machine_callers_keep_plain_answers(client) -> None:  # noqa: ANN001
    response = client.get("/webhooks/not-a-uuid/")

    assert response.status_code == 404
    assert "Paydesk Supply" not in response.content.decode()
