"""Outbound payment-status notifications: endpoints an ERP subscribes, and each delivery to them."""

from __future__ import annotations

import uuid

from django.db import models

from integrations.crypto import EncryptedJSONField


class Endpoint(models.Model):
    """A URL that receives a signed POST whenever an order's payment status changes."""

    name = models.CharField(max_length=200)
    url = models.URLField(max_length=500)
    active = models.BooleanField(default=True)
    secrets = EncryptedJSONField(default=dict, blank=True, editable=False)  # {"signing_secret": "..."}
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def signing_secret(self) -> str:
        return self.secrets.get("signing_secret", "") if self.secrets else ""


class Delivery(models.Model):
    """One notification for one endpoint, retried until it is accepted or the attempts run out."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=100)
    #: one delivery per endpoint and status change, however often the change is recorded
    dedupe_key = models.CharField(max_length=200)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["endpoint", "dedupe_key"], name="one_delivery_per_change")]

    def __str__(self) -> str:
        return f"{self.topic} → {self.endpoint} ({self.get_status_display()})"


class Notice(models.Model):
    """Something staff must look at (an authorization about to lapse, a payment nobody could settle),
    shown on the back-office dashboard until someone marks it done."""

    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Needs action"

    level = models.CharField(max_length=10, choices=Level.choices, default=Level.WARNING)
    message = models.TextField()
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    #: one notice per cause (e.g. "expiry-warning:<transaction id>"), however often a sweep runs
    key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.message


class BuyerEmail(models.Model):
    """One e-mail to the buyer of an order, written (in the transaction of the change that causes it) before it
    is sent and marked sent after, so a retried task or a replayed webhook never sends it twice."""

    class Kind(models.TextChoices):
        ORDER_CONFIRMATION = "order_confirmation", "Order confirmation"
        PAYMENT_RECEIPT = "payment_receipt", "Payment receipt"
        REFUND_NOTICE = "refund_notice", "Refund notice"
        INVOICE_ISSUED = "invoice_issued", "Invoice issued"
        INVOICE_PAID = "invoice_paid", "Invoice paid"
        PAYMENT_FAILED = "payment_failed", "Payment failed"

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="buyer_emails")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    #: what the e-mail is about within the order: "txn:<id>", "invoice:<id>", or "" for the order itself
    key = models.CharField(max_length=40, blank=True)
    recipient = models.EmailField(blank=True)  # the buyer's address when it was sent
    language = models.CharField(max_length=10)
    context = models.JSONField(default=dict, blank=True)  # amounts as strings, labels: what the text shows
    subject = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    #: how often the resend sweep enqueued it again, and when last (rows the broker could not take at first);
    #: one more than the sweep's limit once it gave up and left the e-mail to staff
    resends = models.PositiveSmallIntegerField(default=0)
    resent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "kind", "key"], name="one_buyer_email_per_cause")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient}"
