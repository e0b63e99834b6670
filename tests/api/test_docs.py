"""The OpenAPI schema validates, and its documentation pages are served from the site itself (no CDN)."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):  # noqa: ANN001
    out = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    text = out.read_text()
    assert "/api/v1/transactions/{id}/capture/" in text
    assert "Idempotency-Key" in text
    assert "tokenAuth" in text


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_swagger_ui_and_redoc_load_only_from_this_site(client, page):  # noqa: ANN001
    html = client.get(page).content.decode()

    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(s.startswith("/") for s in sources), sources


def test_the_back_office_links_to_the_api_docs(client):  # noqa: ANN001
    client.force_login(factories.UserFactory(username="boss", superuser=True))

    page = client.get("/admin/").content.decode()

    assert 'href="/api/docs/"' in page
    assert 'href="/api/redoc/"' in page


def test_the_schema_is_public_and_json_on_request():
    response = APIClient().get("/api/schema/?format=json")

    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Paydesk API"
