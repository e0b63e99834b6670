"""Staff endpoints of the REST API: orders, the ledger and its operations, invoices, webhook events.

Views are thin: they check permissions (`api.permissions`), read through the back-office's selectors, call the
same services as the order page, and shape the answer with `api.serializers`.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api import filters
from api.errors import ApiError, error_body
from api.idempotency import IDEMPOTENCY_PARAMETER, idempotent, not_final, service_key
from api.pagination import ApiCursorPagination
from api.permissions import StaffPermission
from api.serializers import (
    ActivateSerializer,
    CancelSerializer,
    CaptureSerializer,
    InvoiceCreateSerializer,
    InvoiceSerializer,
    OrderDetailSerializer,
    OrderSerializer,
    RefundSerializer,
    SendInvoiceSerializer,
    TransactionSerializer,
    WebhookEventDetailSerializer,
    WebhookEventSerializer,
)
from backoffice.operations import Operation, transaction_offers
from backoffice.selectors import payment_history
from orders.models import Invoice, Order
from orders.services import invoice_create, invoice_void
from payments.models import OPEN_STATES, PaymentTransaction, WebhookEvent
from payments.money import MoneyError, parse_amount, validate_currency
from payments.selectors import order_account
from payments.services import payment_activate, payment_cancel, payment_capture, payment_invoice, payment_refund
from payments.tasks import webhook_event_process_task
from payments.webhook_services import FINAL

ERROR = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorDetail",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "field": serializers.CharField(allow_null=True),
            },
        )
    },
)
REFUSED = OpenApiResponse(
    ERROR,
    description="Refused: nothing was changed.",
    examples=[
        OpenApiExample(
            "Nothing left",
            value=error_body("nothing_to_capture", "Nothing is left to capture on this payment."),
        )
    ],
)


ACCEPTED = OpenApiResponse(
    TransactionSerializer,
    description=(
        "Recorded, outcome not known yet (the provider did not answer): the row stays open and is settled "
        "automatically. Retrying with the same Idempotency-Key reads the row again; it never moves money twice."
    ),
)


def validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def amount_of(value: str | None, currency: str, given_currency: str | None = None) -> Any:
    """The input amount as Money in the row's currency, or None (all that is left).

    A currency the client names must be the row's: its number is never taken as another currency's.
    """
    if given_currency is not None:
        try:
            named = validate_currency(given_currency)
        except MoneyError as exc:
            raise ApiError("invalid", str(exc), field="currency") from exc
        if named != currency:
            raise ApiError(
                "currency_mismatch", f"The amount is in {named} but the payment is in {currency}.", field="currency"
            )
    if value in (None, ""):
        return None
    try:
        return parse_amount(value, currency)
    except MoneyError as exc:
        raise ApiError("invalid_amount", str(exc), field="amount") from exc


class StaffViewSet(viewsets.GenericViewSet):
    permission_classes = [StaffPermission]
    filter_backends = [DjangoFilterBackend]
    required_permissions: dict[str, tuple[str, ...]] = {}

    @property
    def pagination_class(self) -> type[ApiCursorPagination] | None:  # type: ignore[override]
        """Lists page; an action that answers a few rows (the rules an integration affects) answers a plain list."""
        return ApiCursorPagination if getattr(self, "action", None) == "list" else None


@extend_schema_view(
    list=extend_schema(summary="List orders", description="Newest first, with filters."),
    retrieve=extend_schema(
        summary="An order with its ledger",
        description=(
            "The order, its lines and addresses, the computed amounts (authorized, captured, refunded, "
            "outstanding) and every ledger row with the operations it allows (null without the permission to "
            "view payment history), as on the back-office order page."
        ),
    ),
)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet):
    filterset_class = filters.OrderFilter
    required_permissions = {"list": ("orders.view_order",), "retrieve": ("orders.view_order",)}

    def get_queryset(self) -> QuerySet[Order]:
        queryset = Order.objects.select_related("customer")
        if self.action == "retrieve":
            queryset = queryset.select_related("billing_address", "shipping_address").prefetch_related("lines")
        return queryset

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return OrderDetailSerializer if self.action == "retrieve" else OrderSerializer

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        order = self.get_object()
        account = order_account(order=order)
        context: dict[str, Any] = {**self.get_serializer_context(), "account": account}
        if request.user.has_perm("payments.view_payment_history"):
            ledger = list(payment_history(order_id=order.pk))
            allowed = {op for op in Operation if request.user.has_perm(op.permission)}
            context["ledger"] = ledger
            context["offers"] = {
                txn.pk: [o for o in transaction_offers(txn, account) if o.operation in allowed] for txn in ledger
            }
        return Response(OrderDetailSerializer(order, context=context).data)


HISTORY = ("payments.view_paymenttransaction", "payments.view_payment_history")


@extend_schema_view(
    list=extend_schema(summary="List ledger rows"),
    retrieve=extend_schema(summary="A ledger row"),
)
class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet):
    serializer_class = TransactionSerializer
    filterset_class = filters.TransactionFilter
    required_permissions = {
        "list": HISTORY,
        "retrieve": HISTORY,
        "capture": (*HISTORY, Operation.CAPTURE.permission),
        "cancel": (*HISTORY, Operation.CANCEL.permission),
        "refund": (*HISTORY, Operation.REFUND.permission),
        "activate": (*HISTORY, Operation.ACTIVATE.permission),
        "send_invoice": (*HISTORY, Operation.INVOICE.permission),
    }

    def get_queryset(self) -> QuerySet[PaymentTransaction]:
        return PaymentTransaction.objects.select_related("actor")

    def _answer(self, row: PaymentTransaction) -> Response:
        """201 for a final row; 202 while its outcome is open (the provider did not answer: reconcile will ask)."""
        if row.state in OPEN_STATES:
            return not_final(Response(TransactionSerializer(row).data, status=status.HTTP_202_ACCEPTED))
        return Response(TransactionSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Capture an authorization",
        description="All that is left, or `amount` of it (where the provider allows partial captures).",
        request=CaptureSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: TransactionSerializer, 202: ACCEPTED, 409: REFUSED, 400: ERROR, 422: ERROR},
        examples=[OpenApiExample("Capture half", value={"amount": "50.00", "note": "First shipment"})],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def capture(self, request: Request, pk: str | None = None) -> Response:
        txn = self.get_object()
        data = validated(CaptureSerializer, request)
        row = payment_capture(
            source_id=txn.pk,
            amount=amount_of(data.get("amount"), txn.currency, data.get("currency")),
            key=service_key(request),
            actor=cast(User, request.user),
            note=data["note"],
        )
        return self._answer(row)

    @extend_schema(
        summary="Send an invoice for an authorization (Apruve)",
        description="Bills the buyer's company for all that is left, or `amount` of it; replaces capture where the "
        "provider collects by invoice. The money arrives later, as the invoice's capture.",
        request=SendInvoiceSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: TransactionSerializer, 202: ACCEPTED, 409: REFUSED, 400: ERROR, 422: ERROR},
        examples=[OpenApiExample("Invoice part", value={"amount": "40.00", "tracking_number": "1Z999"})],
    )
    @action(detail=True, methods=["post"], url_path="send-invoice")
    @idempotent
    def send_invoice(self, request: Request, pk: str | None = None) -> Response:
        txn = self.get_object()
        data = validated(SendInvoiceSerializer, request)
        row = payment_invoice(
            source_id=txn.pk,
            amount=amount_of(data.get("amount"), txn.currency, data.get("currency")),
            key=service_key(request),
            actor=cast(User, request.user),
            note=data["note"],
            tracking_number=data["tracking_number"],
            shipper=data["shipper"],
        )
        return self._answer(row)

    @extend_schema(
        summary="Cancel (void) an authorization",
        request=CancelSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: TransactionSerializer, 202: ACCEPTED, 409: REFUSED, 400: ERROR, 422: ERROR},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        txn = self.get_object()
        data = validated(CancelSerializer, request)
        row = payment_cancel(
            source_id=txn.pk, key=service_key(request), actor=cast(User, request.user), note=data["note"]
        )
        return self._answer(row)

    @extend_schema(
        summary="Refund a charge or capture",
        description="All that is left, or `amount` of it (where the provider allows partial refunds).",
        request=RefundSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: TransactionSerializer, 202: ACCEPTED, 409: REFUSED, 400: ERROR, 422: ERROR},
        examples=[OpenApiExample("Refund part", value={"amount": "10.00", "reason": "", "note": "Damaged item"})],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def refund(self, request: Request, pk: str | None = None) -> Response:
        txn = self.get_object()
        data = validated(RefundSerializer, request)
        row = payment_refund(
            source_id=txn.pk,
            amount=amount_of(data.get("amount"), txn.currency, data.get("currency")),
            key=service_key(request),
            actor=cast(User, request.user),
            note=data["note"],
            reason=data["reason"],
        )
        return self._answer(row)

    @extend_schema(
        summary="Activate a captured invoice payment",
        description="The invoice was issued: the provider's guarantee and the payment term start (InfinitePay).",
        request=ActivateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: TransactionSerializer, 202: ACCEPTED, 409: REFUSED, 400: ERROR, 422: ERROR},
        examples=[OpenApiExample("Invoice issued", value={"invoice_number": "RE-1001", "invoice_date": "2026-11-30"})],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def activate(self, request: Request, pk: str | None = None) -> Response:
        txn = self.get_object()
        data = validated(ActivateSerializer, request)
        row = payment_activate(
            source_id=txn.pk,
            key=service_key(request),
            invoice_number=data["invoice_number"],
            invoice_date=data["invoice_date"],
            actor=cast(User, request.user),
            note=data["note"],
        )
        return self._answer(row)


@extend_schema_view(list=extend_schema(summary="List invoices"), retrieve=extend_schema(summary="An invoice"))
class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet):
    serializer_class = InvoiceSerializer
    filterset_class = filters.InvoiceFilter
    required_permissions = {
        "list": ("orders.view_invoice",),
        "retrieve": ("orders.view_invoice",),
        "create": ("orders.view_invoice", "orders.add_invoice"),
        "void": ("orders.view_invoice", "orders.change_invoice"),
    }

    def get_queryset(self) -> QuerySet[Invoice]:
        return Invoice.objects.all()

    @extend_schema(
        summary="Invoice an order",
        description="For what the order still owes (all of it unless `amount` is given).",
        request=InvoiceCreateSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: InvoiceSerializer, 409: REFUSED, 400: ERROR, 422: ERROR},
        examples=[OpenApiExample("Invoice all", value={"order": 42})],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = validated(InvoiceCreateSerializer, request)
        order = Order.objects.filter(pk=data["order"]).first()
        if order is None:
            raise ApiError("does_not_exist", "No such order.", field="order")
        amount = amount_of(data.get("amount"), order.currency, data.get("currency"))
        try:
            invoice = invoice_create(
                order=order,
                amount=amount.amount if amount else None,
                due_date=data.get("due_date"),
                actor=cast(User, request.user),
            )
        except MoneyError as exc:
            raise ApiError("invoice_refused", str(exc), status_code=status.HTTP_409_CONFLICT) from exc
        return Response(InvoiceSerializer(invoice).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Void an open invoice",
        request=None,
        responses={200: InvoiceSerializer, 409: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: str | None = None) -> Response:
        invoice = self.get_object()
        return Response(InvoiceSerializer(invoice_void(invoice_id=invoice.pk)).data)


@extend_schema_view(
    list=extend_schema(summary="List webhook events"), retrieve=extend_schema(summary="A webhook event")
)
class WebhookEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StaffViewSet):
    filterset_class = filters.WebhookEventFilter
    required_permissions = {
        "list": ("payments.view_webhookevent",),
        "retrieve": ("payments.view_webhookevent",),
        "reprocess": ("payments.view_webhookevent", "payments.change_webhookevent"),
    }

    def get_queryset(self) -> QuerySet[WebhookEvent]:
        return WebhookEvent.objects.all()

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return WebhookEventDetailSerializer if self.action == "retrieve" else WebhookEventSerializer

    @extend_schema(
        summary="Process an event again",
        description="Sends an event that is not final (received, waiting) to the workers again; 202.",
        request=None,
        responses={202: WebhookEventSerializer, 409: REFUSED},
    )
    @action(detail=True, methods=["post"])
    def reprocess(self, request: Request, pk: str | None = None) -> Response:
        event = self.get_object()
        if event.status in FINAL:
            raise ApiError(
                "event_final",
                f"This event is {event.get_status_display().lower()}; processing it again would change nothing.",
                status_code=status.HTTP_409_CONFLICT,
            )
        transaction.on_commit(partial(webhook_event_process_task.delay, event.pk))
        return Response(WebhookEventSerializer(event).data, status=status.HTTP_202_ACCEPTED)
