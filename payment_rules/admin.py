from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from integrations.adapters import integration_methods
from integrations.models import Integration
from integrations.selectors import IDENTIFIER, method_resolve
from payment_rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod


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


class DestinationInline(admin.TabularInline):
    model = PaymentRuleDestination
    extra = 0
    fields = ["country", "region_code", "postal_codes"]
    formfield_overrides = {
        PaymentRuleDestination._meta.get_field("postal_codes").__class__: {
            "widget": forms.Textarea(attrs={"rows": 1, "cols": 30})
        }
    }


@admin.register(PaymentRule)
class PaymentRuleAdmin(admin.ModelAdmin):
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[PaymentRule]:
        return super().get_queryset(request).prefetch_related("methods", "destinations")

    @admin.display(description="Methods")
    def method_list(self, rule: PaymentRule) -> str:
        return ", ".join(m.method + ("" if m.enabled else " (disabled)") for m in rule.methods.all())

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
