"""A capture costs a fixed number of statements, transaction control included (`core.statements`).

In these tests each of its two transactions is a savepoint inside the test's own transaction: SAVEPOINT and
RELEASE stand for BEGIN and COMMIT, so the count is what the capture sends in production.
"""

from __future__ import annotations

from decimal import Decimal

from core.statements import count_statements
from integrations.models import Integration
from payments.models import PaymentTransaction, State
from payments.services import payment_capture
from tests import factories
from tests.conftest import authorize, usd

#: measured 25 before the round-trip cuts, 14 since. Reserve (6): lock the order through the source row, read the
#: source with any row of the same key, read the order's rows and open invoices in one UNION, insert, and the
#: transaction's 2. Record (8): lock, read the row, what is left of the authorization (a provider that captures
#: more than once), close the source, update the row, the order's rows (status and account in one read), and 2.
CAPTURE_STATEMENTS = 14


def test_a_partial_capture_costs_its_statement_budget(db: None, gateway_integration: Integration) -> None:
    auth = authorize(factories.OrderFactory(subtotal=Decimal("1000.00")), gateway_integration)
    payment_capture(source_id=auth.pk, amount=usd("1.00"), key="first")  # the status changes once, here
    with count_statements() as log:
        capture = payment_capture(source_id=auth.pk, amount=usd("1.00"), key="second")
    assert capture.state == State.SUCCEEDED
    assert log.statements == CAPTURE_STATEMENTS, log


def test_a_repeated_capture_reads_and_writes_nothing_more(db: None, gateway_integration: Integration) -> None:
    auth = authorize(factories.OrderFactory(subtotal=Decimal("1000.00")), gateway_integration)
    first = payment_capture(source_id=auth.pk, amount=usd("1.00"), key="once")
    with count_statements() as log:
        again = payment_capture(source_id=auth.pk, amount=usd("1.00"), key="once")
    assert again.pk == first.pk
    assert PaymentTransaction.objects.filter(source=auth).count() == 1
    assert log.statements == 4, log  # the lock, the source with the key's row, and the transaction's 2
