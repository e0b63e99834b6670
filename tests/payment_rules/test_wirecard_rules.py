"""Wirecard's SEPA direct debit takes euros only: a rule in another currency cannot offer it (the reference's
payment-rule validator), while the card and PayPal methods of the same integration can."""

import pytest

from payment_rules.models import PaymentRule
from tests import factories
from tests.payment_rules.test_admin import ADD, admin_client, form  # noqa: F401 - admin_client is a fixture
from tests.wirecard_support import WIRECARD_SECRETS, WIRECARD_SETTINGS

pytestmark = pytest.mark.django_db


@pytest.fixture
def wirecard():  # noqa: ANN201
    return factories.IntegrationFactory(
        provider_key="wirecard", name="Wirecard", settings=dict(WIRECARD_SETTINGS), secrets=dict(WIRECARD_SECRETS)
    )


def test_a_usd_rule_cannot_offer_sepa(admin_client, wirecard) -> None:  # noqa: F811
    response = admin_client.post(ADD, form(**{"methods-0-method": f"wirecard_{wirecard.pk}_sepa"}))
    assert response.status_code == 200
    assert "Wirecard SEPA direct debit is not available for USD; it takes only EUR." in response.content.decode()
    assert PaymentRule.objects.count() == 0


@pytest.mark.parametrize(("currency", "suffix"), [("EUR", "_sepa"), ("USD", ""), ("USD", "_paypal")])
def test_sepa_in_euros_and_card_or_paypal_in_dollars_are_taken(admin_client, wirecard, currency, suffix) -> None:  # noqa: F811
    response = admin_client.post(
        ADD, form(currency=currency, **{"methods-0-method": f"wirecard_{wirecard.pk}{suffix}"})
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert PaymentRule.objects.get().methods.get().method == f"wirecard_{wirecard.pk}{suffix}"
