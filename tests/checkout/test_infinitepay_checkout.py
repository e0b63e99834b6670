"""InfinitePay at the storefront: offered only to a company with a VAT id, its debtor data checked on the server."""

from __future__ import annotations

from django.test import Client

from checkout.models import Checkout
from integrations.models import Integration
from payments.models import PaymentTransaction, State
from sandbox.models import SimObject
from tests.checkout.conftest import DE_ADDRESS, add, choose, to_payment_step

LABEL = "Invoice (InfinitePay)"


def method() -> str:
    return f"infinitepay_{Integration.objects.get(provider_key='infinitepay').pk}"


def test_a_company_without_vat_id_is_not_offered_infinitepay_and_cannot_choose_it(globex: Client) -> None:
    add(globex, "RELAY-24V")
    to_payment_step(globex, DE_ADDRESS)
    assert LABEL not in globex.get("/checkout/payment/").content.decode()
    response = globex.post("/checkout/payment/", {"payment_method": method(), "payment_data[email]": "a@b.example"})
    assert response.status_code == 200  # the step again, with its error: nothing chosen
    assert Checkout.objects.get().payment_method == ""


def test_the_debtor_form_is_prefilled_and_a_tampered_legal_form_reserves_nothing(acme: Client) -> None:
    add(acme, "RELAY-24V")
    to_payment_step(acme, DE_ADDRESS)
    page = acme.get("/checkout/payment/").content.decode()
    assert LABEL in page
    assert 'value="buyer@acme.example"' in page  # prefilled from the buyer
    assert "DE136695976" in page  # the VAT id comes from the customer record, not from the browser
    choose(acme, method(), email="email_for_success_emulation@test.com", legal_form="<script>")
    checkout = Checkout.objects.get(completed_at__isnull=True)
    response = acme.post("/checkout/review/", {"checkout": checkout.pk})
    assert response["Location"] == "/checkout/payment/"
    assert "We were unable to process your payment" in acme.get("/checkout/payment/").content.decode()
    [declined] = PaymentTransaction.objects.filter(payment_method=method())
    assert (declined.state, declined.error_code, declined.message) == (
        State.DECLINED,
        "missing_payment_data",
        "Please choose the company's legal form.",
    )
    assert not SimObject.objects.filter(provider="infinitepay").exists()  # nothing reached InfinitePay
