"""Payments the buyer gave up: ending them at the provider, and giving back what one took anyway.

A buyer may leave a 3-D Secure challenge or a hosted payment page and pay another way. The purchase left behind
must not take money any more, so `payment_abandon` asks the provider to end it, in the three steps of every
movement: mark the row abandoned under the order lock, call the provider with a key of its own, record the
answer. Stripe cancels the PaymentIntent; a PayPal Express token ends by itself (PayPal takes nothing until we
complete it, which we no longer do); a Payflow secure token cannot be revoked and stays usable until it expires,
so its row stays open for reconcile.

If the given-up payment completes all the same (a late webhook, the buyer finishing the old page before it
expired, a cancel that never reached the provider), the ledger records it like any other answer: money that
moved is never hidden. Its order is one the buyer no longer sees (`Order.discarded_at`), so `order_release`
then gives the money back (an open authorization is canceled, a charge refunded, each keyed `release:<row>`)
and tells staff; what cannot be given back automatically is flagged for them.

A provider that makes its object only when the buyer accepts (Apruve's order, accepted in the lightbox) may make
one after the payment was ended: the buyer closed the lightbox in one tab and accepted in another a moment later.
The ended payment stays ended (the buyer was told so), and what the provider holds for it is released instead
(`late_acceptance_release`): whichever reports the object first, the browser's return page or the provider's
event, writes a cancel of it under the order lock, keyed `late-release:<payment row>:<the object's reference>`, before
the provider is asked; the others find that row. A lost answer leaves the row open for reconcile.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q

from integrations.adapters import adapter_for
from notifications.models import Notice
from notifications.services import notice_raise
from orders.models import Order, PaymentStatus
from payments.exceptions import PaymentRefused
from payments.ledger import (
    LATE_RELEASE,
    MONEY_IN_ACTIONS,
    PURCHASE_ACTIONS,
    capturable_amount,
    follow_up_request,
    late_released,
    ledger_record,
    lock_order,
    refundable_amount,
    replay,
    request_fingerprint,
    reserve_child,
    status_request,
)
from payments.models import OPEN_STATES, Action, PaymentTransaction, State
from payments.services import payment_cancel, payment_complete, payment_refund
from providers.base import (
    Capability,
    ErrorCode,
    Outcome,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    UnsupportedOperation,
)

logger = logging.getLogger(__name__)

#: `reason` of a purchase the buyer left for another one, and `error_code` once it is ended
ABANDONED = "abandoned"
#: payment statuses of an order that holds or took money
HOLDING_STATUSES = (
    PaymentStatus.FULL,
    PaymentStatus.PARTIALLY,
    PaymentStatus.AUTHORIZED,
    PaymentStatus.AUTHORIZED_PARTIALLY,
)


def payment_abandon(*, transaction_id: int) -> PaymentTransaction:
    """End a purchase that waits for the buyer (`action_required`) because the buyer went another way.

    Returns the row: declined with `error_code="abandoned"` once the provider ended it; still open when the
    provider could not be reached or cannot end it (reconcile asks again, and `order_release` gives back a late
    success); succeeded when the buyer completed it before it could be ended (the caller keeps that payment).
    Safe to repeat: the provider call carries the key `<purchase key>:abandon`.
    """
    order_id = PaymentTransaction.objects.values_list("order_id", flat=True).get(pk=transaction_id)
    with transaction.atomic():  # 1. our intent is on the row before the provider is asked
        lock_order(order_id=order_id)
        txn = PaymentTransaction.objects.select_related("integration", "order", "invoice").get(pk=transaction_id)
        if txn.state != State.ACTION_REQUIRED or txn.action not in MONEY_IN_ACTIONS:
            return txn
        if txn.reason != ABANDONED:
            txn.reason = ABANDONED
            txn.save(update_fields=["reason", "updated_at"])
    adapter = adapter_for(txn.integration)
    # our order (or invoice) number: a provider that makes its object only when the buyer accepts (Apruve) finds
    # one accepted in another tab by it, where the row has no reference yet
    number = txn.invoice.number if txn.invoice_id is not None and txn.invoice else txn.order.number
    request = follow_up_request(
        txn,
        txn,
        key=f"{txn.idempotency_key}:abandon",
        reason=ABANDONED,
        validation_only=False,
        # objects released for payments ended before (`late_released`) are not this one's to wait for
        options={"reference": number, "released": sorted(late_released(txn.integration.provider_key))},
    )
    try:  # 2. no transaction open
        result = adapter.abandon(request)
    except (ProviderUnavailable, ProviderMisconfigured, UnsupportedOperation) as exc:
        logger.warning("Could not end abandoned payment %s of order %s: %s", txn.pk, txn.order_id, exc)
        return txn
    if result.outcome == Outcome.SUCCEEDED:  # 3. it can no longer take money
        ended = ledger_record(
            transaction_id=txn.pk,
            result=ProviderResult(
                Outcome.DECLINED,
                result.provider_reference or txn.provider_reference or None,
                txn.money,
                error_code=ErrorCode.ABANDONED,
                message="The buyer left this payment to pay another way; it was ended at the provider.",
                raw=result.raw,
            ),
            adapter=adapter,
        )
        if ended.state == State.SUCCEEDED and ended.action == Action.AUTHORIZE and ended.active:
            _record_released_hold(ended, request.idempotency_key, result)
            ended.refresh_from_db()
        elif ended.state == State.DECLINED and not ended.provider_reference:
            # the buyer may have accepted in another tab just after the provider was asked: the object's event,
            # come while the payment still waited, waits for it; it applies now (the object is released)
            from payments.webhook_services import webhook_events_release  # it builds on this module

            webhook_events_release(integration_id=txn.integration_id, references=(), numbers=[number])
        return ended
    if result.outcome == Outcome.PENDING:
        logger.info("Abandoned payment %s of order %s stays open: %s", txn.pk, txn.order_id, result.message)
        return txn
    return payment_complete(transaction_id=txn.pk)  # not ended: it may have completed meanwhile; read it back


def _record_released_hold(authorization: PaymentTransaction, key: str, result: ProviderResult) -> None:
    """The buyer completed the payment just before the provider ended it: it was authorized, and ending it
    released the hold (Stripe cancels a PaymentIntent awaiting capture). The ledger records that cancel, so the
    order does not read "authorized" for money that is no longer held."""
    with transaction.atomic():
        lock_order(order_id=authorization.order_id)
        source = PaymentTransaction.objects.select_related("integration", "order").get(pk=authorization.pk)
        if not source.active or capturable_amount(source) <= 0:
            return
        release = reserve_child(
            source,
            Action.CANCEL,
            source.money,
            key=key,
            fingerprint=request_fingerprint("cancel", source.pk),
            actor=None,
            note="Released when the buyer left this payment to pay another way.",
            reason=ABANDONED,
        )
    ledger_record(
        transaction_id=release.pk,
        result=ProviderResult(Outcome.SUCCEEDED, result.provider_reference, source.money, raw=result.raw),
    )


def order_release(*, order_id: int) -> list[PaymentTransaction]:
    """Give back what the purchase of a given-up order holds or took: cancel its open authorization, refund its
    charge. Staff are told either way; what cannot be given back automatically asks them to act.

    Only the order's own purchase rows are released, never a capture or refund someone made deliberately.
    Safe to repeat: every release carries the key `release:<row id>`, and a sweep runs it again.
    """
    order = Order.objects.get(pk=order_id)
    if order.discarded_at is None:
        return []
    purchases = order.transactions.filter(action__in=MONEY_IN_ACTIONS, successful=True).select_related("integration")
    released = []
    for purchase in purchases.order_by("pk"):
        note = "Released automatically: the buyer gave up this checkout attempt and paid another way."
        try:
            if purchase.action == Action.AUTHORIZE:
                if not purchase.active or capturable_amount(purchase) <= 0:
                    continue
                row = payment_cancel(source_id=purchase.pk, key=_release_key(purchase), note=note, reason=ABANDONED)
            else:
                if refundable_amount(purchase) <= 0:
                    continue
                row = payment_refund(
                    source_id=purchase.pk, amount=None, key=_release_key(purchase), note=note, reason="duplicate"
                )
        except PaymentRefused as refused:
            _release_failed(order, purchase, refused.message)
            continue
        released.append(row)
        if row.state == State.SUCCEEDED:
            verb = "canceled" if row.action == Action.CANCEL else "refunded"
            notice_raise(
                key=f"released:{purchase.pk}",
                order=order,
                level=Notice.Level.WARNING,
                message=f"{_late_payment(order, purchase)}. It was {verb} automatically.",
            )
        elif row.state == State.DECLINED and row.error_code == ErrorCode.RATE_LIMITED:
            logger.warning("Release of %s of order %s was rate limited; the sweep tries again", purchase.pk, order.pk)
        elif row.state == State.DECLINED:
            _release_failed(order, purchase, row.message or row.error_code)
        else:  # sent, no answer yet: reconcile settles the release row; the sweep comes back to the order
            logger.warning("Release %s of order %s awaits the provider's answer", row.pk, order.pk)
    return released


def _release_key(purchase: PaymentTransaction) -> str:
    """`release:<row id>`, repeated as it is (a lost answer is asked again with its key), except after releases the
    provider refused for its rate limit: nothing was done, so the next try is a new request with a key of its own."""
    base = f"release:{purchase.pk}"
    limited = (
        PaymentTransaction.objects.filter(source=purchase, state=State.DECLINED, error_code=ErrorCode.RATE_LIMITED)
        .filter(Q(idempotency_key=base) | Q(idempotency_key__startswith=f"{base}:"))
        .count()
    )
    return base if limited == 0 else f"{base}:{limited + 1}"


def _late_payment(order: Order, purchase: PaymentTransaction) -> str:
    return (
        f"Order {order.number} belongs to a checkout attempt the buyer gave up, but its payment of "
        f"{purchase.money} (reference {purchase.provider_reference or 'none'}) succeeded later"
    )


def _release_failed(order: Order, purchase: PaymentTransaction, why: str) -> None:
    new = notice_raise(
        key=f"release-failed:{purchase.pk}",
        order=order,
        level=Notice.Level.ERROR,
        message=(
            f"{_late_payment(order, purchase)} and could not be given back automatically: {why} "
            "Cancel or refund it at the provider, or agree with the buyer."
        ),
    )
    if new:
        logger.error("Order %s: late payment %s could not be released automatically", order.pk, purchase.pk)


def orders_to_release() -> list[int]:
    """Given-up orders whose payment status says they still hold or took money."""
    return list(
        Order.objects.discarded()
        .filter(payment_status__in=HOLDING_STATUSES)
        .order_by("discarded_at")
        .values_list("id", flat=True)[:500]
    )


# --- an object the provider made after its payment was ended ------------------------------------------------------

#: what the provider reports of an object that holds for the buyer (an Apruve order accepted, pending the company's
#: approval, or made and not accepted yet): each can still take the buyer's credit, so each is released
_STANDING = (Outcome.SUCCEEDED, Outcome.PENDING, Outcome.ACTION_REQUIRED)


def ended_by_abandonment(payment: PaymentTransaction) -> bool:
    """The payment is one the ledger ended because the buyer left it (`payment_abandon`), before anything held."""
    return (
        payment.action in MONEY_IN_ACTIONS
        and payment.state == State.DECLINED
        and payment.error_code == ErrorCode.ABANDONED
    )


def late_acceptance_release(*, transaction_id: int, returned_reference: str) -> PaymentTransaction | None:
    """The buyer's browser reports the provider's object (Apruve's COMPLETE posts the order id) for a payment the
    ledger ended: what the provider says stands for it is canceled there (`late_acceptance_cancel`).

    The browser's word is checked with the provider (`fetch_status` verifies the id is an order of ours, for this
    order and amount, and otherwise finds the one carrying our order number). Returns the cancel row, or None when
    nothing stands for the payment at the provider (or it cannot be asked now: the provider's event still comes).
    """
    payment = PaymentTransaction.objects.select_related("integration", "order", "invoice").get(pk=transaction_id)
    if payment.action != Action.AUTHORIZE or not ended_by_abandonment(payment):
        return None  # only a hold is released by a cancel; money taken is not this path's
    adapter = adapter_for(payment.integration)
    if not (adapter.supports(Capability.FETCH_STATUS) and adapter.supports(Capability.CANCEL)):
        return None
    try:
        found = adapter.fetch_status(status_request(payment, returned_reference=returned_reference.strip()[:255]))
    except (ProviderUnavailable, ProviderMisconfigured) as exc:
        logger.warning("Could not ask the provider about ended payment %s: %s", payment.pk, exc)
        return None
    if found.outcome not in _STANDING or not found.provider_reference:
        return None  # nothing of it stands at the provider (never made, or canceled already)
    with transaction.atomic():
        order = lock_order(order_id=payment.order_id)
        payment = PaymentTransaction.objects.select_related("integration", "order").get(pk=payment.pk)
        release, created = late_acceptance_reserve(payment=payment, reference=found.provider_reference, order=order)
    if release is None or not created:
        return release  # another payment takes it, or its cancel was written already (sent, or left to reconcile)
    return late_acceptance_cancel(transaction_id=release.pk)


def late_acceptance_reserve(
    *, payment: PaymentTransaction, reference: str, order: Order
) -> tuple[PaymentTransaction | None, bool]:
    """Under the lock of `order`: write the cancel of the provider's object `reference`, made for the ended
    `payment` after it was ended, and tell staff. Returns (the cancel row, whether this call wrote it); (None,
    False) when the object is not this payment's to release: another payment stands on it (of any integration of
    the provider), or one of the order still waits for the buyer at the provider, which may take it (the same
    offer, made again).

    The row is a cancel child of the ended authorization that names the object; it adds nothing to what the
    order holds or owes (the payment never held), and its record closes nothing. Keyed
    `late-release:<payment>:<reference>`, so each object is canceled once whoever reports it, however often.
    """
    if not reference or payment.action != Action.AUTHORIZE or not ended_by_abandonment(payment):
        return None, False
    key = f"{LATE_RELEASE}{payment.pk}:{reference}"[:255]
    fingerprint = request_fingerprint("release", payment.pk, reference)
    if existing := replay(key, fingerprint):
        return existing, False
    # the object reported for another ended payment (the same offer, made twice and ended twice) is released once:
    # by the row written first, whichever payment it was written for
    if earlier := (
        PaymentTransaction.objects.filter(
            integration__provider_key=payment.integration.provider_key,
            action=Action.CANCEL,
            provider_reference=reference,
            idempotency_key__startswith=LATE_RELEASE,
        )
        .order_by("pk")
        .first()
    ):
        return earlier, False
    # of any integration of this provider: two integrations may be one account (connected again, other labels),
    # whose objects carry our order numbers side by side, and an object one of them stands on is never released
    others = PaymentTransaction.objects.filter(
        integration__provider_key=payment.integration.provider_key, action__in=PURCHASE_ACTIONS
    ).exclude(pk=payment.pk)
    if (
        others.filter(provider_reference=reference).exists()
        or others.filter(order_id=payment.order_id, state__in=OPEN_STATES).exists()
    ):
        logger.info("Payment %s: %s is left to another payment of order %s", payment.pk, reference, order.pk)
        return None, False
    release = reserve_child(
        payment,
        Action.CANCEL,
        payment.money,
        key=key,
        fingerprint=fingerprint,
        actor=None,
        note="Released automatically: the provider made it after the buyer left this payment.",
        reason=ABANDONED,
        order=order,
        provider_reference=reference,
    )
    notice_raise(
        key=f"late-acceptance:{release.pk}",
        order=order,
        level=Notice.Level.WARNING,
        message=(
            f"{_accepted_late(order, payment, reference)}. It is canceled at the provider automatically: the "
            "payment stays ended, and nothing is held for the order."
        ),
    )
    logger.warning("Order %s: %s made after payment %s was ended; canceling it", order.pk, reference, payment.pk)
    return release, True


def late_acceptance_cancel(*, transaction_id: int) -> PaymentTransaction:
    """Send the cancel `late_acceptance_reserve` wrote, with no transaction open, and record the answer. Safe to
    repeat while the row is open (a redelivered task): a second cancel of a canceled object finds it canceled. No
    answer leaves the row open for reconcile, which asks the provider and re-sends it if it never arrived."""
    release = PaymentTransaction.objects.select_related("integration", "order", "source").get(pk=transaction_id)
    payment = release.source
    if not release.is_open or payment is None:
        return release
    adapter = adapter_for(release.integration)
    try:
        result = adapter.cancel(follow_up_request(release, payment))
    except (ProviderUnavailable, ProviderMisconfigured, UnsupportedOperation) as exc:
        logger.warning("Release %s of order %s awaits the provider's answer: %s", release.pk, release.order_id, exc)
        return release
    recorded = ledger_record(transaction_id=release.pk, result=result, adapter=adapter)
    if recorded.state == State.DECLINED:
        PaymentTransaction.objects.filter(pk=payment.pk).update(needs_attention=True)
        notice_raise(
            key=f"late-acceptance-failed:{recorded.pk}",
            order=recorded.order,
            level=Notice.Level.ERROR,
            message=(
                f"{_accepted_late(recorded.order, payment, recorded.provider_reference)}, and it could not be "
                f"canceled there automatically: {recorded.message or recorded.error_code} Cancel it in the "
                "provider's dashboard."
            ),
        )
        logger.error("Order %s: release %s of a late acceptance was refused", recorded.order_id, recorded.pk)
    return recorded


def _accepted_late(order: Order, payment: PaymentTransaction, reference: str) -> str:
    return (
        f"Order {order.number}: its payment of {payment.money} was ended when the buyer left it, but the buyer "
        f"accepted it at the provider afterwards (reference {reference})"
    )
