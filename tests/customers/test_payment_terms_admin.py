"""Payment terms admin: labels, assignment on customers and groups, and the warning before deleting one in use."""

import pytest

from customers.models import PaymentTerm
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):  # noqa: ANN001, ANN201
    client.force_login(factories.UserFactory(superuser=True))
    return client


def test_list_counts_customers_and_groups_per_term(staff_client, django_assert_max_num_queries) -> None:
    net30 = factories.PaymentTermFactory(label="Net 30")
    for _ in range(3):
        factories.CustomerFactory(payment_term=net30)
    factories.CustomerGroupFactory(payment_term=net30)
    factories.PaymentTermFactory(label="COD")
    with django_assert_max_num_queries(8):
        page = staff_client.get("/admin/customers/paymentterm/")
    rows = page.context["cl"].result_list
    assert [(t.label, t.customer_count, t.group_count) for t in rows] == [("COD", 0, 0), ("Net 30", 3, 1)]


def test_delete_confirmation_lists_customers_and_groups_still_using_the_term(staff_client) -> None:
    net30 = factories.PaymentTermFactory(label="Net 30")
    acme = factories.CustomerFactory(name="ACME Industrial", payment_term=net30)
    wholesale = factories.CustomerGroupFactory(name="Wholesale", payment_term=net30)
    page = staff_client.get(f"/admin/customers/paymentterm/{net30.pk}/delete/").content.decode()
    assert "is still assigned" in page
    assert f'href="/admin/customers/customer/{acme.pk}/change/">ACME Industrial</a>' in page
    assert f'href="/admin/customers/customergroup/{wholesale.pk}/change/">Wholesale</a>' in page

    staff_client.post(f"/admin/customers/paymentterm/{net30.pk}/delete/", {"post": "yes"})
    assert PaymentTerm.objects.filter(pk=net30.pk).exists()  # protected while assigned


def test_unused_term_deletes_without_warning(staff_client) -> None:
    cod = factories.PaymentTermFactory(label="COD")
    page = staff_client.get(f"/admin/customers/paymentterm/{cod.pk}/delete/").content.decode()
    assert "is still assigned" not in page
    staff_client.post(f"/admin/customers/paymentterm/{cod.pk}/delete/", {"post": "yes"})
    assert not PaymentTerm.objects.filter(pk=cod.pk).exists()


def test_customer_page_assigns_a_term_and_shows_the_effective_one(staff_client) -> None:
    net60 = factories.PaymentTermFactory(label="Net 60")
    group = factories.CustomerGroupFactory(name="Wholesale", payment_term=net60)
    customer = factories.CustomerFactory(name="ACME", group=group)
    page = staff_client.get(f"/admin/customers/customer/{customer.pk}/change/").content.decode()
    assert "Net 60 (from group Wholesale)" in page
    assert 'name="payment_term"' in page

    net30 = factories.PaymentTermFactory(label="Net 30")
    response = staff_client.post(
        f"/admin/customers/customer/{customer.pk}/change/",
        {
            "name": "ACME",
            "vat_id": "",
            "group": group.pk,
            "payment_term": net30.pk,
            "users-TOTAL_FORMS": "0",
            "users-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    customer.refresh_from_db()
    assert customer.resolved_payment_term == net30
    term_page = staff_client.get(f"/admin/customers/paymentterm/{net30.pk}/change/").content.decode()
    assert f'href="/admin/customers/customer/{customer.pk}/change/">ACME</a>' in term_page
