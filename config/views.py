from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.http import require_GET, require_safe
from kombu.exceptions import OperationalError

from config.celery import app

logger = logging.getLogger(__name__)


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Database, broker and worker liveness, for operators and load balancers.

    503 when the database or the broker is down; "degraded" (200) when no worker answers a ping, since the
    site still takes payments and queued work waits for a worker. `?workers=0` skips the ping (fast readiness).
    """
    report: dict[str, object] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = "ok"
    except DatabaseError as exc:
        logger.error("Health: database unreachable: %s", type(exc).__name__)
        report["database"] = "down"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        report["broker"] = "ok"
    except (OperationalError, OSError) as exc:
        logger.error("Health: broker unreachable: %s", type(exc).__name__)
        report["broker"] = "down"
    if request.GET.get("workers") != "0" and report["broker"] == "ok":
        replies = app.control.ping(timeout=1.0) or []
        report["workers"] = sorted(name for reply in replies for name in reply)
    down = report["database"] != "ok" or report["broker"] != "ok"
    report["status"] = "down" if down else ("ok" if report.get("workers", True) else "degraded")
    return JsonResponse(report, status=503 if down else 200)


@require_safe
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """The site icon for pages that link none (JSON answers, Django's error pages, the simulators' pages).

    Browsers ask for /favicon.ico on every such page; without this each one logs a 404.
    """
    return HttpResponsePermanentRedirect(static("favicon.ico"))
