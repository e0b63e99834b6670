"""The statement counter counts what a request pays for: statements, savepoints, and BEGIN/COMMIT."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.statements import count_statements
from orders.models import Order


@pytest.mark.django_db(transaction=True)
def test_each_transaction_counts_its_begin_and_commit() -> None:
    with count_statements() as log:
        with transaction.atomic():
            Order.objects.exists()
            with transaction.atomic():  # a savepoint: sent as statements
                Order.objects.exists()
        Order.objects.exists()  # autocommit: no transaction of ours
    assert (len(log.sql), log.transactions, log.statements) == (5, 1, 7)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_counts_too() -> None:
    def fail_inside() -> None:
        with transaction.atomic():
            Order.objects.exists()
            raise ZeroDivisionError

    with count_statements() as log, pytest.raises(ZeroDivisionError):
        fail_inside()
    assert (len(log.sql), log.transactions) == (1, 1)


def test_the_counter_leaves_the_connection_as_it_was(db: None) -> None:
    from django.db import connection

    with count_statements():
        pass
    assert "_commit" not in vars(connection)
    assert "_rollback" not in vars(connection)
