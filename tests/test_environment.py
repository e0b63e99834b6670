"""CI must exercise the real services, not silently fall back to the embedded defaults."""

import os

import pytest
from django.conf import settings
from django.db import connection


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="only CI promises PostgreSQL and Redis")
def test_ci_runs_on_postgresql_and_redis() -> None:
    assert connection.vendor == "postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def test_sqlite_default_serialises_writers() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL in use")
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
