"""The integration form: common fields plus the chosen provider's own settings; secrets are write-only, by the
rule of `integrations.services`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from integrations.models import Integration
from integrations.services import integration_values_apply, provider_values_with_stored
from providers import registry


class IntegrationForm(forms.ModelForm):
    """Built per provider by `integration_form_class`; provider fields are stored in `settings`/`secrets`."""

    provider: str = ""
    provider_fields: tuple[str, ...] = ()
    secret_fields: tuple[str, ...] = ()

    class Meta:
        model = Integration
        fields = [
            "provider_key",
            "name",
            "environment",
            "payment_action",
            "capture_policy",
            "capture_delay_hours",
            "active",
            "default_owner",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.provider and not self.instance.provider_key:
            self.instance.provider_key = self.provider
        self.fields["provider_key"].disabled = True
        self.fields["provider_key"].initial = self.instance.provider_key
        for code, language in settings.LANGUAGES:
            self.fields[f"label_{code}"] = forms.CharField(
                label=f"Label ({language})", required=code == settings.LANGUAGE_CODE, max_length=200
            )
            self.fields[f"short_label_{code}"] = forms.CharField(
                label=f"Short label ({language})", required=False, max_length=200
            )
            self.initial.setdefault(f"label_{code}", self.instance.labels.get(code, ""))
            self.initial.setdefault(f"short_label_{code}", self.instance.short_labels.get(code, ""))
        stored_secrets = self.instance.secrets or {}
        for name in self.provider_fields:
            if name in self.secret_fields:
                field = self.fields[name]
                field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
                is_set = bool(stored_secrets.get(name))
                if is_set:  # kept when left empty on edit
                    field.required = False
                field.help_text = ("Set; leave empty to keep it. " if is_set else "Not set. ") + str(field.help_text)
            else:
                self.initial.setdefault(name, self.instance.settings.get(name, self.fields[name].initial))

    def clean(self) -> dict[str, Any]:
        """Run the provider form's own validation too (key formats, cross-field checks), not only its fields."""
        cleaned = super().clean() or {}
        if not self.provider or any(name in self.errors for name in self.provider_fields):
            return cleaned
        data = provider_values_with_stored(  # a secret left empty on edit keeps (and is checked as) the stored one
            values={name: cleaned.get(name) for name in self.provider_fields},
            stored_secrets=self.instance.secrets or {},
            secret_fields=self.secret_fields,
        )
        provider_form = registry.settings_form_class(self.provider)(data=data)
        if provider_form.is_valid():
            for name, value in provider_form.cleaned_data.items():
                if name in self.provider_fields and (name not in self.secret_fields or cleaned.get(name)):
                    cleaned[name] = value
        else:
            for name, errors in provider_form.errors.items():
                for error in errors:
                    self.add_error(name if name in self.fields else None, error)
        return cleaned

    def save(self, commit: bool = True) -> Integration:
        integration: Integration = super().save(commit=False)
        integration_values_apply(
            integration=integration,
            values={name: self.cleaned_data.get(name) for name in self.provider_fields},
            secret_fields=self.secret_fields,
            labels=_per_language(self.cleaned_data, "label"),
            short_labels=_per_language(self.cleaned_data, "short_label"),
        )
        if commit:
            integration.save()
        return integration


def _per_language(data: dict[str, Any], prefix: str) -> dict[str, str]:
    return {code: data[f"{prefix}_{code}"] for code, _ in settings.LANGUAGES if data.get(f"{prefix}_{code}")}


def integration_form_class(provider_key: str) -> type[IntegrationForm]:
    """The form for one provider: its settings form's fields appended to the common ones."""
    provider_form = registry.settings_form_class(provider_key)
    base_fields = provider_form.base_fields
    attrs: dict[str, Any] = {
        **{name: field for name, field in base_fields.items()},
        "provider": provider_key,
        "provider_fields": tuple(base_fields),
        "secret_fields": tuple(getattr(provider_form, "secret_fields", ())),
        "__module__": __name__,
    }
    return type(f"{provider_key.title().replace('_', '')}IntegrationForm", (IntegrationForm,), attrs)
