from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html, format_html_join

from core.choices import country_choices, currency_choices
from integrations.adapters import integration_methods
from integrations.models import Integration
from integrations.selectors import IDENTIFIER, method_resolve
from payment_rules.expression import DIFFERENCES, MAX_STEPS
from payment_rules.expression.schema import LARGE_CART_LINES, VARIABLES
from payment_rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod
from payment_rules.preview import PreviewForm, rule_preview


def live_method_choices() -> list[tuple[str, str]]:
    """Methods of live integrations only: a deleted or inactive integration cannot be added to a rule."""
    choices = []
    for integration in Integration.objects.live().order_by("name"):
        for method in integration_methods(integration):
            suffix = f" ({method.variant})" if method.variant else ""
            choices.append((method.identifier, f"{integration.name}{suffix}"))
    return choices


class PaymentRuleMethodForm(forms.ModelForm):
    method = forms.ChoiceField(choices=())

    class Meta:
        model = PaymentRuleMethod
        fields = ["method", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = live_method_choices()
        current = self.instance.method if self.instance.pk else ""
        if current and current not in dict(choices):  # keep showing a disabled method of a deleted integration
            choices.append((current, f"{current} (integration inactive or deleted)"))
        method_field = cast(forms.ChoiceField, self.fields["method"])
        method_field.choices = [("", "---------"), *choices]

    def save(self, commit: bool = True) -> PaymentRuleMethod:
        method: PaymentRuleMethod = super().save(commit=False)
        try:
            method.integration, _ = method_resolve(method.method, active_only=False)
        except LookupError:
            method.integration = None
        if commit:
            method.save()
        return method


class MethodFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen: set[int] = set()
        for form in self.forms:
            if not getattr(form, "cleaned_data", None) or form.cleaned_data.get("DELETE"):
                continue
            identifier = form.cleaned_data.get("method", "")
            integration_id = _integration_id(identifier)
            if integration_id in seen:
                raise forms.ValidationError("Add only one method per integration to a rule.")
            seen.add(integration_id)
            _check_currency(identifier, (self.instance.currency or "").upper())


def _check_currency(identifier: str, currency: str) -> None:
    """A method that takes only some currencies (SEPA direct debit: EUR) cannot be offered by a rule in another."""
    try:
        integration, method = method_resolve(identifier, active_only=False)
    except LookupError:
        return
    if method.currencies is not None and currency and currency not in method.currencies:
        label = method.short_labels.get("en") or method.variant or method.identifier
        raise forms.ValidationError(
            f"{integration.name} {label} is not available for {currency}; it takes only "
            f"{', '.join(sorted(method.currencies))}."
        )


def _method_name(method: PaymentRuleMethod) -> str:
    if method.integration is None:
        return f"{method.method} (integration deleted)"
    match = IDENTIFIER.match(method.method)
    variant = match["variant"] if match else None
    return f"{method.integration.name} ({variant})" if variant else method.integration.name


def _integration_id(identifier: str) -> int:
    match = IDENTIFIER.match(identifier)
    return int(match["id"]) if match else -1


class MethodInline(admin.TabularInline):
    model = PaymentRuleMethod
    form = PaymentRuleMethodForm
    formset = MethodFormSet
    extra = 0
    min_num = 1
    verbose_name = "payment method"
    verbose_name_plural = "payment methods (at least one)"

    def get_formset(self, request: HttpRequest, obj: PaymentRule | None = None, **kwargs: Any):  # type: ignore[override]
        kwargs["validate_min"] = True  # the admin does not pass it on by itself
        return super().get_formset(request, obj, **kwargs)


class DestinationForm(forms.ModelForm):
    country = forms.ChoiceField(choices=country_choices)

    class Meta:
        model = PaymentRuleDestination
        fields = ["country", "region_code", "postal_codes"]
        widgets = {
            "postal_codes": forms.Textarea(attrs={"rows": 1, "cols": 30}),
            "region_code": forms.TextInput(attrs={"size": 8, "placeholder": "e.g. US-NY"}),
        }


class DestinationInline(admin.TabularInline):
    model = PaymentRuleDestination
    form = DestinationForm
    extra = 0
    fields = ["country", "region_code", "postal_codes"]


def expression_help() -> str:
    variables = ", ".join(VARIABLES)
    return format_html(
        "<p>Variables: {}. Collections go through <code>all()</code>, <code>any()</code> and <code>sum()</code>, "
        "e.g. <code>lineItems.sum(lineItem.weight.value * lineItem.quantity) &lt; 500.0</code>. A condition may "
        "take at most {} steps; its worst case is estimated on a cart of {} lines when you save.</p>"
        "<p>Where this differs from the reference's expression language:</p><ul>{}</ul>",
        variables,
        f"{MAX_STEPS:,}",
        LARGE_CART_LINES,
        format_html_join("", "<li>{}</li>", ((difference,) for difference in DIFFERENCES)),
    )


class PaymentRuleForm(forms.ModelForm):
    currency = forms.ChoiceField(choices=currency_choices, help_text="The currency of the orders this rule serves.")

    class Meta:
        model = PaymentRule
        fields = ["enabled", "name", "sort_order", "currency", "stop_processing", "expression"]


@admin.register(PaymentRule)
class PaymentRuleAdmin(admin.ModelAdmin):
    form = PaymentRuleForm
    list_display = ["name", "enabled", "sort_order", "currency", "stop_processing", "method_list", "destination_list"]
    list_display_links = ["name"]
    list_editable = ["enabled", "sort_order"]
    list_filter = ["enabled", "currency", "stop_processing"]
    search_fields = ["name", "expression", "methods__method"]
    ordering = ["sort_order", "id"]
    inlines = [DestinationInline, MethodInline]
    actions = ["enable_rules", "disable_rules"]
    fieldsets = [
        (None, {"fields": ["enabled", "name", "sort_order", "currency", "stop_processing"]}),
        ("Condition", {"fields": ["expression"]}),
    ]
    change_form_template = "admin/payment_rules/paymentrule/change_form.html"
    change_list_template = "admin/payment_rules/paymentrule/change_list.html"

    def get_fieldsets(self, request: HttpRequest, obj: PaymentRule | None = None):  # type: ignore[no-untyped-def]
        (general, condition) = super().get_fieldsets(request, obj)
        return [general, (condition[0], {**condition[1], "description": expression_help()})]

    def get_urls(self) -> list[URLPattern]:
        preview = path(
            "preview/", self.admin_site.admin_view(self.preview_view), name="payment_rules_paymentrule_preview"
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """Run every rule against a recent order or cart: what each rule did and which methods would be offered.

        Reads orders and carts, so it needs the order view permission as well as the rule view permission.
        """
        if not self.has_view_permission(request) or not request.user.has_perm("orders.view_order"):
            raise PermissionDenied
        form = PreviewForm(request.GET or None)
        result = rule_preview(form) if form.is_bound and form.is_valid() else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Preview payment rules",
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/payment_rules/preview.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PaymentRule]:
        return super().get_queryset(request).prefetch_related("methods__integration", "destinations")

    @admin.display(description="Methods")
    def method_list(self, rule: PaymentRule) -> str:
        """The integrations' names (and the method's variant), as the rule form offers them, not identifiers."""
        return ", ".join(_method_name(m) + ("" if m.enabled else " (disabled)") for m in rule.methods.all())

    @admin.display(description="Destinations")
    def destination_list(self, rule: PaymentRule) -> str:
        return "; ".join(str(d) for d in rule.destinations.all()) or "anywhere"

    @admin.action(description="Enable selected rules", permissions=["change"])
    def enable_rules(self, request: HttpRequest, queryset: QuerySet[PaymentRule]) -> None:
        for rule in queryset:
            rule.enabled = True
            rule.save(update_fields=["enabled", "updated_at"])
        messages.success(request, f"{queryset.count()} rule(s) enabled.")

    @admin.action(description="Disable selected rules", permissions=["change"])
    def disable_rules(self, request: HttpRequest, queryset: QuerySet[PaymentRule]) -> None:
        for rule in queryset:
            rule.enabled = False
            rule.save(update_fields=["enabled", "updated_at"])
        messages.success(request, f"{queryset.count()} rule(s) disabled.")
