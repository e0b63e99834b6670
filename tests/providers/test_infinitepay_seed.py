"""The demo seed's InfinitePay integration, customer and rule: credentials the sandbox takes, idempotent."""

from __future__ import annotations

import pytest

from customers.models import Customer
from demo.seed import infinitepay_integration_seed, seed_demo
from integrations.models import Integration
from payment_rules.models import PaymentRule
from payments import services
from payments.models import State
from tests.infinitepay_support import DEBTOR, german_order


@pytest.mark.django_db
def test_seeding_twice_keeps_one_integration_with_the_same_credentials() -> None:
    infinitepay_integration_seed(admin=None)
    first = Integration.objects.get(provider_key="infinitepay")
    infinitepay_integration_seed(admin=None)
    again = Integration.objects.get(provider_key="infinitepay")
    assert (again.pk, again.secrets["secret"]) == (first.pk, first.secrets["secret"])
    assert (again.environment, again.settings["invoice_due_period"]) == ("sandbox", 30)


@pytest.mark.django_db(transaction=True)
def test_the_seed_offers_infinitepay_to_a_german_company_with_a_vat_id(live_server, settings) -> None:
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    seed_demo()
    integration = Integration.objects.get(provider_key="infinitepay")
    rule = PaymentRule.objects.get(name="Invoice by InfinitePay for Germany (EUR)")
    assert (rule.currency, [d.country for d in rule.destinations.all()]) == ("EUR", ["DE"])
    acme = Customer.objects.get(name="ACME Industrial")
    assert acme.vat_id == "DE136695976"
    order = german_order(vat_id=acme.vat_id)
    auth = services.payment_purchase(
        order_id=order.pk, method=f"infinitepay_{integration.pk}", key="demo-reserve", payment_data=dict(DEBTOR)
    )
    assert auth.state == State.SUCCEEDED
