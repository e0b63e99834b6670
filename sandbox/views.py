"""Admin hooks of the simulators (`/sandbox/__sim/…`), for tests and demos: reset, faults, clock.

Provider-specific hooks (settle, emit a webhook…) live in the provider's own sandbox under
`/sandbox/<provider>/__sim/…`. Every sandbox view answers 404 unless `settings.SANDBOX_ENABLED`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox.services import sim_advance_time, sim_fault_add, sim_faults_clear, sim_reset


def sandbox_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve a simulator view only where sandboxes are enabled (never in production); no CSRF, as an API."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not getattr(settings, "SANDBOX_ENABLED", False):
            raise Http404("Sandboxes are disabled")
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)


def _provider(request: HttpRequest) -> str:
    return request.POST.get("provider", "").strip()


@sandbox_view
@require_POST
def sim_reset_view(request: HttpRequest) -> JsonResponse:
    """POST provider=<key> (or nothing: all sandboxes)."""
    sim_reset(provider=_provider(request) or None)
    return JsonResponse({"reset": _provider(request) or "all"})


@sandbox_view
@require_POST
def sim_fault_view(request: HttpRequest) -> JsonResponse:
    """POST provider, kind (timeout|error_500|error_503|malformed|sparse), operation (default *), times, delay."""
    try:
        fault = sim_fault_add(
            provider=_provider(request),
            kind=request.POST.get("kind", ""),
            operation=request.POST.get("operation", "*") or "*",
            times=int(request.POST.get("times", "1")),
            delay=float(request.POST.get("delay", "3")),
        )
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(
        {
            "id": fault.pk,
            "provider": fault.provider,
            "operation": fault.operation,
            "kind": fault.kind,
            "remaining": fault.remaining,
            "delay": fault.delay,
        }
    )


@sandbox_view
@require_POST
def sim_faults_off_view(request: HttpRequest) -> JsonResponse:
    """POST provider: switch its faults off, keeping its objects and keys (unlike reset)."""
    return JsonResponse({"provider": _provider(request), "cleared": sim_faults_clear(provider=_provider(request))})


@sandbox_view
@require_POST
def sim_advance_time_view(request: HttpRequest) -> JsonResponse:
    """POST provider, seconds: move the provider's simulated clock forward (key pruning, expiry)."""
    try:
        seconds = float(request.POST.get("seconds", "0"))
    except ValueError:
        return JsonResponse({"error": "seconds must be a number"}, status=400)
    now = sim_advance_time(provider=_provider(request), seconds=seconds)
    return JsonResponse({"provider": _provider(request), "now": now.isoformat()})
