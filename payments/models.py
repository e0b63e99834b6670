"""The ledger: one row per payment transaction of an order, never updated by `+=` balances."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable
from typing import Any, Self

from django.conf import settings
from django.db import models
from django.db.models import Q

from payments.account import AccountRow
from payments.money import quantize
from payments.status import LedgerEntry
from providers.base import Money


class Action(models.TextChoices):
    VALIDATE = "validate", "Validate"
    AUTHORIZE = "authorize", "Authorize"
    RE_AUTHORIZE = "re_authorize", "Re-Authorize"
    CHARGE = "charge", "Charge"
    CAPTURE = "capture", "Capture"
    PURCHASE = "purchase", "Purchase"
    INVOICE = "invoice", "Invoice"
    PENDING = "pending", "Pending"
    CANCEL = "cancel", "Cancel"
    REFUND = "refund", "Refund"
    ACTIVATE = "activate", "Activate"
    SHIPMENT = "shipment", "Shipment"
    #: what a provider that takes one capture per authorization gave back with a partial capture: recorded, not
    #: requested (no call of its own), so the history shows where the uncaptured rest went
    RELEASE = "release", "Release"


class State(models.TextChoices):
    """Where a row stands. `successful`/`active` are the reference's flags; this says why."""

    #: Written before the provider is called; until the answer is recorded the outcome is unknown, and a
    #: row left here (timeout, 5xx, crash) is what reconcile asks the provider about.
    RESERVED = "reserved", "Awaiting provider"
    ACTION_REQUIRED = "action_required", "Awaiting buyer"
    PROCESSING = "processing", "Processing at provider"
    SUCCEEDED = "succeeded", "Succeeded"
    DECLINED = "declined", "Declined"


OPEN_STATES = (State.RESERVED, State.ACTION_REQUIRED, State.PROCESSING)


class PaymentTransaction(models.Model):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="transactions")
    #: set when the row pays an invoice of `order` (see orders.models.Invoice for how the two ledgers relate)
    invoice = models.ForeignKey(
        "orders.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="transactions"
    )
    source = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The authorization a capture or cancel acts on; the charge or capture a refund returns.",
    )
    integration = models.ForeignKey("integrations.Integration", on_delete=models.PROTECT, related_name="+")
    payment_method = models.CharField(max_length=80)
    action = models.CharField(max_length=16, choices=Action.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RESERVED, db_index=True)
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    currency = models.CharField(max_length=3)
    successful = models.BooleanField(default=False)
    active = models.BooleanField(default=False)
    provider_reference = models.CharField("reference code", max_length=255, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    #: hash of what the key was first used for; the same key with other terms is refused
    fingerprint = models.CharField(max_length=64, editable=False)
    request = models.JSONField(default=dict, blank=True, help_text="What we asked for (scrubbed).")
    response = models.JSONField(default=dict, blank=True, help_text="What the provider answered (scrubbed).")
    error_code = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    reason = models.CharField(max_length=64, blank=True)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: authorizations: when the hold lapses at the provider (its authorization_ttl_hours after success)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    expiry_warned_at = models.DateTimeField(null=True, blank=True)
    #: open rows: how often reconcile asked the provider, when it asks next, and whether staff must look
    reconcile_attempts = models.PositiveIntegerField(default=0)
    next_reconcile_at = models.DateTimeField(null=True, blank=True, db_index=True)
    needs_attention = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "action"])]
        permissions = [
            ("view_payment_history", "Can view payment history"),
            ("capture_payment", "Can capture payments"),
            ("cancel_payment", "Can cancel payment authorizations"),
            ("refund_payment", "Can refund payments"),
            ("invoice_payment", "Can send invoices for authorized payments"),
            ("resolve_payment", "Can resolve payments nobody could settle"),
            ("activate_payment", "Can activate invoice payments (invoice issued)"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="transaction_amount_not_negative"),
            models.CheckConstraint(
                condition=~Q(successful=True) | Q(state=State.SUCCEEDED), name="successful_means_succeeded"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.amount} {self.currency} ({self.get_state_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """What was written is what the row holds now: a later write of the changed columns leaves it alone."""
        super().save(*args, **kwargs)
        update_fields = kwargs.get("update_fields")
        if update_fields is None and self._read_values is None:
            self._read_values = {}  # made in memory, now written in full
        if self._read_values is not None:  # a row made in memory and written in part keeps counting all as changed
            self.remember_stored(None if update_fields is None else list(update_fields))

    #: the values the row was read with (attname -> value), None for a row not read from the database
    _read_values: dict[str, Any] | None = None

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any) -> Self:
        """Keep the values the row was read with, so a writer can write back only what it changed
        (`changed_columns`); JSON values are copied, so changing one in place still shows as a change."""
        instance = super().from_db(db, field_names, values, **kwargs)
        loaded = (value for value in values if value is not models.DEFERRED)  # a deferred column was not read
        instance._read_values = {
            name: copy.deepcopy(value) if isinstance(value, dict | list) else value
            for name, value in zip(field_names, loaded, strict=False)
        }
        return instance

    def refresh_from_db(
        self, using: str | None = None, fields: Iterable[str] | None = None, from_queryset: Any = None
    ) -> None:
        """What was read again is what the row was read with now (`changed_columns`)."""
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        self.remember_stored(None if fields is None else list(fields))

    def remember_stored(self, names: list[str] | None) -> None:
        """Take the row's current values of these fields (every loaded one for None) as what the database holds."""
        deferred = self.get_deferred_fields()
        attnames = (
            [f.attname for f in self._meta.concrete_fields if f.attname not in deferred]
            if names is None
            else [self._meta.get_field(name).attname for name in names]  # type: ignore[union-attr]
        )
        read = self._read_values if self._read_values is not None else {}
        for name in attnames:
            value = getattr(self, name)
            read[name] = copy.deepcopy(value) if isinstance(value, dict | list) else value
        self._read_values = read

    def changed_columns(self) -> list[str]:
        """The columns (attnames) whose value differs from what the row was read with: all of them for a row not
        read from the database. A column another writer set meanwhile and this copy did not change is not among
        them, so saving only these (`save(update_fields=…)`) leaves that writer's value in place."""
        read = self._read_values
        fields = [f for f in self._meta.concrete_fields if not f.primary_key]
        if read is None:
            return [f.attname for f in fields]
        return [
            f.attname
            for f in fields
            if (f.attname in read and getattr(self, f.attname) != read[f.attname])
            or (f.attname not in read and f.attname in self.__dict__)
        ]

    @property
    def money(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_clone(self) -> bool:
        """An authorization that only reuses a zero-amount validation (its source, same reference): nothing is
        held for it at the provider (status.py ignores it the same way)."""
        source = self.source
        return (
            source is not None
            and source.action == Action.VALIDATE
            and bool(self.provider_reference)
            and source.provider_reference == self.provider_reference
        )

    def as_entry(self) -> LedgerEntry:
        return LedgerEntry(
            id=self.pk,
            action=self.action,
            amount=self.amount,
            successful=self.successful,
            active=self.active,
            source_id=self.source_id,
            reference=self.provider_reference or None,
        )

    def as_account_row(self) -> AccountRow:
        """The row as the account reads it (`payments.account`): the same values `order_account_rows` selects."""
        return AccountRow(
            id=self.pk,
            action=self.action,
            state=self.state,
            amount=self.amount,
            successful=self.successful,
            active=self.active,
            source_id=self.source_id,
            invoice_id=self.invoice_id,
            reference=self.provider_reference or None,
        )


class ScheduledCapture(models.Model):
    """A capture due at a time (N hours after authorization, or when the order ships), swept by beat.

    Rows, not long countdowns in the broker: they survive restarts and broker visibility timeouts.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Due"
        ENQUEUED = "enqueued", "Sent to a worker"
        DONE = "done", "Captured"
        SKIPPED = "skipped", "Nothing left to capture"
        FAILED = "failed", "Failed"

    authorization = models.OneToOneField(PaymentTransaction, on_delete=models.CASCADE, related_name="scheduled_capture")
    due_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    capture = models.ForeignKey(PaymentTransaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]

    def __str__(self) -> str:
        return f"Capture of {self.authorization_id} due {self.due_at:%Y-%m-%d %H:%M} ({self.get_state_display()})"


class WebhookEvent(models.Model):
    """The webhook inbox: one row per (integration, provider event id), stored before it is processed.

    Only events whose signature verified get here. Processing is idempotent and may run more than once
    (a redelivered task); `status` and `result` say what the last run did.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        #: its payment is not known yet (our answer was lost, or the event overtook it): applied once it is
        WAITING = "waiting", "Waiting for its payment"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey("integrations.Integration", on_delete=models.CASCADE, related_name="+")
    provider_event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    provider_reference = models.CharField(max_length=255, blank=True, db_index=True)
    #: the idempotency key of the request that made the event's payment, where the provider carries it
    payment_key = models.CharField(max_length=255, blank=True, db_index=True)
    event = models.JSONField(help_text="The normalised event (providers.base.WebhookEvent.as_dict).")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    result = models.TextField(blank=True, help_text="What processing did, for the back-office.")
    #: runs that started (a run killed on the way never says it ended: `attempts - transient_failures` are those)
    attempts = models.PositiveIntegerField(default=0)
    #: runs that ended because the provider could not be reached (an outage): tried again, never given up for it
    transient_failures = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    #: when the inbox sweep last sent it to the workers again (None: only the receiving request did, if it could),
    #: or, after a run that found the provider unreachable, the latest its task's own retry is due
    enqueued_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "provider_event_id"], name="webhook_event_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.provider_event_id}"
