"""Stripe re-authorization: an old uncaptured authorization is renewed before its 7-day hold lapses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from integrations.models import Integration, ProviderCustomer
from notifications.models import Notice
from orders.models import Order, PaymentStatus
from payments import services, sweeps
from payments.models import Action, PaymentTransaction, ScheduledCapture, State
from sandbox.models import SimObject
from sandbox.services import sim_get
from tests import factories
from tests.sandbox_support import dashboard

pytestmark = pytest.mark.django_db


@pytest.fixture
def renewing(stripe_integration: Integration) -> Integration:
    stripe_integration.settings = {
        **stripe_integration.settings,
        "re_authorization": True,
        "re_authorization_email": "alerts@paydesk.example",
    }
    stripe_integration.save()
    return stripe_integration


def old_authorization(
    integration: Integration, age: timedelta = timedelta(days=6, hours=21), order: Order | None = None
) -> PaymentTransaction:
    paid = order if order is not None else factories.OrderFactory()
    auth = services.payment_purchase(
        order_id=paid.pk,
        method=f"stripe_{integration.pk}",
        key=f"a{paid.pk}",
        payment_data={"payment_method": "pm_card_visa"},
    )
    PaymentTransaction.objects.filter(pk=auth.pk).update(created_at=timezone.now() - age)
    auth.refresh_from_db()
    return auth


def test_old_authorization_is_renewed_with_three_linked_records(renewing) -> None:
    auth = old_authorization(renewing)
    assert sweeps.reauthorizations_sweep() == (1, 0)

    link = PaymentTransaction.objects.get(action=Action.RE_AUTHORIZE)
    renewal = PaymentTransaction.objects.get(action=Action.AUTHORIZE, source=link)
    cancel = PaymentTransaction.objects.get(action=Action.CANCEL)
    auth.refresh_from_db()
    assert (link.source_id, link.state, link.successful, link.active) == (auth.pk, State.SUCCEEDED, True, False)
    assert (renewal.state, renewal.active, renewal.amount) == (State.SUCCEEDED, True, auth.amount)
    assert renewal.provider_reference != auth.provider_reference
    assert timedelta(days=6, hours=23) < renewal.expires_at - timezone.now() <= timedelta(days=7)
    assert (cancel.source_id, cancel.state) == (auth.pk, State.SUCCEEDED)
    assert auth.active is False
    assert sim_get("stripe", "payment_intent", auth.provider_reference).data["status"] == "canceled"
    assert sim_get("stripe", "payment_intent", renewal.provider_reference).data["status"] == "requires_capture"
    auth.order.refresh_from_db()
    assert auth.order.payment_status == PaymentStatus.AUTHORIZED
    assert sweeps.reauthorizations_sweep() == (0, 0)  # done once

    services.payment_capture(source_id=renewal.pk, amount=None, key="cap")  # the renewal is what staff capture
    auth.order.refresh_from_db()
    assert auth.order.payment_status == PaymentStatus.FULL


def test_renewal_takes_over_a_scheduled_capture(renewing) -> None:
    renewing.capture_policy = Integration.CapturePolicy.AFTER_DELAY
    renewing.capture_delay_hours = 24 * 8
    renewing.save()
    auth = old_authorization(renewing)
    sweeps.reauthorizations_sweep()
    renewal = PaymentTransaction.objects.get(action=Action.AUTHORIZE, source__action=Action.RE_AUTHORIZE)
    assert ScheduledCapture.objects.get().authorization == renewal
    assert ScheduledCapture.objects.count() == 1
    assert auth.pk != renewal.pk


def test_young_or_unconfigured_authorizations_are_left_alone(stripe_integration, renewing) -> None:
    old_authorization(renewing, age=timedelta(days=6))
    assert sweeps.reauthorizations_sweep() == (0, 0)
    plain = factories.IntegrationFactory(
        provider_key="stripe",
        name="Stripe plain",
        settings=dict(stripe_integration.settings),
        secrets=dict(stripe_integration.secrets),
        payment_action=Integration.PaymentAction.AUTHORIZE,
    )
    plain.settings.pop("re_authorization", None)
    plain.save()
    old_authorization(plain)
    assert sweeps.reauthorizations_sweep() == (0, 0)
    assert not PaymentTransaction.objects.filter(action=Action.RE_AUTHORIZE).exists()


def test_failed_renewal_emails_the_alert_address_and_keeps_the_old_hold(renewing) -> None:
    auth = old_authorization(renewing)
    renewing.secrets = {**renewing.secrets, "secret_key": "sk_test_invalid"}  # the key was rotated at Stripe
    renewing.save()
    assert sweeps.reauthorizations_sweep() == (0, 1)

    auth.refresh_from_db()
    assert auth.active is True
    link = PaymentTransaction.objects.get(action=Action.RE_AUTHORIZE)
    assert (link.state, link.successful) == (State.DECLINED, False)
    assert len(mail.outbox) == 1
    assert "alerts@paydesk.example" in mail.outbox[0].to
    assert auth.order.number in mail.outbox[0].subject
    assert Notice.objects.filter(key=f"reauthorization-failed:{auth.pk}").exists()
    auth.order.refresh_from_db()
    assert auth.order.payment_status == PaymentStatus.AUTHORIZED
    assert sweeps.reauthorizations_sweep() == (0, 0)  # not retried every quarter hour


def test_a_renewal_settled_later_closes_its_link_and_reconcile_leaves_the_link_alone(renewing) -> None:
    from providers.base import Money, Outcome, ProviderResult
    from sandbox.services import sim_fault_add

    auth = old_authorization(renewing)
    sim_fault_add(provider="stripe", kind="error_500", operation="create", times=5)
    assert sweeps.reauthorizations_sweep() == (0, 0)  # no answer: nothing concluded
    link = PaymentTransaction.objects.get(action=Action.RE_AUTHORIZE)
    renewal = PaymentTransaction.objects.get(action=Action.AUTHORIZE, source=link)
    assert (link.state, renewal.state) == (State.RESERVED, State.RESERVED)
    later = timezone.now() + timedelta(minutes=3)
    assert sweeps.transactions_due_for_reconcile(now=later) == [renewal.pk]  # not the link

    # the renewal's outcome arrives later (as a webhook or reconcile would record it)
    services.ledger_record(
        transaction_id=renewal.pk,
        result=ProviderResult(Outcome.SUCCEEDED, "pi_renewed", Money(renewal.amount, "USD")),
    )
    link.refresh_from_db()
    assert (link.state, link.successful, link.active, link.provider_reference) == (
        State.SUCCEEDED,
        True,
        False,
        "pi_renewed",
    )
    auth.order.refresh_from_db()
    assert auth.order.payment_status == PaymentStatus.AUTHORIZED


def test_with_re_authorization_on_the_first_payment_is_made_for_the_companys_customer(renewing) -> None:
    """Stripe lets a card be used again only when it is attached to a Customer: one Customer per buyer company,
    `setup_future_usage=off_session`, and the renewal for that Customer off session."""
    company = factories.CustomerFactory(name="ACME Industrial")
    first = old_authorization(renewing, order=factories.OrderFactory(customer=company))
    second = old_authorization(renewing, order=factories.OrderFactory(customer=company))
    customers = [o.data for o in SimObject.objects.filter(provider="stripe", kind="customer")]
    assert [(c["name"], c["metadata"]) for c in customers] == [
        ("ACME Industrial", {"paydesk_customer": str(company.pk)})
    ]
    intents = [sim_get("stripe", "payment_intent", t.provider_reference).data for t in (first, second)]
    assert {(pi["customer"], pi["setup_future_usage"]) for pi in intents} == {(customers[0]["id"], "off_session")}
    assert sim_get("stripe", "payment_method", intents[0]["payment_method"]).data["customer"] == customers[0]["id"]
    assert ProviderCustomer.objects.get(customer=company).reference == customers[0]["id"]

    assert sweeps.reauthorizations_sweep() == (2, 0)
    renewal = PaymentTransaction.objects.filter(action=Action.AUTHORIZE, source__action=Action.RE_AUTHORIZE).first()
    renewed = sim_get("stripe", "payment_intent", renewal.provider_reference).data
    assert (renewed["customer"], renewed["payment_method"]) == (customers[0]["id"], intents[0]["payment_method"])


def test_a_card_used_without_a_customer_cannot_be_renewed_as_at_stripe(stripe_integration, renewing) -> None:
    """The control: a first payment made while re-authorization was off kept no card; Stripe refuses to use it
    again, the renewal fails, staff are told and the old hold stays."""
    renewing.settings = {**renewing.settings, "re_authorization": False}
    renewing.save()
    auth = old_authorization(renewing)
    assert sim_get("stripe", "payment_intent", auth.provider_reference).data["customer"] is None
    renewing.settings = {**renewing.settings, "re_authorization": True}
    renewing.save()

    assert sweeps.reauthorizations_sweep() == (0, 1)
    renewal = PaymentTransaction.objects.get(action=Action.AUTHORIZE, source__action=Action.RE_AUTHORIZE)
    assert renewal.state == State.DECLINED
    assert "may not be used again" in renewal.message
    auth.refresh_from_db()
    assert auth.active is True
    assert len(mail.outbox) == 1


def test_a_customer_deleted_at_stripe_is_made_again_and_remembered(renewing, stripe_sandbox) -> None:
    company = factories.CustomerFactory()
    first = old_authorization(renewing, order=factories.OrderFactory(customer=company))
    gone = sim_get("stripe", "payment_intent", first.provider_reference).data["customer"]
    dashboard(stripe_sandbox).v1.customers.delete(gone)

    second = old_authorization(renewing, order=factories.OrderFactory(customer=company))

    assert second.state == State.SUCCEEDED
    made = sim_get("stripe", "payment_intent", second.provider_reference).data["customer"]
    assert made not in (None, gone)
    assert ProviderCustomer.objects.get(customer=company).reference == made
