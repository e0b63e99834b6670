"""Reconcile writes an open row's bookkeeping (attempts, next try, the attention flag, a provider reference it
learnt) without the order lock; the record, under the lock, writes only the columns its answer changes. So what
reconcile wrote between the record's read and its UPDATE is kept, and reconcile's own writes apply only while
the row is still open, so a row the record settled is never flagged or rescheduled afterwards.

The interleavings are forced at their seams: reconcile runs on a connection of its own between the record's read
and its UPDATE; the record runs while reconcile waits for the provider's answer. PostgreSQL only.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from notifications.models import Notice
from payments import ledger, services
from payments.ledger import ledger_record
from payments.models import PaymentTransaction, State
from payments.sweeps import RECONCILE_MAX_ATTEMPTS, payment_reconcile
from providers.base import Outcome, ProviderResult, StatusRequest
from tests import factories
from tests.fakes import TIMEOUT_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("the order lock and the threads are exercised on PostgreSQL")


def unanswered_authorization(integration) -> PaymentTransaction:  # noqa: ANN001
    """An authorization sent with no answer: reserved, no provider reference, one reconcile try from giving up."""
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    txn = services.payment_purchase(
        order_id=order.pk,
        method=f"fakegw_{integration.pk}",
        key="auth-lost",
        payment_data={"token": TIMEOUT_TOKEN},
    )
    assert (txn.state, txn.provider_reference) == (State.RESERVED, "")
    PaymentTransaction.objects.filter(pk=txn.pk).update(reconcile_attempts=RECONCILE_MAX_ATTEMPTS - 1)
    return txn


def test_what_reconcile_writes_between_the_records_read_and_its_update_is_kept(
    gateway_integration,
    fake_gateway,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    txn = unanswered_authorization(gateway_integration)
    # the provider knows the payment by now, still processing: reconcile learns its reference and gives up
    fake_gateway.replies["auth-lost"] = ProviderResult(Outcome.PENDING, "fk_learnt", txn.money)
    original = ledger._save_with_source
    workers: list[threading.Thread] = []

    def reconcile_meanwhile(row, closed):  # noqa: ANN001, ANN202 - reconcile on a connection of its own
        def run() -> None:
            try:
                payment_reconcile(transaction_id=txn.pk)
            finally:
                connection.close()

        worker = threading.Thread(target=run)
        workers.append(worker)
        worker.start()
        # reconcile's writes to the row are committed before the record's UPDATE; its notice (a row pointing at
        # the order) waits for the order lock the record holds, so the thread ends only after the record
        deadline = time.monotonic() + 30
        while not PaymentTransaction.objects.filter(pk=txn.pk, needs_attention=True).exists():
            assert time.monotonic() < deadline, "reconcile did not write to the row"
            time.sleep(0.05)
        original(row, closed)

    monkeypatch.setattr(ledger, "_save_with_source", reconcile_meanwhile)
    unreadable = ProviderResult(Outcome.ERROR, None, txn.money, message="The provider's answer could not be read.")

    recorded = ledger_record(transaction_id=txn.pk, result=unreadable)
    workers[0].join(timeout=30)

    assert not workers[0].is_alive()
    assert recorded.state == State.RESERVED  # still open: reconcile asks again
    stored = PaymentTransaction.objects.get(pk=txn.pk)
    assert (stored.provider_reference, stored.needs_attention, stored.reconcile_attempts) == (
        "fk_learnt",
        True,
        RECONCILE_MAX_ATTEMPTS,
    )
    assert (stored.state, stored.message) == (State.RESERVED, "The provider's answer could not be read.")
    assert Notice.objects.filter(key=f"unsettled:{txn.pk}").count() == 1


def test_a_row_the_record_settled_while_reconcile_waited_is_neither_flagged_nor_rescheduled(
    gateway_integration,
    fake_gateway,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    txn = unanswered_authorization(gateway_integration)

    def answered_meanwhile(self, request: StatusRequest) -> ProviderResult:  # noqa: ANN001
        # while reconcile waits for the status, the late webhook records the authorization under the lock
        ledger_record(transaction_id=txn.pk, result=ProviderResult.succeeded(txn.money, reference="fk_late"))
        return ProviderResult(Outcome.PENDING, "fk_late", request.amount)  # what the provider said a moment ago

    monkeypatch.setattr(fake_gateway, "fetch_status", answered_meanwhile)

    payment_reconcile(transaction_id=txn.pk)

    stored = PaymentTransaction.objects.get(pk=txn.pk)
    assert (stored.state, stored.provider_reference) == (State.SUCCEEDED, "fk_late")
    assert (stored.needs_attention, stored.next_reconcile_at, stored.reconcile_attempts) == (
        False,
        None,
        RECONCILE_MAX_ATTEMPTS - 1,
    )
    assert not Notice.objects.filter(key=f"unsettled:{txn.pk}").exists()
