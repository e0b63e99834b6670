"""The demo seed's Payflow integration: sandbox credentials that work, idempotent."""

from __future__ import annotations

import pytest

from demo.seed import payflow_integration_seed
from integrations.connection import integration_check_connection
from integrations.models import Integration


@pytest.mark.django_db(transaction=True)
def test_seeding_twice_keeps_one_payflow_integration_whose_credentials_the_sandbox_accepts(
    live_server, settings
) -> None:
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    payflow_integration_seed(admin=None)
    first = Integration.objects.get(provider_key="payflow")
    payflow_integration_seed(admin=None)
    again = Integration.objects.get(provider_key="payflow")
    assert (again.pk, again.secrets["password"], again.settings["vendor"]) == (
        first.pk,
        first.secrets["password"],
        first.settings["vendor"],
    )
    assert (again.environment, again.payment_action) == ("sandbox", "authorize")
    assert "works" in integration_check_connection(integration=again).message
