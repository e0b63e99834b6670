"""`POST /webhooks/<integration uuid>/`: the one webhook endpoint of every provider.

Verify with the integration's adapter (`parse_webhook`; both cached per process, `integrations.receivers`), store
in the inbox with one insert that skips a duplicate (unique per integration and provider event id), enqueue
processing once the row is committed, answer 200. A duplicate also gets 200 and is not
processed again, unless the stored event is still waiting for its payment; a bad signature (or a signed body
that is not an event) gets 400 and only a note of it is kept (when and why, for the integration page). Once
stored, an event gets 200 even if the broker is down: the inbox sweep enqueues whatever is left unprocessed.
"""

from __future__ import annotations

import logging
from functools import partial
from uuid import UUID

from django.db import IntegrityError, connections, transaction
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError

from integrations.models import Integration, RejectedWebhook
from integrations.receivers import integration_receiver
from notifications.models import Notice
from notifications.services import notice_raise
from payments.models import WebhookEvent
from payments.tasks import webhook_event_process_task
from providers.base import URL_TOKEN_HEADER, Adapter, InvalidSignature, UnreadableEvent

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def webhook_receive(request: HttpRequest, integration_uuid: UUID, url_token: str = "") -> HttpResponse:
    """`url_token`: the secret last segment of a provider's webhook URL (Apruve's), handed to the adapter as
    `URL_TOKEN_HEADER`; a header of that name sent by the caller never reaches it."""
    receiver = integration_receiver(integration_uuid)  # inactive ones still report
    if receiver is None:
        raise Http404("no such integration")
    integration, adapter = receiver
    if not adapter.webhook_source_allowed(request.META.get("REMOTE_ADDR", "")):
        logger.warning("Webhook for integration %s rejected: its source address is not allowed", integration.pk)
        return HttpResponseForbidden("source not allowed")
    headers = {name: value for name, value in request.headers.items() if name.lower() != URL_TOKEN_HEADER.lower()}
    if url_token:
        headers[URL_TOKEN_HEADER] = url_token
    try:
        event = adapter.parse_webhook(request.body, headers)
    except InvalidSignature as invalid:
        logger.warning("Webhook for integration %s rejected: signature does not verify", integration.pk)
        _keep_rejected(integration, str(invalid), request)
        return _answer(adapter, accepted=False) or HttpResponseBadRequest("signature does not verify")
    except UnreadableEvent as unreadable:
        _keep_unreadable(integration, unreadable)
        return _answer(adapter, accepted=True) or HttpResponse(status=200)
    row = WebhookEvent(
        integration=integration,
        provider_event_id=event.event_id,
        event_type=event.type[:100],
        provider_reference=(event.provider_reference or "")[:255],
        event=event.as_dict(),
    )
    stored = _store_once(row)
    if stored is None:  # a duplicate: sent again only while it waits for its payment (which may be known now)
        stored = (
            WebhookEvent.objects.filter(
                integration=integration, provider_event_id=row.provider_event_id, status=WebhookEvent.Status.WAITING
            )
            .values_list("pk", flat=True)
            .first()
        )
    if stored is not None:
        transaction.on_commit(partial(_enqueue, stored))  # at once, unless a caller holds a transaction open
    return _answer(adapter, accepted=True) or HttpResponse(status=200)


def _answer(adapter: Adapter, *, accepted: bool) -> HttpResponse | None:
    """The provider's own answer format where it has one (Wirecard's confirm response); a refusal keeps its 400."""
    reply = adapter.webhook_reply(accepted)
    if reply is None:
        return None
    body, content_type = reply
    return HttpResponse(body, status=200 if accepted else 400, content_type=content_type)


def _store_once(row: WebhookEvent) -> int | None:
    """Insert the event unless the integration has it already: one `INSERT … ON CONFLICT DO NOTHING RETURNING id`
    (no transaction of its own, no read before it). The new row's id, or None for a duplicate."""
    fields = [f for f in WebhookEvent._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(WebhookEvent, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [row])
    compiler = query.get_compiler(using=WebhookEvent.objects.db)
    compiler.returning_fields = [WebhookEvent._meta.pk]
    [(sql, params)] = compiler.as_sql()
    with connections[WebhookEvent.objects.db].cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchone()
    return None if inserted is None else int(inserted[0])


def _keep_rejected(integration: Integration, reason: str, request: HttpRequest) -> None:
    """Note a refused delivery for the integration page (why, whether it was signed at all), keeping only the last
    `RejectedWebhook.KEEP` of the integration: an unauthenticated caller cannot grow the table."""
    with transaction.atomic():
        RejectedWebhook.objects.create(
            integration=integration,
            reason=(reason or "signature does not verify")[:200],
            had_signature=any("signature" in name.lower() for name in request.headers),
            body_bytes=len(request.body),
        )
        old = RejectedWebhook.objects.filter(integration=integration).values_list("id", flat=True)[
            RejectedWebhook.KEEP :
        ]
        RejectedWebhook.objects.filter(id__in=list(old)).delete()


def _keep_unreadable(integration: Integration, unreadable: UnreadableEvent) -> None:
    """A signed event we cannot read: kept, failed, with what it said, and staff told once. The provider gets its
    200, as sending it again would fail the same way; nothing is applied to the ledger."""
    logger.error(
        "Webhook event %s of integration %s could not be read: %s", unreadable.event_id, integration.pk, unreadable
    )
    try:
        with transaction.atomic():
            row, created = WebhookEvent.objects.get_or_create(
                integration=integration,
                provider_event_id=unreadable.event_id[:255],
                defaults={
                    "event_type": unreadable.event_type[:100],
                    "event": {"unreadable": unreadable.payload},
                    "status": WebhookEvent.Status.FAILED,
                    "result": (
                        f"The event's signature verified, but its content could not be read ({unreadable}). Nothing "
                        "was applied; check the payment in the provider's dashboard."
                    ),
                },
            )
    except IntegrityError:  # the same event arrived twice at once; the other request kept it
        return
    if created:
        notice_raise(
            key=f"webhook-unreadable:{row.pk}",
            level=Notice.Level.ERROR,
            message=(
                f"An event of {integration.name} ({unreadable.event_type or 'no type'} {unreadable.event_id}) could "
                "not be read and was not applied. See it under Payments › Webhook events and check the payment in "
                "the provider's dashboard."
            ),
        )


def _enqueue(webhook_event_id: int) -> None:
    """Hand a stored event to the workers. The event is stored, so the provider gets its 200 even when the broker
    cannot take the message now: the inbox sweep (`webhook_events_requeue`) sends it a couple of minutes later.
    One quick retry only; the provider is waiting for our answer."""
    try:
        webhook_event_process_task.apply_async(
            (webhook_event_id,), retry=True, retry_policy={"max_retries": 1, "interval_start": 0.2}
        )
    except (OperationalError, OSError) as exc:  # Redis unreachable; the local transport's folder unwritable
        logger.warning(
            "Webhook event %s stored; the broker is unreachable, the sweep enqueues it: %s", webhook_event_id, exc
        )
