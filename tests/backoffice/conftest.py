from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from backoffice.roles import SALES
from tests import factories


@pytest.fixture
def sales(client) -> User:  # noqa: ANN001
    """A member of the Sales group, logged in on `client`."""
    user = factories.UserFactory(username="sam", staff=True)
    user.groups.add(Group.objects.get(name=SALES))
    client.force_login(user)
    return user
