from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince, timeuntil

from backoffice.operations import Operation, transaction_offers
from backoffice.order_admin import OrderPaymentsMixin
from backoffice.order_page import order_page_queryset, order_page_reads
from backoffice.order_timeline import OrderTimelineMixin
from backoffice.selectors import (
    open_authorization_expires,
    open_authorization_since,
    payment_history,
)
from backoffice.timeline import action_words, compact_time, result_words
from core.cards import card_summary
from core.choices import country_choices
from core.exports import FinanceExportMixin
from core.money import Money, format_money, quantize
from core.status import STATUS_COLOURS, UNKNOWN_STATUS_COLOUR, PaymentStatus
from integrations.selectors import method_short_labels
from orders.admin_invoices import create_invoices
from orders.exports import OrderResource
from orders.models import Address, Order, OrderLine
from orders.services import order_mark_shipped
from payments.models import Action, PaymentTransaction


def status_badge(status: str) -> str:
    colour = STATUS_COLOURS.get(PaymentStatus(status), UNKNOWN_STATUS_COLOUR)
    return format_html(
        '<span class="payment-status" style="background:{};color:#fff;padding:2px 8px;border-radius:10px;">{}</span>',
        colour,
        PaymentStatus(status).label,
    )


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = readonly_fields = ("sku", "name", "quantity", "unit_price_display")

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return super().get_queryset(request).select_related("order")  # the unit price's currency, not a read per line

    @admin.display(description="Unit price")
    def unit_price_display(self, obj: OrderLine) -> str:
        return _money(obj.unit_price, obj.order.currency)


class LedgerRowsFormSet(BaseInlineFormSet):
    """An inline formset over the order's ledger rows the page has read already (`backoffice.order_page`): the
    amounts, the timeline and the history show the same rows, read once."""

    rows: list[PaymentTransaction] | None = None  # set on the class `get_formset` makes for one request

    def get_queryset(self) -> Any:
        return super().get_queryset() if self.rows is None else self.rows


class PaymentHistoryInline(admin.TabularInline):
    """Every transaction of the order with the operations it allows; the ledger is written by services only.

    Shown only with the "view payment history" permission; each operation link needs its own permission,
    which its page checks again.
    """

    model = PaymentTransaction
    verbose_name = "payment transaction"
    verbose_name_plural = "payment history"
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "when",
        "what",
        "amount_display",
        "result",
        "provider",
        "method",
        "card",
        "provider_reference",
        "who",
        "note",
        "operations",
    )
    ordering = ["created_at", "id"]
    formset = LedgerRowsFormSet

    def has_view_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return request.user.has_perm("payments.view_payment_history")

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[PaymentTransaction]:
        return payment_history()

    def get_formset(self, request: HttpRequest, obj: Order | None = None, **kwargs: Any) -> Any:
        # the operations this user may use, checked once for the page, not per row (one inline instance per request)
        self._allowed = {op for op in Operation if request.user.has_perm(op.permission)}
        formset = cast(type[LedgerRowsFormSet], super().get_formset(request, obj, **kwargs))
        if obj is not None:
            formset.rows = order_page_reads(obj).rows  # a class made for this request
        return formset

    @admin.display(description="Amount")
    def amount_display(self, obj: PaymentTransaction) -> str:
        guaranteed = (obj.response or {}).get("guaranteed_amount")  # an invoice guarantee (InfinitePay's GUAR_AMT)
        if guaranteed:
            return format_html(
                '{} <span class="guaranteed">(guaranteed {})</span>',
                format_money(obj.money),
                format_money(Money(Decimal(guaranteed), obj.currency)),
            )
        return format_money(obj.money)

    @admin.display(description="What")
    def what(self, obj: PaymentTransaction) -> str:
        return action_words(obj)

    @admin.display(description="Result")
    def result(self, obj: PaymentTransaction) -> str:
        return result_words(obj)

    @admin.display(description="Provider")
    def provider(self, obj: PaymentTransaction) -> str:
        return obj.integration.name

    @admin.display(description="Method")
    def method(self, obj: PaymentTransaction) -> str:
        """The method's short label, from the labels of every method of the page, looked up together."""
        return order_page_reads(obj.order).method_labels.get(obj.payment_method, obj.payment_method)

    @admin.display(description="Card")
    def card(self, obj: PaymentTransaction) -> str:
        return card_summary(obj.response) or "—"

    @admin.display(description="Who")
    def who(self, obj: PaymentTransaction) -> str:
        if obj.actor is None:
            return "System"  # checkout, webhooks and tasks act on their own
        return obj.actor.get_full_name() or obj.actor.get_username()

    @admin.display(description="When")
    def when(self, obj: PaymentTransaction) -> str:
        return compact_time(obj.created_at)

    @admin.display(description="Operations")
    def operations(self, obj: PaymentTransaction) -> str:
        allowed = getattr(self, "_allowed", ())
        account = order_page_reads(obj.order).account
        offers = [offer for offer in transaction_offers(obj, account) if offer.operation in allowed]
        flag = (
            format_html('<strong class="needs-attention">{}</strong> ', "Needs attention")
            if obj.needs_attention
            else ""
        )
        if not offers:
            return flag
        return format_html("{}{}", flag, self._operation_links(obj, offers))

    @staticmethod
    def _operation_links(obj: PaymentTransaction, offers: list) -> str:
        return format_html_join(
            " ",
            '<a class="button payment-operation {}" href="{}">{}</a>',
            (
                (
                    offer.operation.value,
                    reverse("admin:orders_order_payment_operation", args=[obj.order_id, obj.pk, offer.operation.value]),
                    offer.operation.label,
                )
                for offer in offers
            ),
        )


class PaymentMethodFilter(admin.SimpleListFilter):
    title = "payment method"
    parameter_name = "method"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        identifiers = sorted(
            Order.objects.exclude(payment_method="").order_by().values_list("payment_method", flat=True).distinct()
        )
        labels = method_short_labels(identifiers)
        counts = Counter(labels.values())
        return [(i, labels[i] if counts[labels[i]] == 1 else f"{labels[i]} ({i})") for i in identifiers]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        return queryset.filter(payment_method=self.value()) if self.value() else queryset


class AuthorizationExpiryFilter(admin.SimpleListFilter):
    title = "authorization expiry"
    parameter_name = "auth_expiry"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("soon", "Expiring soon"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        now = timezone.now()
        open_auths = PaymentTransaction.objects.filter(action=Action.AUTHORIZE, successful=True)
        if self.value() == "soon":
            window = now + timedelta(hours=settings.AUTHORIZATION_EXPIRY_WARNING_HOURS)
            ids = open_auths.filter(active=True, expires_at__gt=now, expires_at__lte=window).values("order_id")
            return queryset.filter(pk__in=ids)
        if self.value() == "expired":
            return queryset.filter(pk__in=open_auths.filter(expires_at__lte=now).values("order_id"))
        return queryset


class PlacedFilter(admin.SimpleListFilter):
    """Placed orders by default; the orders of failed or abandoned checkout attempts (hidden from the buyer, kept
    with their ledger for support) on request."""

    title = "orders"
    parameter_name = "checkout"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("failed", "Failed checkout attempts"), ("all", "All")]

    def choices(self, changelist: ChangeList):  # noqa: ANN201 - Django's generator of choice dicts
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Placed orders",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() == "failed":
            return queryset.filter(discarded_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(discarded_at__isnull=True)


@admin.register(Order)
class OrderAdmin(FinanceExportMixin, OrderTimelineMixin, OrderPaymentsMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "customer",
        "total_display",
        "payment_badge",
        "method_label",
        "authorization_age",
        "created_at",
    ]
    list_filter = [
        PlacedFilter,
        "payment_status",
        PaymentMethodFilter,
        AuthorizationExpiryFilter,
        "created_at",
        "currency",
    ]
    actions = ["mark_shipped", create_invoices]
    list_select_related = ["customer"]
    #: staff look an order up by what the buyer or the provider quotes: order, PO or invoice number, the buyer's
    #: e-mail, or a provider's reference (exact, from the ledger or the checkout attempt)
    search_fields = [
        "number",
        "po_number",
        "customer__name",
        "customer_user__user__email",
        "=invoices__number",
        "=transactions__provider_reference",
        "=checkout_attempt__provider_reference",
    ]
    search_help_text = "Order, PO or invoice number, customer name or e-mail, or a provider's reference."
    resource_classes = [OrderResource]
    date_hierarchy = "created_at"
    _sections: tuple[tuple[str | None, tuple[str, ...]], ...] = (
        (None, ("number", "po_number", "customer", "customer_user", "created_at", "checkout_outcome")),
        ("Payment", ("payment_badge", "method_label", "payment_term", "payment_summary")),
        ("Totals", ("subtotal_display", "shipping_display", "tax_display", "total_display")),
        ("Addresses", ("billing_address", "shipping_address")),
    )
    fieldsets = [(title, {"fields": names}) for title, names in _sections]
    readonly_fields = [name for _, names in _sections for name in names]
    inlines = [OrderLineInline, PaymentHistoryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                open_authorization_since=open_authorization_since(),
                open_authorization_expires=open_authorization_expires(),
            )
        )

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Order | None:
        """The order of the page with what its fields show (buyer, addresses, term, checkout attempt), in one query."""
        queryset = order_page_queryset(self.get_queryset(request))
        field = Order._meta.pk if from_field is None else Order._meta.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})  # type: ignore[union-attr]
        except (Order.DoesNotExist, ValidationError, ValueError):
            return None

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """Resolve the method labels of the page once per distinct method, not once per order."""
        changelist = super().get_changelist_instance(request)
        orders = list(changelist.result_list)
        labels = method_short_labels(order.payment_method for order in orders)
        for order in orders:
            order.method_short_label = labels.get(order.payment_method, "")  # type: ignore[attr-defined]
        return changelist

    @admin.display(description="Checkout")
    def checkout_outcome(self, obj: Order) -> str:
        """How the buyer's checkout attempt that made the order ended; a failed one is not shown to the buyer."""
        attempt = getattr(obj, "checkout_attempt", None)
        if attempt is None:
            return "—"
        link = reverse("admin:checkout_checkoutattempt_change", args=[attempt.pk])
        if obj.discarded_at is None:
            return format_html('<a href="{}">Attempt {}</a>: {}', link, attempt.number, attempt.get_status_display())
        return format_html(
            '<strong class="discarded-order">Failed checkout attempt</strong> (<a href="{}">attempt {}</a>: {}), '
            "not shown to the buyer",
            link,
            attempt.number,
            attempt.get_status_display(),
        )

    @admin.display(description="Payment status", ordering="payment_status")
    def payment_badge(self, obj: Order) -> str:
        return status_badge(obj.payment_status)

    @admin.display(description="Payment method", ordering="payment_method")
    def method_label(self, obj: Order) -> str:
        if not obj.payment_method:
            return "—"
        if not hasattr(obj, "method_short_label"):  # the order page: with the methods of its payment history
            return order_page_reads(obj).method_labels[obj.payment_method]
        return obj.method_short_label

    @admin.display(description="Open authorization", ordering="open_authorization_expires")
    def authorization_age(self, obj: Order) -> str:
        """Age of the open authorization and when it lapses; highlighted inside the warning window."""
        since = getattr(obj, "open_authorization_since", None)
        if since is None:
            return ""
        expires = getattr(obj, "open_authorization_expires", None)
        if expires is None:
            return f"{timesince(since)} old"
        now = timezone.now()
        if expires <= now:
            return format_html('<strong class="auth-expired">expired</strong>')
        text = f"{timesince(since)} old, expires in {timeuntil(expires)}"
        if expires - now <= timedelta(hours=settings.AUTHORIZATION_EXPIRY_WARNING_HOURS):
            return format_html('<strong class="auth-expiring" style="color:#b42318">{}</strong>', text)
        return text

    def has_add_invoice_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.add_invoice")

    def has_capture_payment_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.capture_payment")

    @admin.action(
        description="Mark shipped (captures authorizations set to capture on shipment)",
        permissions=["capture_payment"],  # shipping makes captures due: only for staff who may capture
    )
    def mark_shipped(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            order_mark_shipped(order_id=order.pk)
        messages.success(request, f"{queryset.count()} order(s) marked shipped.")

    @admin.display(description="Amounts")
    def payment_summary(self, obj: Order) -> str:
        """Authorized, captured, refunded and outstanding, from the order's account (`payments.account`), so a
        partial capture that released the rest shows what was released and what is still owed."""
        account = order_page_reads(obj).account
        parts = [
            ("Authorized", account.authorized),
            ("Captured", account.taken),
            ("Refunded", account.refunded),
            ("Outstanding", account.outstanding),
        ]
        extra = [("Held", account.held), ("Released", account.released), ("In progress", account.in_flight)]
        parts += [(label, amount) for label, amount in extra if amount > 0]
        return format_html_join(
            " · ",
            '<span class="amount-{}">{} {}</span>',
            ((label.lower().replace(" ", "-"), label, _money(amount, obj.currency)) for label, amount in parts),
        )

    @admin.display(description="Subtotal")
    def subtotal_display(self, obj: Order) -> str:
        return _money(obj.subtotal, obj.currency)

    @admin.display(description="Shipping")
    def shipping_display(self, obj: Order) -> str:
        return _money(obj.shipping, obj.currency)

    @admin.display(description="Tax")
    def tax_display(self, obj: Order) -> str:
        return _money(obj.tax, obj.currency)

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj: Order) -> str:
        return _money(obj.total, obj.currency)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders come from checkout and from services, not from a blank form

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


def _money(amount: Decimal, currency: str) -> str:
    return format_money(Money(quantize(amount, currency), currency))


class AddressForm(forms.ModelForm):
    country = forms.ChoiceField(choices=country_choices)

    class Meta:
        model = Address
        fields = [
            "first_name",
            "last_name",
            "organization",
            "street",
            "street2",
            "city",
            "region_code",
            "region_name",
            "postal_code",
            "country",
            "phone",
        ]


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    form = AddressForm
    list_display = ["__str__", "country", "region_code", "postal_code"]
    search_fields = ["organization", "city", "postal_code"]
