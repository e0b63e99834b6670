"""An integration is one configured provider account: which provider, its credentials and labels."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse

from integrations.crypto import EncryptedJSONField, Secrets
from integrations.labels import localized
from providers import registry
from providers.base import Environment, IntegrationInfo, PaymentAction


class IntegrationQuerySet(models.QuerySet["Integration"]):
    def existing(self) -> IntegrationQuerySet:
        """Integrations not deleted. Deleted ones with payments stay as rows so old payments can be refunded."""
        return self.filter(deleted_at__isnull=True)

    def live(self) -> IntegrationQuerySet:
        """Integrations that take new payments."""
        return self.existing().filter(active=True)


class Integration(models.Model):
    class Environment(models.TextChoices):
        SANDBOX = Environment.SANDBOX.value, "Built-in sandbox"
        TEST = Environment.TEST.value, "Provider test"
        LIVE = Environment.LIVE.value, "Live"

    class PaymentAction(models.TextChoices):
        AUTHORIZE = PaymentAction.AUTHORIZE.value, "Authorize only"
        CHARGE = PaymentAction.CHARGE.value, "Authorize and capture"

    class CapturePolicy(models.TextChoices):
        MANUAL = "manual", "Manual (staff capture from the order page)"
        ON_SHIPMENT = "on_shipment", "When the order is marked shipped"
        AFTER_DELAY = "after_delay", "A number of hours after authorization"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider_key = models.CharField("type", max_length=40, choices=registry.provider_choices)
    name = models.CharField(max_length=200, help_text="Shown to administrators, e.g. in payment rules.")
    labels = models.JSONField(default=dict, blank=True, help_text="Checkout label per language code.")
    short_labels = models.JSONField(default=dict, blank=True, help_text="Order-page label per language code.")
    environment = models.CharField(max_length=10, choices=Environment.choices, default=Environment.SANDBOX)
    payment_action = models.CharField(max_length=10, choices=PaymentAction.choices, default=PaymentAction.CHARGE)
    capture_policy = models.CharField(
        max_length=12,
        choices=CapturePolicy.choices,
        default=CapturePolicy.MANUAL,
        help_text="For authorize-only integrations: when authorizations are captured.",
    )
    capture_delay_hours = models.PositiveIntegerField(
        default=24, help_text="Hours after authorization, with the delayed capture policy."
    )
    active = models.BooleanField(default=True)
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    settings = models.JSONField(default=dict, blank=True, help_text="The provider's non-secret settings.")
    secrets = EncryptedJSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = IntegrationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def provider_label(self) -> str:
        spec = registry.PROVIDERS.get(self.provider_key)
        return spec.label if spec else self.provider_key

    def label(self, language: str | None = None) -> str:
        return localized(self.labels, language) or self.name

    def short_label(self, language: str | None = None) -> str:
        return localized(self.short_labels, language) or self.label(language)

    def as_info(self) -> IntegrationInfo:
        return IntegrationInfo(
            id=self.pk,
            uuid=str(self.uuid),
            provider_key=self.provider_key,
            name=self.name,
            environment=Environment(self.environment),
            payment_action=PaymentAction(self.payment_action),
            labels=dict(self.labels),
            short_labels=dict(self.short_labels),
        )

    def get_webhook_url(self) -> str:
        """Where the provider sends this integration's events (shown to administrators, given to sandboxes)."""
        return settings.SITE_URL + reverse("webhook-receive", args=[self.uuid])

    def adapter_settings(self) -> dict[str, Any]:
        """Settings and decrypted secrets, for the adapter only."""
        return {**self.settings, **(self.secrets or Secrets())}


class ProviderCustomer(models.Model):
    """The buyer's company as a provider knows it (a Stripe Customer), per integration: what saved cards are
    attached to, so a payment method can be used again (re-authorization). Made by the adapter at the first
    payment that needs one; never shown to buyers."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="provider_customers")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    reference = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "customer"], name="provider_customer_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} at {self.integration_id}: {self.reference}"


class RejectedWebhook(models.Model):
    """A delivery to an integration's webhook URL that was refused (400) because its signature did not verify:
    when and why, for the integration page, so a wrong or missing signing secret is seen before payments go
    unrecorded. Nothing of the body is kept (it is unauthenticated), and only the last few per integration."""

    KEEP = 20

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reason = models.CharField(max_length=200)
    had_signature = models.BooleanField(help_text="Whether the request carried a signature header at all.")
    body_bytes = models.PositiveIntegerField()

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"Rejected webhook for {self.integration_id}: {self.reason}"
