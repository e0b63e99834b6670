"""State of the built-in provider simulators, shared by every provider's sandbox.

A sandbox runs inside the web process (and the worker, which delivers its webhooks), so what it knows must
live in the database, not in memory: simulated objects, stored idempotency keys with their first reply, switchable
faults, and a clock that tests can move forward.
"""

from __future__ import annotations

from django.db import models


class SimObject(models.Model):
    """One object a simulated provider keeps: a payment intent, a charge, a webhook endpoint, an event…"""

    provider = models.CharField(max_length=40)
    kind = models.CharField(max_length=40)
    object_id = models.CharField(max_length=255)
    #: the simulated merchant account the object belongs to (derived from the credentials), "" when shared
    account = models.CharField(max_length=64, blank=True, db_index=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "kind", "object_id"], name="sim_object_unique"),
        ]
        indexes = [models.Index(fields=["provider", "kind", "account"])]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.object_id}"


class SimIdempotencyKey(models.Model):
    """A request key a simulated provider has seen, with what the first request asked and was answered.

    `status_code` is null while the first request is still executing (a concurrent duplicate gets 409).
    """

    provider = models.CharField(max_length=40)
    account = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "account", "key"], name="sim_idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.key}"


class SimFault(models.Model):
    """A fault switched on for the next `remaining` matching calls (tests, demos of failure handling)."""

    class Kind(models.TextChoices):
        #: the call is carried out, then the answer is held back for `delay` seconds (the client times out)
        TIMEOUT = "timeout", "Timeout after processing"
        #: the call is not carried out and answered with HTTP 500
        ERROR_500 = "error_500", "HTTP 500, nothing done"
        #: the call is not carried out and answered with HTTP 503
        ERROR_503 = "error_503", "HTTP 503, nothing done"
        #: HTTP 200 with a body that is not the provider's format, nothing done
        MALFORMED = "malformed", "Malformed reply, nothing done"
        #: the call is carried out; the reply leaves out every optional field (where the provider's format has any)
        SPARSE = "sparse", "Reply without optional fields, after processing"

    provider = models.CharField(max_length=40)
    #: the provider's operation name ("capture", "refund" …) or "*" for any call
    operation = models.CharField(max_length=60, default="*")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    remaining = models.PositiveIntegerField(default=1)
    delay = models.FloatField(default=3.0, help_text="Seconds a timeout holds the answer back.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.provider} {self.operation}: {self.kind} ×{self.remaining}"


class SimClock(models.Model):
    """How far a provider's simulated clock runs ahead of the real one (advance_time)."""

    provider = models.CharField(max_length=40, unique=True)
    offset_seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.provider} +{self.offset_seconds}s"


class SimWebhookDelivery(models.Model):
    """A webhook a simulated provider sends to a merchant, retried by a Celery task until it gets a 2xx."""

    provider = models.CharField(max_length=40)
    event_id = models.CharField(max_length=255)
    url = models.URLField(max_length=500)
    body = models.TextField()
    #: dotted path of `sign(body: str, secret: str, now: int) -> dict[str, str]` giving the signature headers
    signer = models.CharField(max_length=200)
    secret = models.CharField(max_length=255)
    attempts = models.PositiveIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id} → {self.url}"
