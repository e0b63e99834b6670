"""Base of each provider's integration-settings form."""

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from django import forms


class ProviderSettingsForm(forms.Form):
    """A provider's own settings. Fields named in `secret_fields` are encrypted at rest and write-only:
    rendered empty, shown as set/unset, and kept when left empty on edit."""

    secret_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def credential_mode(cls, settings: Mapping[str, Any]) -> Literal["test", "live"] | None:
        """Whether these settings (secrets included) are the provider's test or live credentials.

        Providers whose keys say so (Stripe's `sk_test_` / `sk_live_`) override this; the back-office warns
        when the answer contradicts the integration's environment. None: the credentials do not tell.
        """
        return None
