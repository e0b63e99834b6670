"""What the order page offers on a transaction is what the services allow on it, over a table of situations.

Each situation is built through the services on the fake gateway, then judged with the capabilities named; every
row of the order is asked both ways: the back-office's offers (`transaction_offers`, from the annotated
history) and the services themselves (capture, cancel and refund of everything left, and of a little less),
each tried in a savepoint that is rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import transaction

from backoffice.operations import Operation, transaction_offers
from backoffice.selectors import payment_history
from orders.models import Order
from payments import services
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction
from payments.operations import Taken, allowed_operations
from payments.selectors import order_account
from providers.base import Capability, Money
from tests import factories
from tests.conftest import authorize, usd
from tests.fakes import DECLINE_TOKEN, FakeGateway

pytestmark = pytest.mark.django_db

ALL = FakeGateway.capabilities
SINGLE_CAPTURE = ALL - {Capability.MULTIPLE_CAPTURE}
NO_PARTIAL = ALL - {Capability.PARTIAL_CAPTURE, Capability.PARTIAL_REFUND, Capability.MULTIPLE_CAPTURE}
CAPTURE_ONLY = frozenset({Capability.AUTHORIZE, Capability.CAPTURE, Capability.FETCH_STATUS})


def _charge(order: Order, integration) -> PaymentTransaction:  # noqa: ANN001
    integration.payment_action = "charge"
    integration.save(update_fields=["payment_action"])
    return authorize(order, integration, key="charge-1")


def fresh_authorization(order: Order, integration) -> None:  # noqa: ANN001
    authorize(order, integration)


def partly_captured(order: Order, integration) -> None:  # noqa: ANN001
    auth = authorize(order, integration)
    services.payment_capture(source_id=auth.pk, amount=usd("30.00"), key="cap-1")


def capture_in_flight(order: Order, integration) -> None:  # noqa: ANN001
    auth = authorize(order, integration)
    FakeGateway.lose_reply_next.append("capture")
    services.payment_capture(source_id=auth.pk, amount=usd("30.00"), key="cap-1")


def canceled(order: Order, integration) -> None:  # noqa: ANN001
    auth = authorize(order, integration)
    services.payment_cancel(source_id=auth.pk, key="cancel-1")


def declined(order: Order, integration) -> None:  # noqa: ANN001
    services.payment_purchase(
        order_id=order.pk,
        method=f"fakegw_{integration.pk}",
        key="declined",
        payment_data={"token": DECLINE_TOKEN},
    )


def charged(order: Order, integration) -> None:  # noqa: ANN001
    _charge(order, integration)


def partly_refunded(order: Order, integration) -> None:  # noqa: ANN001
    charge = _charge(order, integration)
    services.payment_refund(source_id=charge.pk, amount=usd("40.00"), key="refund-1")


def fully_refunded(order: Order, integration) -> None:  # noqa: ANN001
    charge = _charge(order, integration)
    services.payment_refund(source_id=charge.pk, amount=None, key="refund-1")


SITUATIONS: dict[str, Callable[[Order, object], None]] = {
    "fresh-authorization": fresh_authorization,
    "partly-captured": partly_captured,
    "capture-in-flight": capture_in_flight,
    "canceled": canceled,
    "declined": declined,
    "charged": charged,
    "partly-refunded": partly_refunded,
    "fully-refunded": fully_refunded,
}
CAPABILITIES = {"all": ALL, "single-capture": SINGLE_CAPTURE, "no-partial": NO_PARTIAL, "capture-only": CAPTURE_ONLY}


class _Undo(Exception):
    """Rolls a tried operation back."""


def tried(call: Callable[[], PaymentTransaction]) -> Decimal | None:
    """The amount the service moves (its row's), or None when it refuses; nothing of it is kept."""
    moved: Decimal | None = None
    try:
        with transaction.atomic():
            moved = call().amount
            raise _Undo
    except _Undo:
        return moved
    except PaymentRefused:
        return None


def service_answers(row: PaymentTransaction, n: int) -> dict[Operation, Decimal | None]:
    return {
        Operation.CAPTURE: tried(lambda: services.payment_capture(source_id=row.pk, amount=None, key=f"c-{n}")),
        Operation.CANCEL: tried(lambda: services.payment_cancel(source_id=row.pk, key=f"x-{n}")),
        Operation.REFUND: tried(lambda: services.payment_refund(source_id=row.pk, amount=None, key=f"r-{n}")),
    }


def service_takes_less(row: PaymentTransaction, operation: Operation, available: Money, n: int) -> bool:
    less = Money(available.amount - Decimal("0.01"), available.currency)
    if operation == Operation.CAPTURE:
        return tried(lambda: services.payment_capture(source_id=row.pk, amount=less, key=f"cl-{n}")) is not None
    return tried(lambda: services.payment_refund(source_id=row.pk, amount=less, key=f"rl-{n}")) is not None


@pytest.mark.parametrize("capabilities", CAPABILITIES.values(), ids=CAPABILITIES.keys())
@pytest.mark.parametrize("situation", SITUATIONS.values(), ids=SITUATIONS.keys())
def test_the_order_page_offers_what_the_services_allow(
    situation, capabilities, gateway_integration, monkeypatch
) -> None:  # noqa: ANN001
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    situation(order, gateway_integration)  # made with every capability, then judged with these
    monkeypatch.setattr(FakeGateway, "capabilities", capabilities)
    account = order_account(order=order)
    rows = list(payment_history(order_id=order.pk))
    assert rows
    for n, row in enumerate(rows):
        offers = {offer.operation: offer for offer in transaction_offers(row, account)}
        answers = service_answers(row, n)
        for operation in (Operation.CAPTURE, Operation.CANCEL, Operation.REFUND):
            offer = offers.get(operation)
            offered = offer.available.amount if offer else None
            assert offered == answers[operation], (row.action, row.state, operation)
            if offer is not None and operation != Operation.CANCEL and offer.available.amount > Decimal("0.01"):
                assert offer.partial == service_takes_less(row, operation, offer.available, n), (row.action, operation)


def test_allowed_operations_is_a_function_of_the_row_and_its_children() -> None:
    """No database: the same row and children give the same answer, whoever asks."""
    order = Order(number="1001", subtotal=Decimal("100.00"), total=Decimal("100.00"), currency="USD")
    row = PaymentTransaction(
        order=order,
        action=Action.AUTHORIZE,
        amount=Decimal("100.00"),
        currency="USD",
        successful=True,
        active=True,
    )
    allowed = allowed_operations(row, taken=Taken(captured=Decimal("30.00")), capabilities=ALL)
    assert (allowed.capturable, allowed.capture_limit, allowed.capture_refused) == (
        Decimal("70.00"),
        Decimal("70.00"),
        None,
    )
    single = allowed_operations(row, taken=Taken(captured=Decimal("30.00")), capabilities=SINGLE_CAPTURE)
    assert (single.capturable, single.capture_refused.code, single.cancel_refused.code) == (
        Decimal("0.00"),
        "nothing_to_capture",
        "nothing_to_cancel",
    )
    assert allowed.refund_refused.code == "not_refundable"
