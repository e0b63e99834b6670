"""The order page's timeline and staff notes, and the order's "History" page, which shows the same timeline (the
admin's own history lists only edits of the order row, which nobody makes: money moves through the ledger)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from backoffice.order_page import order_page_reads
from backoffice.timeline import compact_time, order_timeline
from orders.models import Order, OrderNote
from payments.models import PaymentTransaction


class OrderNoteForm(forms.Form):
    text = forms.CharField(
        label="Note",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Seen by staff only, on this order's timeline.",
    )


class OrderTimelineMixin:
    """Mixed into OrderAdmin (a ModelAdmin)."""

    admin_site: admin.AdminSite

    def get_urls(self) -> list[URLPattern]:
        urls = [
            path(
                "<int:order_id>/notes/",
                self.admin_site.admin_view(require_POST(self.order_note_add_view)),
                name="orders_order_note_add",
            )
        ]
        return urls + super().get_urls()  # type: ignore[misc]

    def _timeline_context(
        self, request: HttpRequest, order: Order, rows: list[PaymentTransaction] | None = None
    ) -> dict[str, Any]:
        # the ledger's rows, references and the provider's events only for staff who may see the payment history
        # (as the order page's history table and the operation pages)
        entries = order_timeline(
            order=order, payments=request.user.has_perm("payments.view_payment_history"), rows=rows
        )
        can_note = request.user.has_perm("orders.add_ordernote")
        return {
            "timeline": [{"entry": entry, "when": compact_time(entry.when)} for entry in entries],
            "note_form": OrderNoteForm() if can_note else None,
            "note_url": reverse("admin:orders_order_note_add", args=[order.pk]) if can_note else "",
        }

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Order | None = None,
    ) -> HttpResponse:
        """The timeline of the order the page shows (read once by the admin, with what its fields need), from the
        ledger rows its amounts and payment history show (`backoffice.order_page`)."""
        if obj is not None and self.has_view_permission(request, obj):  # type: ignore[attr-defined]
            context.update(self._timeline_context(request, obj, order_page_reads(obj).rows))
        return super().render_change_form(request, context, add, change, form_url, obj)  # type: ignore[misc]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Every field of the page is read-only (money moves through the operations, notes through their form):
        # no Save buttons for anyone, only Close.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        order = get_object_or_404(Order, pk=object_id) if str(object_id).isdigit() else None
        if order is None or not self.has_view_permission(request, order):  # type: ignore[attr-defined]
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": Order._meta,
            "title": f"History of order {order.number}",
            "subtitle": None,
            "object": order,
            "original": order,
            **self._timeline_context(request, order),
        }
        return TemplateResponse(request, "admin/orders/order/object_history.html", context)

    def order_note_add_view(self, request: HttpRequest, order_id: int) -> HttpResponse:
        order = get_object_or_404(Order, pk=order_id)
        if not (
            self.has_view_permission(request, order)  # type: ignore[attr-defined]
            and request.user.has_perm("orders.add_ordernote")
        ):
            raise PermissionDenied
        form = OrderNoteForm(request.POST)
        if form.is_valid():
            author = cast(User, request.user)  # admin_view let only a logged-in staff member through
            OrderNote.objects.create(order=order, author=author, text=form.cleaned_data["text"])
            messages.success(request, "The note was added to the timeline.")
        else:
            messages.error(request, "The note was not added: write at most 2,000 characters, and not nothing.")
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]) + "#timeline")
