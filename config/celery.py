"""The Celery app: Redis when REDIS_URL is set, a local filesystem transport otherwise (see settings)."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("paydesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task: Any = None, **kwargs: Any) -> None:
    """Between tasks, what Django does between requests: close a connection that is broken, was left inside a
    transaction, or is older than CONN_MAX_AGE (a connection kept under CELERY_DB_REUSE_MAX is otherwise never
    checked). Not for a task run eagerly inside a caller's transaction (tests)."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
