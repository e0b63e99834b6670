"""The receivers' cache after Redis lost its generation (a restart without persistence, an eviction): a change made
after that must still reach every process, so a rotated webhook secret is never verified against the old one."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from integrations.models import Integration
from integrations.receivers import GENERATION_KEY, integration_receiver, receivers_forget
from tests import factories


@pytest.mark.skipif(not settings.REDIS_URL, reason="the cache needs Redis to tell the processes of a change")
def test_a_change_after_redis_lost_the_generation_is_not_hidden_by_a_reused_generation(
    db: None, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    client = redis.Redis.from_url(settings.REDIS_URL)
    receivers_forget()
    client.delete(GENERATION_KEY)
    integration = Integration.objects.get(pk=factories.IntegrationFactory(name="Before").pk)
    with django_capture_on_commit_callbacks(execute=True):
        integration.save()  # some change: the generation Redis holds is now the first one again
    assert integration_receiver(integration.uuid)[0].name == "Before"  # cached under it in this process

    client.delete(GENERATION_KEY)  # Redis restarts empty
    other_process_copy = dict(__import__("integrations.receivers", fromlist=["_cached"])._cached)  # noqa: SLF001
    with django_capture_on_commit_callbacks(execute=True):
        integration.name = "After"  # e.g. a rotated webhook secret
        integration.save()
    # another web process did not see the save's signal: it still holds the copy made before
    __import__("integrations.receivers", fromlist=["_cached"])._cached.update(other_process_copy)  # noqa: SLF001

    assert integration_receiver(integration.uuid)[0].name == "After"
