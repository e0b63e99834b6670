import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_database_and_broker(client) -> None:
    response = client.get("/health/?workers=0")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "status": "ok"}


def test_health_without_workers_is_degraded_not_down(client, monkeypatch) -> None:
    from config import views

    monkeypatch.setattr(views.app.control, "ping", lambda timeout: [])
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["workers"] == []


def test_health_is_down_when_the_broker_is(client, settings, monkeypatch) -> None:
    from config import views

    monkeypatch.setattr(views.app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/health/?workers=0")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
