from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from api.services import api_token_create
from backoffice.roles import ADMINISTRATORS, SALES
from customers.models import Customer
from tests import factories


@dataclass
class Caller:
    """A user with a token-authenticated client."""

    user: User | None
    client: APIClient
    customer: Customer | None = None


def token_client(user: User) -> APIClient:
    _, raw = api_token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def staff_member(username: str, group: str) -> User:
    user = factories.UserFactory(username=username, staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def company_a() -> Customer:
    return factories.CustomerFactory(name="Acme")


@pytest.fixture
def company_b() -> Customer:
    return factories.CustomerFactory(name="Globex")


@pytest.fixture
def callers(company_a: Customer, company_b: Customer) -> dict[str, Caller]:
    """Everyone of the permission matrix: anonymous, a buyer of each company, sales, an administrator."""
    buyer_a = factories.CustomerUserFactory(customer=company_a, user__username="buyer_a")
    buyer_b = factories.CustomerUserFactory(customer=company_b, user__username="buyer_b")
    sales = staff_member("sales", SALES)
    admin = staff_member("admin", ADMINISTRATORS)
    return {
        "anonymous": Caller(None, APIClient()),
        "buyer_a": Caller(buyer_a.user, token_client(buyer_a.user), company_a),
        "buyer_b": Caller(buyer_b.user, token_client(buyer_b.user), company_b),
        "sales": Caller(sales, token_client(sales)),
        "admin": Caller(admin, token_client(admin)),
    }


@pytest.fixture
def admin_client(callers: dict[str, Caller]) -> APIClient:
    return callers["admin"].client


@pytest.fixture
def sales_client(callers: dict[str, Caller]) -> APIClient:
    return callers["sales"].client
