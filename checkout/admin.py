from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from checkout.models import Category, CheckoutAttempt, InventoryLevel, Product, Warehouse
from core.choices import currency_choices
from core.money import Money, format_money, quantize
from integrations.selectors import method_short_labels
from payments.models import PaymentTransaction


class InventoryLevelInline(admin.TabularInline):
    model = InventoryLevel
    extra = 0
    verbose_name_plural = "stock per warehouse (in the unit the product is sold in)"


class ProductForm(forms.ModelForm):
    currency = forms.ChoiceField(choices=currency_choices)

    class Meta:
        model = Product
        fields = [
            "sku",
            "name",
            "price",
            "currency",
            "active",
            "category",
            "unit",
            "unit_precision",
            "weight",
            "weight_unit",
            "length",
            "width",
            "height",
            "dimension_unit",
        ]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = ["sku", "name", "price_display", "category", "unit", "weight", "weight_unit", "active"]
    list_filter = ["currency", "active", "category"]
    search_fields = ["sku", "name"]
    list_select_related = ["category"]
    inlines = [InventoryLevelInline]

    @admin.display(description="Price", ordering="price")
    def price_display(self, obj: Product) -> str:
        return format_money(Money(quantize(obj.price, obj.currency), obj.currency))

    fieldsets = [
        (None, {"fields": ["sku", "name", "price", "currency", "active", "category"]}),
        ("Unit", {"fields": ["unit", "unit_precision"]}),
        (
            "Shipping (per unit; payment rules can read it)",
            {"fields": ["weight", "weight_unit", "length", "width", "height", "dimension_unit"]},
        ),
    ]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "id"]
    search_fields = ["name"]


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["name", "id"]
    search_fields = ["name"]


class OutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("failed", "Failed (no order for the buyer)"), ("kept", "Order placed"), ("open", "Under way")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CheckoutAttempt]) -> QuerySet[CheckoutAttempt]:
        groups = {
            "failed": CheckoutAttempt.FAILED,
            "kept": CheckoutAttempt.KEPT,
            "open": {CheckoutAttempt.Status.SUBMITTING, CheckoutAttempt.Status.AWAITING_BUYER},
        }
        wanted = groups.get(self.value() or "")
        return queryset.filter(status__in=wanted) if wanted else queryset


class MethodFilter(admin.SimpleListFilter):
    title = "payment method"
    parameter_name = "method"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        identifiers = sorted(
            CheckoutAttempt.objects.order_by().values_list("payment_method", flat=True).distinct()[:100]
        )
        labels = method_short_labels(identifiers)
        return [(i, f"{labels.get(i, i)} ({i})") for i in identifiers]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CheckoutAttempt]) -> QuerySet[CheckoutAttempt]:
        return queryset.filter(payment_method=self.value()) if self.value() else queryset


@admin.register(CheckoutAttempt)
class CheckoutAttemptAdmin(admin.ModelAdmin):
    """Every submission of a checkout, also those that left the buyer no order (declined, refused, abandoned):
    what was tried, what the provider answered, and the ledger rows. Read-only: the checkout writes them."""

    list_display = [
        "created_at",
        "customer",
        "buyer",
        "amount_display",
        "method_label",
        "status",
        "reason",
        "provider_reference",
        "order_link",
        "finished_at",
    ]
    list_filter = [OutcomeFilter, "status", MethodFilter, "created_at", "currency"]
    list_select_related = ["customer", "customer_user__user", "order"]
    search_fields = [
        "order__number",
        "provider_reference",
        "idempotency_key",
        "customer__name",
        "customer_user__user__email",
    ]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "order_link",
        "status",
        "customer",
        "buyer",
        "amount_display",
        "method_label",
        "reason",
        "message",
        "provider_reference",
        "idempotency_key",
        "number",
        "created_at",
        "finished_at",
        "ledger",
    )

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """Resolve the method labels of the page once per distinct method, not once per attempt."""
        changelist = super().get_changelist_instance(request)
        attempts = list(changelist.result_list)
        labels = method_short_labels(attempt.payment_method for attempt in attempts)
        for attempt in attempts:
            attempt.method_short_label = labels.get(attempt.payment_method, attempt.payment_method)  # type: ignore[attr-defined]
        return changelist

    @admin.display(description="Payment method", ordering="payment_method")
    def method_label(self, obj: CheckoutAttempt) -> str:
        if not hasattr(obj, "method_short_label"):
            return method_short_labels([obj.payment_method]).get(obj.payment_method, obj.payment_method)
        return obj.method_short_label

    @admin.display(description="Buyer", ordering="customer_user__user__email")
    def buyer(self, obj: CheckoutAttempt) -> str:
        user = obj.customer_user.user if obj.customer_user else None
        return user.email or user.get_username() if user else "—"

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: CheckoutAttempt) -> str:
        return format_money(obj.money)

    @admin.display(description="Order", ordering="order__number")
    def order_link(self, obj: CheckoutAttempt) -> str:
        link = reverse("admin:orders_order_change", args=[obj.order_id])
        hidden = " (not shown to the buyer)" if obj.order.discarded_at else ""
        return format_html('<a href="{}">{}</a>{}', link, obj.order.number, hidden)

    @admin.display(description="Payment transactions")
    def ledger(self, obj: CheckoutAttempt) -> str:
        """The order's ledger rows, later releases of a late payment included."""
        rows = PaymentTransaction.objects.filter(order_id=obj.order_id).order_by("created_at", "id")
        if not rows:
            return "None: the payment was never sent to the provider."
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    date_format(timezone.localtime(row.created_at), "DATETIME_FORMAT"),
                    row.get_action_display(),
                    format_money(row.money),
                    row.get_state_display(),
                    row.provider_reference or "—",
                    row.message or row.error_code or "",
                )
                for row in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>When</th><th>Action</th><th>Amount</th><th>State</th><th>Reference</th>"
            "<th>Provider's answer</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    def get_fields(self, request: HttpRequest, obj: CheckoutAttempt | None = None) -> tuple[str, ...]:
        if request.user.has_perm("payments.view_payment_history"):  # as on the order page
            return self.fields
        return tuple(name for name in self.fields if name != "ledger")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CheckoutAttempt | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CheckoutAttempt | None = None) -> bool:
        return False
