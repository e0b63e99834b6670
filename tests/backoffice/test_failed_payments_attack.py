"""Failed payments on the dashboard: a failed checkout attempt is counted once, but a failure of a later operation
on its order (the void of a late hold of an abandoned attempt, which leaves the buyer's money held) is its own
failure and must not be hidden behind the attempt."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from backoffice.selectors import dashboard
from payments.models import Action
from tests import factories
from tests.backoffice.test_failed_payments import attempt, declined_row

pytestmark = pytest.mark.django_db


def test_a_declined_void_of_a_late_hold_on_an_abandoned_attempt_is_counted_today(gateway_integration) -> None:  # noqa: ANN001
    old = attempt(gateway_integration, "abandoned", days_ago=2)  # given up two days ago: not today's failure
    cancel = declined_row(old.order, gateway_integration, Action.CANCEL)  # today: the late hold could not be voided

    figures = dashboard()

    assert figures.failed_today_count == 1
    assert {(item.kind, item.pk) for item in figures.failed_today} == {("payment", cancel.pk)}


def test_an_attempt_and_a_later_declined_operation_on_its_order_count_as_two(gateway_integration) -> None:  # noqa: ANN001
    abandoned = attempt(gateway_integration, "abandoned")
    cancel = declined_row(abandoned.order, gateway_integration, Action.CANCEL)

    figures = dashboard()

    assert figures.failed_today_count == 2
    assert {(item.kind, item.pk) for item in figures.failed_today} == {
        ("checkout", abandoned.pk),
        ("payment", cancel.pk),
    }


def test_the_attempts_own_declined_payment_is_still_counted_once(gateway_integration) -> None:  # noqa: ANN001
    declined = attempt(gateway_integration, "declined", reason="card_declined")
    declined_row(declined.order, gateway_integration, Action.AUTHORIZE)

    assert dashboard().failed_today_count == 1


def test_provider_references_on_the_dashboard_follow_the_permissions_that_show_them_elsewhere(
    client,  # noqa: ANN001
    gateway_integration,  # noqa: ANN001
) -> None:
    placed = factories.OrderFactory()
    declined_row(placed, gateway_integration, Action.CAPTURE)  # reference ref-<order id>
    attempt(gateway_integration, "declined", reference="pi_attempt_ref")
    user = factories.UserFactory(staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_order"))
    client.force_login(user)

    html = client.get("/admin/").content.decode()

    assert "Failed payments today (2)" in html
    assert f"ref-{placed.pk}" not in html
    assert "pi_attempt_ref" not in html

    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_payment_history", "view_checkoutattempt"]))
    html = client.get("/admin/").content.decode()

    assert f"ref-{placed.pk}" in html
    assert "pi_attempt_ref" in html
