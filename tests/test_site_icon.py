"""The site icon: both layouts link it, static files serve it, and /favicon.ico finds it for every other page."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["/", "/admin/login/"], ids=["storefront", "back-office"])
def test_both_layouts_link_the_site_icon(client, page: str) -> None:
    html = client.get(page).content.decode()
    assert re.findall(r'<link rel="icon" href="([^"]+)"', html) == ["/static/favicon.svg", "/static/favicon.ico"]


def test_the_icons_are_static_files() -> None:
    svg, ico = finders.find("favicon.svg"), finders.find("favicon.ico")
    assert svg
    assert ico
    with open(svg, "rb") as file:
        assert file.read(4) == b"<svg"
    with open(ico, "rb") as file:
        assert file.read(4) == b"\x00\x00\x01\x00"  # an ICO header


@pytest.mark.parametrize("method", ["get", "head"])
def test_favicon_ico_leads_to_the_static_icon(client, method: str) -> None:
    response = getattr(client, method)("/favicon.ico")
    assert (response.status_code, response["Location"]) == (301, "/static/favicon.ico")
