"""CI must exercise the real services, not silently fall back to the embedded defaults."""

import os
import subprocess
import sys

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


def test_a_developers_env_does_not_steer_the_suite() -> None:
    """`make install` writes a `.env` that pays the demo's invoices by OroPay; the suite's tests of card invoice
    payments must not pass on one machine and fail on a fresh one because of it."""
    probe = "import django; django.setup(); from django.conf import settings; print(settings.INVOICE_PAYMENT_METHOD)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "INVOICE_PAYMENT_METHOD": "oropay"}
    printed = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert printed.strip() == "stripe"
