"""Reads about payments."""

from __future__ import annotations

from django.conf import settings

from integrations.adapters import integration_methods
from integrations.models import Integration
from providers.base import MethodInfo


def invoice_payment_method() -> tuple[Integration, MethodInfo]:
    """The method invoices are paid with: the first method of the first live integration of the provider
    named by settings.INVOICE_PAYMENT_METHOD. LookupError when there is none."""
    integration = Integration.objects.live().filter(provider_key=settings.INVOICE_PAYMENT_METHOD).order_by("pk").first()
    if integration is None:
        raise LookupError(f"No live integration of {settings.INVOICE_PAYMENT_METHOD!r} pays invoices")
    methods = integration_methods(integration)
    if not methods:
        raise LookupError(f"{integration} exposes no payment method")
    return integration, methods[0]
