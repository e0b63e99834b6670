"""The values a row keeps from its read (`PaymentTransaction.changed_columns`) must be the values of its last read
or write: after `refresh_from_db` or `save` the copy holds what the database holds, so a later write of only the
changed columns must not write back a column this copy did not change since, undoing another writer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.models import PaymentTransaction
from tests import factories
from tests.conftest import authorize

pytestmark = pytest.mark.django_db


def read_authorization(gateway_integration) -> PaymentTransaction:  # noqa: ANN001
    auth = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration)
    return PaymentTransaction.objects.get(pk=auth.pk)


def write_changed(row: PaymentTransaction) -> None:
    """How the record writes a row: only the columns that differ from what it read."""
    row.save(update_fields=[*row.changed_columns(), "updated_at"])


def test_a_refreshed_row_counts_the_refreshed_values_as_read(gateway_integration) -> None:  # noqa: ANN001
    row = read_authorization(gateway_integration)
    PaymentTransaction.objects.filter(pk=row.pk).update(note="staff's first note")
    row.refresh_from_db()
    assert row.changed_columns() == []

    PaymentTransaction.objects.filter(pk=row.pk).update(note="staff's second note")  # another writer, later
    row.message = "answer"
    write_changed(row)

    stored = PaymentTransaction.objects.get(pk=row.pk)
    assert (stored.note, stored.message) == ("staff's second note", "answer")


def test_a_saved_row_counts_what_it_wrote_as_read(gateway_integration) -> None:  # noqa: ANN001
    row = read_authorization(gateway_integration)
    row.message = "first answer"
    write_changed(row)
    assert row.changed_columns() == []

    PaymentTransaction.objects.filter(pk=row.pk).update(message="another writer's")
    row.note = "a note"
    write_changed(row)

    stored = PaymentTransaction.objects.get(pk=row.pk)
    assert (stored.note, stored.message) == ("a note", "another writer's")


def test_a_json_value_changed_in_place_after_a_refresh_is_a_change(gateway_integration) -> None:  # noqa: ANN001
    row = read_authorization(gateway_integration)
    PaymentTransaction.objects.filter(pk=row.pk).update(response={"nested": {"a": 1}})
    row.refresh_from_db()
    row.response["nested"]["a"] = 2

    assert row.changed_columns() == ["response"]


def test_an_amount_written_with_another_scale_is_no_change(gateway_integration) -> None:  # noqa: ANN001
    row = read_authorization(gateway_integration)
    row.amount = Decimal("100")  # read as 100.0000

    assert row.changed_columns() == []
