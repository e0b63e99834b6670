"""Base of each provider's integration-settings form."""

from typing import ClassVar

from django import forms


class ProviderSettingsForm(forms.Form):
    """A provider's own settings. Fields named in `secret_fields` are encrypted at rest and write-only:
    rendered empty, shown as set/unset, and kept when left empty on edit."""

    secret_fields: ClassVar[tuple[str, ...]] = ()
