"""`manage.py check --deploy` warns while the provider simulators are served."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def sandbox_disabled_in_production(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if getattr(settings, "SANDBOX_ENABLED", False):
        return [
            Warning(
                "SANDBOX_ENABLED is true: the built-in provider simulators are served under /sandbox/.",
                hint="Set SANDBOX_ENABLED=false in production.",
                id="sandbox.W001",
            )
        ]
    return []
