"""Capture, cancel and refund from the order page: one confirmation page per operation and transaction.

Each page checks its own permission (403 otherwise), renders a fresh idempotency key so a double submit
moves money once, calls the one payment service, and says what happened in a message.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from backoffice.forms import PaymentOperationForm, fresh_key
from backoffice.operations import Operation, adapter_class_of, transaction_offer
from backoffice.selectors import payment_history
from orders.models import Order
from payments.attention import payment_attention_release, payment_attention_resolve
from payments.exceptions import PaymentRefused
from payments.models import PaymentTransaction, State
from payments.money import current_locale, format_amount_input, format_money
from payments.selectors import order_account
from payments.services import payment_activate, payment_cancel, payment_capture, payment_invoice, payment_refund
from providers.base import Capability

DONE = {
    Operation.CAPTURE: "The payment of {amount} has been captured successfully.",
    Operation.CANCEL: "The payment authorization of {amount} has been canceled.",
    Operation.REFUND: "The refund of {amount} has been made successfully.",
    Operation.INVOICE: "The invoice of {amount} has been sent.",
    Operation.RELEASE: "The hold of {amount} has been released at the provider.",
    Operation.RESOLVE: "The payment of {amount} is recorded as it stands at the provider.",
    Operation.ACTIVATE: "The payment of {amount} has been activated: the invoice's payment term runs.",
}
VERB = {
    Operation.CAPTURE: "capture",
    Operation.CANCEL: "cancellation",
    Operation.REFUND: "refund",
    Operation.INVOICE: "invoice",
    Operation.RELEASE: "cancellation",
    Operation.RESOLVE: "resolution",
    Operation.ACTIVATE: "activation",
}


class OrderPaymentsMixin:
    """Mixed into OrderAdmin (a ModelAdmin)."""

    admin_site: admin.AdminSite

    def get_urls(self) -> list[URLPattern]:
        urls = [
            path(
                "<int:order_id>/payments/<int:transaction_id>/<str:operation>/",
                self.admin_site.admin_view(self.payment_operation_view),
                name="orders_order_payment_operation",
            )
        ]
        return urls + super().get_urls()  # type: ignore[misc]

    def payment_operation_view(
        self, request: HttpRequest, order_id: int, transaction_id: int, operation: str
    ) -> HttpResponse:
        try:
            op = Operation(operation)
        except ValueError:
            raise PermissionDenied from None
        order = get_object_or_404(Order, pk=order_id)
        if not (
            self.has_view_permission(request, order)  # type: ignore[attr-defined]
            and request.user.has_perm("payments.view_payment_history")
            and request.user.has_perm(op.permission)
        ):
            raise PermissionDenied
        txn = get_object_or_404(payment_history(order_id=order.pk), pk=transaction_id)
        adapter = adapter_class_of(txn)
        offer = transaction_offer(txn, op, order_account(order=order))
        order_url = reverse("admin:orders_order_change", args=[order.pk])
        form_options: dict[str, Any] = {
            "operation": op,
            "currency": txn.currency,
            "partial": offer.partial if offer else False,
            "reasons": adapter.refund_reasons if adapter and Capability.REFUND in adapter.capabilities else (),
            "held": offer.held if offer else None,
            "releases_rest": offer.releases_rest if offer else False,
            "locale": current_locale(),
        }

        if request.method == "POST":
            form = PaymentOperationForm(request.POST, **form_options)
            if form.is_valid():
                try:
                    result = _perform(op, txn, form.cleaned_data, request)
                except PaymentRefused as refused:
                    messages.error(request, refused.message)
                    offer = transaction_offer(
                        payment_history(order_id=order.pk).get(pk=txn.pk), op, order_account(order=order)
                    )
                    if offer is None:
                        return HttpResponseRedirect(order_url)
                    data = request.POST.copy()
                    data["key"] = fresh_key()  # nothing was written: a new attempt gets a new key
                    form = PaymentOperationForm(data, **form_options)
                    form.is_valid()
                else:
                    _report(request, op, result)
                    return HttpResponseRedirect(order_url)
        else:
            if offer is None:
                messages.error(request, f"This payment cannot be {_past(op)} now.")
                return HttpResponseRedirect(order_url)
            initial = {"key": fresh_key()}
            if op in (Operation.CAPTURE, Operation.REFUND, Operation.INVOICE):
                initial["amount"] = format_amount_input(offer.available.amount, txn.currency, current_locale())
            form = PaymentOperationForm(initial=initial, **form_options)

        context = {
            **self.admin_site.each_context(request),
            "opts": Order._meta,
            "title": f"{op.label}: order {order.number}",
            "order": order,
            "txn": txn,
            "offer": offer,
            "operation": op,
            "available": format_money(offer.available) if offer else "",
            "held": format_money(offer.held) if offer and offer.held else "",
            "form": form,
            "order_url": order_url,
        }
        return TemplateResponse(request, "admin/orders/order/payment_operation.html", context)


def _past(op: Operation) -> str:
    return {
        "capture": "captured",
        "cancel": "canceled",
        "refund": "refunded",
        "activate": "activated",
        "invoice": "invoiced",
    }.get(op.value, op.value)


def _perform(op: Operation, txn: PaymentTransaction, data: dict[str, Any], request: HttpRequest) -> PaymentTransaction:
    key = f"backoffice:{data['key']}"
    actor = cast(User, request.user)  # admin_view let only a logged-in staff member through
    if op == Operation.RELEASE:
        return payment_attention_release(transaction_id=txn.pk, key=key, actor=actor, note=data["note"])
    if op == Operation.RESOLVE:
        return payment_attention_resolve(
            transaction_id=txn.pk,
            outcome=data["outcome"],
            reference=data.get("reference", ""),
            actor=actor,
            note=data["note"],
        )
    if op == Operation.CAPTURE:
        return payment_capture(source_id=txn.pk, amount=data["amount"], key=key, actor=actor, note=data.get("note", ""))
    if op == Operation.ACTIVATE:
        return payment_activate(
            source_id=txn.pk,
            key=key,
            invoice_number=data["invoice_number"],
            invoice_date=data["invoice_date"],
            actor=actor,
            note=data.get("note", ""),
        )
    if op == Operation.INVOICE:
        return payment_invoice(
            source_id=txn.pk,
            amount=data["amount"],
            key=key,
            actor=actor,
            note=data.get("note", ""),
            tracking_number=data.get("tracking_number", ""),
            shipper=data.get("shipper", ""),
        )
    if op == Operation.CANCEL:
        return payment_cancel(source_id=txn.pk, key=key, actor=actor, note=data["note"])
    return payment_refund(
        source_id=txn.pk,
        amount=data["amount"],
        key=key,
        actor=actor,
        note=data["note"],
        reason=data.get("reason", ""),
    )


def _report(request: HttpRequest, op: Operation, result: PaymentTransaction) -> None:
    amount = format_money(result.money)
    if op in (Operation.RELEASE, Operation.RESOLVE) and not result.is_open:
        messages.success(request, DONE[op].format(amount=amount))  # declined is the expected end of a release
    elif result.state == State.SUCCEEDED:
        messages.success(request, DONE[op].format(amount=amount))
    elif result.state == State.DECLINED:
        detail = result.message or result.error_code or "no reason given"
        messages.error(request, f"The provider declined the {VERB[op]} of {amount}: {detail}")
    else:
        detail = f" {result.message}" if result.message else ""
        messages.warning(
            request, f"The {VERB[op]} of {amount} was sent; the provider has not confirmed it yet.{detail}"
        )
