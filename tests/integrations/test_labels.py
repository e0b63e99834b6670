"""Labels are read one way everywhere: the page's language, its base language, the default language, then the
next label in the chain (reference: LocalizedFallbackValue), never a label in some other language."""

import pytest
from django.test import override_settings
from django.utils import translation

from integrations.labels import localized, method_label, method_short_label
from integrations.selectors import method_short_labels
from providers.base import MethodInfo
from tests import factories

LABELS = {"en": "Check", "de": "Scheck"}


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "Scheck"), ("de-at", "Scheck"), ("en", "Check"), ("en-gb", "Check"), ("fr", "Check")],
)
def test_the_page_language_then_its_base_language_then_the_default_language(language, expected):
    with translation.override(language):
        assert localized(LABELS) == expected


def test_an_explicit_language_wins_over_the_page_language():
    with translation.override("fr"):
        assert localized(LABELS, "de") == "Scheck"


def test_a_label_only_in_another_language_is_not_shown():
    with translation.override("fr"):
        assert localized({"de": "Scheck"}) == ""


@override_settings(LANGUAGE_CODE="de")
def test_the_default_language_is_the_sites_own():
    with translation.override("fr"):
        assert localized(LABELS) == "Scheck"


@pytest.mark.parametrize("values", [{}, None, "Check", {"en": ""}])
def test_nothing_to_read_is_empty(values):
    assert localized(values, "en") == ""


@pytest.mark.django_db
def test_a_short_label_falls_back_to_the_label_then_to_the_integration():
    integration = factories.IntegrationFactory(name="Checks", labels={"en": "Check"}, short_labels={})
    method = MethodInfo(identifier=f"money_order_{integration.pk}", integration_id=integration.pk, provider_key="x")
    with translation.override("de"):
        assert method_short_label(method, integration) == "Check"  # the integration's label, in the default
        assert method_label(method, integration) == "Check"
        assert method_label(method) == method.identifier  # no integration at hand: the identifier
    labelled = MethodInfo(
        identifier=method.identifier,
        integration_id=integration.pk,
        provider_key="x",
        labels={"en": "Check", "de": "Scheck"},
        short_labels={"de": "Sch."},
    )
    with translation.override("de"):
        assert method_short_label(labelled, integration) == "Sch."
    with translation.override("fr"):
        assert method_short_label(labelled, integration) == "Check"  # no French short label: the label
    german_only = factories.IntegrationFactory(name="Schecks", labels={"de": "Scheck"})
    with translation.override("fr"):
        assert method_short_label(method, german_only) == "Schecks"  # nothing in French or English: the name


@pytest.mark.django_db
def test_method_short_labels_read_each_identifier_in_the_page_language():
    integration = factories.IntegrationFactory(labels={"en": "Check"}, short_labels={"en": "Chk", "de": "Sch"})
    identifier = f"money_order_{integration.pk}"
    with translation.override("de"):
        assert method_short_labels([identifier, identifier, "", "nothing_9"]) == {
            identifier: "Sch",
            "nothing_9": "nothing_9",
        }
    with translation.override("fr"):
        assert method_short_labels([identifier]) == {identifier: "Chk"}
    assert method_short_labels([identifier], language="de") == {identifier: "Sch"}
