"""Webhook receivers: the integration behind an address is cached per process and read afresh after a change;
the rate limit of a provider account is a token bucket shared through Redis."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from integrations import ratelimits
from integrations.models import Integration
from integrations.receivers import integration_receiver, receivers_forget
from tests import factories


@pytest.fixture
def fresh() -> None:
    receivers_forget()


@pytest.mark.skipif(not settings.REDIS_URL, reason="the cache needs Redis to tell the processes of a change")
def test_a_changed_integration_is_read_afresh_by_the_next_event(
    db: None, fresh: None, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    integration = Integration.objects.get(pk=factories.IntegrationFactory(name="Before").pk)
    cached, _ = integration_receiver(integration.uuid)
    assert integration_receiver(integration.uuid)[0] is cached  # the second event reads nothing

    with django_capture_on_commit_callbacks(execute=True):
        integration.name = "After"
        integration.save()

    assert integration_receiver(integration.uuid)[0].name == "After"


def test_an_unknown_address_has_no_receiver(db: None, fresh: None) -> None:
    assert integration_receiver(factories.IntegrationFactory.build().uuid) is None


@pytest.mark.skipif(not settings.REDIS_URL, reason="the bucket lives in Redis")
def test_the_bucket_gives_a_second_of_tokens_then_makes_the_caller_wait() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = "paydesk:ratelimit:test-bucket"
    client.delete(key)
    take = ratelimits._script(client)
    at = 1_000_000.0
    waits = [float(take(keys=[key], args=[5, 5, at])) for _ in range(6)]
    later = float(take(keys=[key], args=[5, 5, at + 0.2]))  # a fifth of a second refills one token
    client.delete(key)
    assert waits[:5] == [0.0] * 5
    assert waits[5] == pytest.approx(0.2)
    assert later == 0.0


def test_the_sandbox_keeps_no_limit_unless_configured_and_stripe_keeps_its_documented_ones(
    db: None,
    settings,  # noqa: ANN001
) -> None:
    settings.SANDBOX_RATE_LIMIT = 0.0
    sandbox = factories.IntegrationFactory.build(provider_key="stripe", environment=Integration.Environment.SANDBOX)
    test = factories.IntegrationFactory.build(provider_key="stripe", environment=Integration.Environment.TEST)
    live = factories.IntegrationFactory.build(provider_key="stripe", environment=Integration.Environment.LIVE)
    assert (ratelimits.rate_limit_of(sandbox), ratelimits.rate_limit_of(test), ratelimits.rate_limit_of(live)) == (
        None,
        25.0,
        100.0,
    )


def test_method_labels_of_a_page_cost_one_query_however_many_methods(db: None, django_assert_num_queries) -> None:  # noqa: ANN001
    from integrations.selectors import method_short_labels

    money_orders = [factories.IntegrationFactory(name=f"Cheque {n}") for n in range(3)]
    identifiers = [f"money_order_{i.pk}" for i in money_orders] + ["money_order_999999", "nonsense"]
    with django_assert_num_queries(1):
        labels = method_short_labels(identifiers)
    assert labels["money_order_999999"] == "money_order_999999"
    assert labels["nonsense"] == "nonsense"
    assert all(labels[f"money_order_{i.pk}"] != f"money_order_{i.pk}" for i in money_orders)
