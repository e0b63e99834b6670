"""Roles: Administrators may do everything, Sales work on orders and payments; the seed puts users in them."""

import pytest
from django.contrib.auth.models import Group, Permission, User

from backoffice.roles import ADMINISTRATORS, SALES, roles_ensure
from demo.seed import seed_demo
from tests import factories

pytestmark = pytest.mark.django_db


def member(group: str, username: str = "someone") -> User:
    user = factories.UserFactory(username=username, staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def test_migration_created_both_groups_and_administrators_hold_every_permission() -> None:
    administrators = Group.objects.get(name=ADMINISTRATORS)
    assert administrators.permissions.count() == Permission.objects.count()
    assert Group.objects.filter(name=SALES).exists()


def test_sales_may_work_on_payments_but_not_on_integrations() -> None:
    sales = member(SALES)
    for perm in [
        "orders.view_order",
        "payments.view_payment_history",
        "payments.capture_payment",
        "payments.cancel_payment",
        "payments.refund_payment",
    ]:
        assert sales.has_perm(perm), perm
    for perm in [
        "integrations.view_integration",
        "integrations.add_integration",
        "integrations.change_integration",
        "orders.change_order",
        "customers.change_paymentterm",
        "auth.view_user",
    ]:
        assert not sales.has_perm(perm), perm


def test_roles_ensure_is_idempotent_and_restores_what_was_removed() -> None:
    Group.objects.get(name=SALES).permissions.clear()
    roles_ensure()
    roles_ensure()
    assert Group.objects.filter(name__in=[ADMINISTRATORS, SALES]).count() == 2
    assert Group.objects.get(name=SALES).permissions.filter(codename="capture_payment").exists()


def test_seed_puts_admin_and_sales_in_their_groups_and_runs_twice() -> None:
    seed_demo()
    seed_demo()
    admin, sales = User.objects.get(username="admin"), User.objects.get(username="sales")
    assert list(admin.groups.values_list("name", flat=True)) == [ADMINISTRATORS]
    assert list(sales.groups.values_list("name", flat=True)) == [SALES]
    assert not admin.is_superuser  # the role grants what an administrator does, not a bypass
    assert admin.has_perm("integrations.add_integration")
    assert not sales.user_permissions.exists()


def test_sales_gets_403_on_integrations_and_administrators_get_the_list(client) -> None:
    client.force_login(member(SALES, "sam"))
    assert client.get("/admin/integrations/integration/").status_code == 403
    assert client.get("/admin/integrations/integration/add/").status_code == 403
    client.force_login(member(ADMINISTRATORS, "ada"))
    assert client.get("/admin/integrations/integration/").status_code == 200


def test_the_ledger_list_needs_the_payment_history_permission(client) -> None:
    from django.contrib.auth.models import Permission

    user = factories.UserFactory(username="clerk", staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_paymenttransaction"))
    client.force_login(user)
    assert client.get("/admin/payments/paymenttransaction/").status_code == 403
    client.force_login(member(SALES, "sam"))
    assert client.get("/admin/payments/paymenttransaction/").status_code == 200
