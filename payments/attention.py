"""What staff can do with a payment nobody could settle automatically (`needs_attention`, after reconcile gave up).

Two ways out, both offered on the order page: end the attempt at the provider ("Cancel the hold": a hold that
exists is released through the ordinary cancel, an attempt still waiting there is canceled), or record what staff
found in the provider's dashboard ("Mark resolved"). Either way the row is final and the flag and its notice close.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from integrations.adapters import adapter_for
from notifications.models import Notice
from payments.exceptions import PaymentRefused
from payments.ledger import follow_up_request, ledger_record, lock_order, status_request
from payments.models import Action, PaymentTransaction
from payments.services import payment_cancel
from providers.base import (
    Capability,
    ErrorCode,
    Outcome,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
)

RELEASABLE = (Action.AUTHORIZE, Action.CHARGE)


def attention_releasable(txn: PaymentTransaction) -> bool:
    """A flagged purchase the provider knows (it has its reference) and can cancel."""
    return bool(txn.needs_attention and txn.is_open and txn.provider_reference and txn.action in RELEASABLE)


def payment_attention_resolve(
    *, transaction_id: int, outcome: str, reference: str = "", actor: User | None, note: str
) -> PaymentTransaction:
    """Record what staff found at the provider: the payment went through (with its reference) or no money moved."""
    txn = _flagged(transaction_id)
    reference = reference.strip() or txn.provider_reference
    if outcome == "succeeded" and not reference:
        raise PaymentRefused("reference_required", "Give the provider's reference of the payment that went through.")
    result = ProviderResult(
        Outcome.SUCCEEDED if outcome == "succeeded" else Outcome.DECLINED,
        reference or None,
        txn.money,
        error_code=None if outcome == "succeeded" else ErrorCode.RESOLVED_NO_MONEY_MOVED,
        message="Resolved by staff after checking the provider: "
        + ("the payment went through." if outcome == "succeeded" else "no money moved."),
        raw={"resolved_by": actor.get_username() if actor else "", "note": note},
    )
    return _close(txn, result, actor=actor, note=note)


def payment_attention_release(*, transaction_id: int, key: str, actor: User | None, note: str) -> PaymentTransaction:
    """End a flagged attempt at the provider. Returns the cancel row when a hold existed, else the purchase row.

    The provider is asked first: a hold that exists is recorded and released through `payment_cancel` (three
    steps, keyed); an attempt still waiting there (for the buyer, or processing) is canceled with `key` and
    recorded as declined; one that had failed is recorded so.
    """
    txn = _flagged(transaction_id)
    if not attention_releasable(txn):
        raise PaymentRefused("not_releasable", "The provider's reference of this payment is not known.")
    adapter = adapter_for(txn.integration)
    if not (adapter.supports(Capability.CANCEL) and adapter.supports(Capability.FETCH_STATUS)):
        raise PaymentRefused("not_releasable", "This provider cannot cancel a payment from here.")
    try:
        found = adapter.fetch_status(status_request(txn))
    except (ProviderUnavailable, ProviderMisconfigured) as exc:
        raise PaymentRefused("provider_unavailable", "The payment provider cannot be reached; try again.") from exc
    if found.outcome == Outcome.SUCCEEDED:
        recorded = _close(txn, found, actor=actor, note=note)
        if recorded.action != Action.AUTHORIZE:
            return recorded  # the money was taken after all: it is recorded; a refund gives it back
        return payment_cancel(source_id=recorded.pk, key=key, actor=actor, note=note, reason="abandoned")
    if found.outcome == Outcome.DECLINED:
        return _close(txn, found, actor=actor, note=note)
    request = follow_up_request(txn, txn, key=key, reason="abandoned", validation_only=False)
    try:
        canceled = adapter.cancel(request)
    except (ProviderUnavailable, ProviderMisconfigured) as exc:
        raise PaymentRefused("provider_unavailable", "The payment provider cannot be reached; try again.") from exc
    if canceled.outcome != Outcome.SUCCEEDED:
        raise PaymentRefused("not_canceled", f"The provider did not cancel the payment: {canceled.message}")
    ended = ProviderResult(
        Outcome.DECLINED,
        txn.provider_reference,
        txn.money,
        error_code=ErrorCode.CANCELED,
        message="Canceled at the provider by staff before it completed.",
        raw=dict(canceled.raw),
    )
    return _close(txn, ended, actor=actor, note=note)


def _flagged(transaction_id: int) -> PaymentTransaction:
    txn = PaymentTransaction.objects.select_related("integration", "order").filter(pk=transaction_id).first()
    if txn is None or not (txn.needs_attention and txn.is_open):
        raise PaymentRefused("not_flagged", "This payment is not waiting for staff.")
    return txn


def _close(txn: PaymentTransaction, result: ProviderResult, *, actor: User | None, note: str) -> PaymentTransaction:
    """Record the outcome under the order lock, clear the flag and close the notice that asked staff to look."""
    with transaction.atomic():
        lock_order(order_id=txn.order_id)
        recorded = ledger_record(transaction_id=txn.pk, result=result)
        text = f"{recorded.note}\n{note}".strip() if note else recorded.note
        PaymentTransaction.objects.filter(pk=txn.pk).update(needs_attention=False, note=text)
        Notice.objects.filter(key=f"unsettled:{txn.pk}", resolved_at__isnull=True).update(resolved_at=timezone.now())
    recorded.refresh_from_db()
    return recorded
