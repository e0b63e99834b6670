"""The Celery app: Redis when REDIS_URL is set, a local filesystem transport otherwise (see settings)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("paydesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
