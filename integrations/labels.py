"""The one way a label is read in a language: integrations, their payment methods, back-office and storefront.

The reference stores labels as `LocalizedFallbackValue` collections (domain.md §3.1): the value of the buyer's
localization, else of its parent, else the default value. Here the localization is the page's language ("de-at"),
its parent the base language ("de"), and the default value that of `settings.LANGUAGE_CODE`, the one language the
integration form requires. A label in some other language is never shown instead: the next label in the chain
is (a short label's fallback is the label, a label's the integration's name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import get_language

from providers.base import MethodInfo

if TYPE_CHECKING:
    from integrations.models import Integration


def localized(values: Mapping[str, str] | object, language: str | None = None) -> str:
    """The value for `language` (default: the page's), its base language, or the default language; else ""."""
    if not isinstance(values, Mapping) or not values:
        return ""
    language = (language or get_language() or settings.LANGUAGE_CODE).lower()
    for code in (language, language.split("-")[0], settings.LANGUAGE_CODE):
        if value := values.get(code):
            return str(value)
    return ""


def method_label(method: MethodInfo, integration: Integration | None = None, language: str | None = None) -> str:
    """What the buyer chooses at checkout: the method's label, else the integration's (or the identifier)."""
    fallback = integration.label(language) if integration is not None else method.identifier
    return localized(method.labels, language) or fallback


def method_short_label(method: MethodInfo, integration: Integration, language: str | None = None) -> str:
    """What order pages and payment histories show, in the back-office and the storefront alike: the method's
    short label, else its label, else the integration's short label, label or name."""
    return (
        localized(method.short_labels, language)
        or localized(method.labels, language)
        or integration.short_label(language)
    )
