"""A worker keeps its database connection from task to task (Celery's Django fixup would otherwise close it before
and after each one: a new PostgreSQL connection per task), and closes it between tasks where Django closes a
request's: broken, left inside a transaction, or older than CONN_MAX_AGE."""

from __future__ import annotations

import time

import psycopg
import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import OperationalError, connection

from config.celery import app, close_old_database_connections
from payments.tasks import webhook_events_requeue_task

pytestmark = pytest.mark.django_db(transaction=True)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT 1")
        return int(cursor.fetchone()[0])


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("backend ids are PostgreSQL's; CI runs on it")


def test_the_fixup_keeps_the_connection_across_tasks(postgresql: None, settings) -> None:  # noqa: ANN001
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    connection.close()
    first = backend_pid()
    fixup = DjangoWorkerFixup(app)
    for _ in range(50):  # what the worker runs around 25 tasks: before and after each
        fixup.on_task_prerun(sender=webhook_events_requeue_task)
        close_old_database_connections()
        fixup.on_task_postrun(sender=webhook_events_requeue_task)
    assert backend_pid() == first


def test_a_connection_left_in_a_transaction_or_broken_is_closed_between_tasks(postgresql: None) -> None:
    first = backend_pid()
    connection.set_autocommit(False)  # a task that left its transaction open
    close_old_database_connections()
    second = backend_pid()
    assert second != first
    admin = connection.get_connection_params()  # the database ends the session under us (a restart, a failover)
    with psycopg.connect(**{k: v for k, v in admin.items() if k != "cursor_factory"}, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [second])
    with pytest.raises(OperationalError):  # the task that met it failed (and is retried)
        backend_pid()
    close_old_database_connections()
    assert backend_pid() not in (first, second)


def test_a_connection_older_than_its_max_age_is_closed_between_tasks(postgresql: None) -> None:
    first = backend_pid()
    connection.close_at = time.monotonic() - 1
    close_old_database_connections()
    assert backend_pid() != first


def test_a_task_run_eagerly_leaves_the_callers_connection_alone(postgresql: None) -> None:
    first = backend_pid()
    connection.close_at = time.monotonic() - 1  # would be closed between worker tasks

    class Eager:
        class request:  # noqa: N801 - the shape of a task's request
            is_eager = True

    close_old_database_connections(task=Eager())
    assert backend_pid() == first
