"""The integration page: check connection, credential/environment warning, webhook URL, list columns."""

import logging

import pytest
from django.contrib.auth.models import Group

from backoffice.roles import SALES
from integrations.connection import integration_credential_warning
from integrations.models import Integration
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):  # noqa: ANN001, ANN201 - overrides pytest-django's: an Administrators member
    from backoffice.roles import ADMINISTRATORS

    user = factories.UserFactory(username="ada", staff=True)
    user.groups.add(Group.objects.get(name=ADMINISTRATORS))
    client.force_login(user)
    return client


def change_url(integration: Integration) -> str:
    return f"/admin/integrations/integration/{integration.pk}/change/"


def check_url(integration: Integration) -> str:
    return f"/admin/integrations/integration/{integration.pk}/check-connection/"


def messages_of(response) -> list[str]:  # noqa: ANN001
    return [str(m) for m in response.context["messages"]]


def test_check_connection_shows_the_providers_answer(admin_client, gateway_integration, caplog) -> None:
    page = admin_client.get(change_url(gateway_integration)).content.decode()
    assert "Check connection" in page

    with caplog.at_level(logging.INFO):
        response = admin_client.post(check_url(gateway_integration), follow=True)
    assert response.redirect_chain[-1][0] == change_url(gateway_integration)
    assert messages_of(response) == ["The connection to Fake gateway works (Built-in sandbox). Merchant account found."]
    assert "sk_live_supersecret_4711" not in caplog.text


def test_check_connection_reports_rejected_credentials(admin_client, gateway_integration) -> None:
    gateway_integration.secrets = {"api_key": "sk_test_rejected"}
    gateway_integration.save()
    response = admin_client.post(check_url(gateway_integration), follow=True)
    assert messages_of(response) == [
        "The provider rejected the credentials (Built-in sandbox): the gateway answered 401: invalid API key"
    ]


def test_check_connection_says_when_there_is_nothing_to_call(admin_client) -> None:
    integration = factories.IntegrationFactory()
    response = admin_client.post(check_url(integration), follow=True)
    assert messages_of(response) == ["Check / Money Order has no provider to call; there is nothing to check."]


def test_check_connection_is_a_post_and_needs_change_permission(client, gateway_integration) -> None:
    sales = factories.UserFactory(username="sam", staff=True)
    sales.groups.add(Group.objects.get(name=SALES))
    client.force_login(sales)
    assert client.post(check_url(gateway_integration)).status_code == 403
    client.force_login(factories.UserFactory(superuser=True))
    assert client.get(check_url(gateway_integration)).status_code == 405


@pytest.mark.parametrize(
    ("environment", "api_key", "warned"),
    [
        ("sandbox", "sk_live_supersecret_4711", "holds live credentials"),
        ("test", "sk_live_supersecret_4711", "holds live credentials"),
        ("live", "sk_test_abc", "live but holds test credentials"),
        ("live", "sk_live_abc", ""),
        ("sandbox", "sk_test_abc", ""),
        ("live", "no-prefix", ""),
    ],
)
def test_credential_warning_follows_the_providers_hook(gateway_integration, environment, api_key, warned) -> None:
    gateway_integration.environment = environment
    gateway_integration.secrets = {"api_key": api_key}
    warning = integration_credential_warning(integration=gateway_integration)
    assert (warned in warning) if warned else warning == ""


def test_providers_without_the_hook_never_warn() -> None:
    integration = factories.IntegrationFactory(environment="live")
    assert integration_credential_warning(integration=integration) == ""


def test_change_page_shows_the_warning_banner_and_list_flags_it(admin_client, gateway_integration) -> None:
    page = admin_client.get(change_url(gateway_integration)).content.decode()
    assert "holds live credentials" in page
    assert "sk_live_supersecret_4711" not in page
    listing = admin_client.get("/admin/integrations/integration/").content.decode()
    assert "⚠ mismatch" in listing


def test_webhook_url_is_shown_only_for_providers_that_send_webhooks(
    admin_client, gateway_integration, settings
) -> None:
    assert "Webhook URL" not in admin_client.get(change_url(gateway_integration)).content.decode()
    settings.SITE_URL = "https://shop.example"
    stripe = factories.IntegrationFactory(
        provider_key="stripe", settings={}, secrets={"secret_key": "sk_test_demo1234"}
    )
    page = admin_client.get(change_url(stripe)).content.decode()
    assert "Webhook URL" in page
    assert f"https://shop.example/webhooks/{stripe.uuid}/" in page


def test_the_stripe_page_says_which_events_to_send_and_the_endpoint_version(admin_client) -> None:
    stripe = factories.IntegrationFactory(
        provider_key="stripe", settings={}, secrets={"secret_key": "sk_test_demo1234"}
    )
    page = admin_client.get(change_url(stripe)).content.decode()
    for event in (
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.refunded",
        "refund.created",
        "refund.updated",
        "charge.refund.updated",
    ):
        assert f"<code>{event}</code>" in page
    assert "Endpoint API version" in page
    assert "<code>2026-10-28.endive</code>" in page


def test_list_shows_type_name_environment_active_owner_and_filters(admin_client) -> None:
    owner = factories.UserFactory(username="owner")
    factories.IntegrationFactory(name="Checks", default_owner=owner)
    factories.IntegrationFactory(payment_term=True, environment="live", active=False)
    page = admin_client.get("/admin/integrations/integration/").content.decode()
    for text in ["Check / Money Order", "Checks", "Built-in sandbox", "owner", "Payment Terms"]:
        assert text in page
    filtered = admin_client.get("/admin/integrations/integration/?environment__exact=live").content.decode()
    assert "Checks" not in filtered
    assert "Payment Terms" in filtered
