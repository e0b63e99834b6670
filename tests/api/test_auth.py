from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.test import APIClient

from api.models import ApiToken
from api.services import api_token_create, api_token_revoke, token_hash
from backoffice.roles import ADMINISTRATORS
from tests import factories

pytestmark = pytest.mark.django_db


def test_no_credentials_is_401_with_the_error_body_and_a_challenge():
    response = APIClient().get("/api/v1/orders/")

    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "field": None,
        }
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_token_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer pd_nothing")

    response = client.get("/api/v1/me/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_token_is_stored_hashed_and_works_until_revoked():
    user = factories.UserFactory(username="erp")
    token, raw = api_token_create(user=user, name="ERP")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert ApiToken.objects.get().key_hash == token_hash(raw) != raw
    assert raw not in {token.prefix, token.key_hash}
    assert client.get("/api/v1/me/").json()["username"] == "erp"

    api_token_revoke(token_id=token.pk)

    assert client.get("/api/v1/me/").status_code == 401


def test_a_token_of_an_inactive_user_is_refused():
    user = factories.UserFactory(username="gone", is_active=False)
    _, raw = api_token_create(user=user, name="old")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert client.get("/api/v1/me/").status_code == 401


def test_the_session_of_the_site_authenticates_too():
    user = factories.UserFactory(username="browser")
    client = APIClient()
    client.force_login(user)

    assert client.get("/api/v1/me/").json()["username"] == "browser"


def test_a_token_from_username_and_password_is_shown_once_and_rate_limited():
    cache.clear()
    factories.UserFactory(username="script")
    client = APIClient()

    made = client.post("/api/v1/auth/token/", {"username": "script", "password": "pw", "name": "cron"}, format="json")

    assert made.status_code == 201
    assert made.json()["token"].startswith("pd_")
    assert ApiToken.objects.get(name="cron").key_hash == token_hash(made.json()["token"])
    wrong = client.post("/api/v1/auth/token/", {"username": "script", "password": "no"}, format="json")
    assert wrong.status_code == 401
    statuses = [
        client.post("/api/v1/auth/token/", {"username": "script", "password": "no"}, format="json").status_code
        for _ in range(10)
    ]
    assert statuses[-1] == 429
    assert ApiToken.objects.count() == 1
    cache.clear()


def test_the_back_office_makes_a_token_shows_it_once_and_revokes_it(client):  # noqa: ANN001
    admin = factories.UserFactory(username="boss", staff=True)
    admin.groups.add(Group.objects.get(name=ADMINISTRATORS))
    owner = factories.UserFactory(username="erp")
    client.force_login(admin)

    response = client.post("/admin/api/apitoken/add/", {"user": owner.pk, "name": "ERP"}, follow=True)

    token = ApiToken.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    raw = next(word for message in shown for word in message.split() if word.startswith("pd_"))
    assert token.key_hash == token_hash(raw)
    assert raw not in client.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()

    client.post(
        "/admin/api/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
