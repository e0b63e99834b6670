"""VAT ids of customers: EU ids checked for their country's format and check digits, others for their shape."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from customers.vat import vat_id_clean
from tests import factories


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("DE136695976", "DE136695976"),
        ("de 129 273 398", "DE129273398"),
        ("ATU13585627", "ATU13585627"),
        ("CHE-123.456.788", "CHE123456788"),  # not an EU id: its shape only
        ("", ""),
    ],
)
def test_a_valid_vat_id_is_kept_in_normal_form(typed: str, kept: str) -> None:
    assert vat_id_clean(typed) == kept


@pytest.mark.parametrize("typed", ["DE123456789", "DE12345678", "DE1366959761", "136695976", "D"])
def test_a_malformed_vat_id_is_refused(typed: str) -> None:
    with pytest.raises(ValidationError):
        vat_id_clean(typed)


@pytest.fixture
def staff_client(client):  # noqa: ANN001, ANN201
    client.force_login(factories.UserFactory(superuser=True))
    return client


@pytest.mark.django_db
def test_the_customer_page_refuses_a_wrong_german_vat_id_and_changes_nothing(staff_client) -> None:
    customer = factories.CustomerFactory(name="Muster GmbH", vat_id="DE136695976")
    form = {
        "name": "Muster GmbH",
        "group": "",
        "payment_term": "",
        "users-TOTAL_FORMS": "0",
        "users-INITIAL_FORMS": "0",
    }
    url = f"/admin/customers/customer/{customer.pk}/change/"
    refused = staff_client.post(url, {**form, "vat_id": "DE123456789"})
    assert refused.status_code == 200
    assert "is not a valid VAT id of DE" in refused.content.decode()
    customer.refresh_from_db()
    assert customer.vat_id == "DE136695976"
    taken = staff_client.post(url, {**form, "vat_id": "de 129 273 398"})
    assert taken.status_code == 302
    customer.refresh_from_db()
    assert customer.vat_id == "DE129273398"
