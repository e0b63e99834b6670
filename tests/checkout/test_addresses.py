"""The address steps: the company's saved addresses to choose from, and a region dropdown per country, checked on
the server."""

from __future__ import annotations

from django.test import Client

from checkout.models import Checkout
from customers.models import CustomerUser
from orders.models import Address
from tests.checkout.conftest import DE_ADDRESS, US_ADDRESS, add, prefixed
from tests.factories import AddressFactory, OrderFactory


def open_checkout() -> Checkout:
    return Checkout.objects.get(completed_at__isnull=True)


def company_of(email: str):  # noqa: ANN201
    return CustomerUser.objects.get(user__username=email).customer


def test_the_region_dropdown_lists_the_regions_of_the_country(acme: Client) -> None:
    add(acme, "BOLT-M8")
    page = acme.get("/checkout/billing/").content.decode()
    assert '<select name="billing-region_code"' in page
    germany = acme.post("/checkout/billing/", prefixed("billing", {**DE_ADDRESS, "region_code": "US-IL"}))
    assert germany.status_code == 200
    html = germany.content.decode()
    assert "Choose a region of the chosen country." in html
    assert '<option value="DE-BY">Bayern</option>' in html
    assert '<option value="US-IL">' not in html
    assert open_checkout().billing_address == {}


def test_a_region_that_does_not_exist_is_refused(acme: Client) -> None:
    add(acme, "BOLT-M8")
    response = acme.post("/checkout/billing/", prefixed("billing", {**US_ADDRESS, "region_code": "US-XX"}))
    assert "Choose a region of the chosen country." in response.content.decode()
    assert open_checkout().billing_address == {}


def test_a_region_of_the_country_is_kept_with_its_name(acme: Client) -> None:
    add(acme, "BOLT-M8")
    response = acme.post("/checkout/billing/", prefixed("billing", {**US_ADDRESS, "region_code": "us-il"}))
    assert response["Location"] == "/checkout/shipping/"
    saved = open_checkout().billing_address
    assert (saved["region_code"], saved["region_name"]) == ("US-IL", "Illinois")


def test_the_regions_endpoint_answers_for_the_script(client: Client) -> None:
    regions = client.get("/checkout/regions/", {"country": "AT"}).json()["regions"]
    assert {"code": "AT-9", "name": "Wien"} in regions
    assert len(regions) == 9
    assert client.get("/checkout/regions/", {"country": "../etc"}).json() == {"regions": []}


def test_the_companys_saved_addresses_are_offered_and_chosen(acme: Client) -> None:
    acme_co = company_of("buyer@acme.example")
    address = AddressFactory(first_name="Rita", last_name="Receiving", street="9 Dock Road", region_code="US-IL")
    OrderFactory(customer=acme_co, billing_address=address, shipping_address=address)
    OrderFactory(
        customer=acme_co,
        billing_address=AddressFactory(
            street="9 Dock Road", first_name="Rita", last_name="Receiving", region_code="US-IL"
        ),
    )
    add(acme, "BOLT-M8")
    page = acme.get("/checkout/billing/").content.decode()
    assert '<label for="billing-saved">Saved address</label>' in page
    assert page.count("Rita Receiving, 9 Dock Road") == 1  # the same address of two orders is one entry
    response = acme.post("/checkout/billing/", {"billing-saved": str(address.pk), "billing-street": "ignored"})
    assert response.status_code == 302, [line for line in response.content.decode().splitlines() if "error" in line]
    assert response["Location"] == "/checkout/shipping/"
    saved = open_checkout().billing_address
    assert (saved["street"], saved["first_name"], saved["region_code"]) == ("9 Dock Road", "Rita", "US-IL")


def test_another_companys_address_cannot_be_chosen(acme: Client) -> None:
    theirs = AddressFactory(street="1 Globex Plaza")
    OrderFactory(customer=company_of("buyer@globex.example"), billing_address=theirs)
    add(acme, "BOLT-M8")
    assert "1 Globex Plaza" not in acme.get("/checkout/billing/").content.decode()
    for forged in (str(theirs.pk), "999999", "1 OR 1=1"):
        response = acme.post("/checkout/billing/", {"billing-saved": forged})
        assert response.status_code == 400
        assert "Please choose one of your saved addresses" in response.content.decode()
    assert open_checkout().billing_address == {}
    assert Address.objects.filter(street="1 Globex Plaza").count() == 1


def test_a_saved_address_can_be_the_shipping_address(acme: Client) -> None:
    address = AddressFactory(street="77 Warehouse Lane", first_name="Sam", last_name="Stock")
    OrderFactory(customer=company_of("buyer@acme.example"), shipping_address=address)
    add(acme, "BOLT-M8")
    acme.post("/checkout/billing/", prefixed("billing", US_ADDRESS))
    response = acme.post("/checkout/shipping/", {"shipping-saved": str(address.pk)})
    assert response["Location"] == "/checkout/shipping-method/"
    checkout = open_checkout()
    assert (checkout.ship_to_billing, checkout.shipping_address["street"]) == (False, "77 Warehouse Lane")
