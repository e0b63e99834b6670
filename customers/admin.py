from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html_join

from customers.models import Customer, CustomerGroup, CustomerUser, PaymentTerm
from customers.vat import vat_id_clean


def _links(objects: list[Customer] | list[CustomerGroup], url_name: str) -> str:
    if not objects:
        return "—"
    return format_html_join(", ", '<a href="{}">{}</a>', ((reverse(url_name, args=[o.pk]), o) for o in objects))


@admin.register(PaymentTerm)
class PaymentTermAdmin(admin.ModelAdmin):
    """Terms are labels ("Net 30") assigned to customers and customer groups; a term in use cannot be deleted."""

    list_display = ["label", "customer_count", "group_count"]
    search_fields = ["label"]
    readonly_fields = ["used_by_customers", "used_by_groups"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PaymentTerm]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                customer_count=Count("customers", distinct=True), group_count=Count("customer_groups", distinct=True)
            )
        )

    @admin.display(description="Customers", ordering="customer_count")
    def customer_count(self, obj: PaymentTerm) -> int:
        return obj.customer_count  # type: ignore[attr-defined]  # annotated in get_queryset

    @admin.display(description="Customer groups", ordering="group_count")
    def group_count(self, obj: PaymentTerm) -> int:
        return obj.group_count  # type: ignore[attr-defined]  # annotated in get_queryset

    @admin.display(description="Assigned to customers")
    def used_by_customers(self, obj: PaymentTerm) -> str:
        return _links(list(obj.customers.all()), "admin:customers_customer_change")

    @admin.display(description="Assigned to customer groups")
    def used_by_groups(self, obj: PaymentTerm) -> str:
        return _links(list(obj.customer_groups.all()), "admin:customers_customergroup_change")

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Like the reference, the confirmation names the customers and groups that still use the term."""
        term = PaymentTerm.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if term is not None:
            extra_context = {
                **(extra_context or {}),
                "term_customers": list(term.customers.all()),
                "term_groups": list(term.customer_groups.all()),
            }
        return super().delete_view(request, object_id, extra_context)


@admin.register(CustomerGroup)
class CustomerGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "payment_term", "customer_count"]
    list_filter = ["payment_term"]
    list_select_related = ["payment_term"]
    search_fields = ["name"]
    fields = ["name", "payment_term"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CustomerGroup]:
        return super().get_queryset(request).annotate(customer_count=Count("customers"))

    @admin.display(description="Customers", ordering="customer_count")
    def customer_count(self, obj: CustomerGroup) -> int:
        return obj.customer_count  # type: ignore[attr-defined]  # annotated in get_queryset


class CustomerUserInline(admin.TabularInline):
    model = CustomerUser
    extra = 0
    raw_id_fields = ["user"]


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["name", "vat_id", "group", "payment_term"]

    def clean_vat_id(self) -> str:
        """Checked and kept in one form, so providers that need a VAT id (InfinitePay) get one they accept."""
        return vat_id_clean(self.cleaned_data.get("vat_id", ""))


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerForm
    list_display = ["name", "vat_id", "group", "effective_payment_term"]
    list_filter = ["group", "payment_term"]
    list_select_related = ["group__payment_term", "payment_term"]
    search_fields = ["name", "vat_id"]
    fields = ["name", "vat_id", "group", "payment_term", "effective_payment_term"]
    readonly_fields = ["effective_payment_term"]
    inlines = [CustomerUserInline]

    @admin.display(description="Effective payment term")
    def effective_payment_term(self, obj: Customer) -> str:
        """The term checkout uses: the customer's own, otherwise its group's; none means no Payment Terms method."""
        if obj.pk is None:
            return "—"
        if obj.payment_term_id is not None:
            return f"{obj.payment_term} (own)"
        if obj.group is not None and obj.group.payment_term_id is not None:
            return f"{obj.group.payment_term} (from group {obj.group})"
        return "None: Payment Terms is not offered to this customer"


@admin.register(CustomerUser)
class CustomerUserAdmin(admin.ModelAdmin):
    list_display = ["user", "customer"]
    list_select_related = ["user", "customer"]
    search_fields = ["user__email", "user__username", "customer__name"]
    raw_id_fields = ["user"]
