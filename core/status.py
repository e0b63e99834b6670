"""The payment statuses of an order or invoice, and the colour each is shown in.

The ledger (`payments.status`) computes them, orders and invoices store them, the back-office, the storefront and
notifications show them: they live here so that none of those imports another only to name a status.
"""

from __future__ import annotations

from django.db import models


class PaymentStatus(models.TextChoices):
    """The eleven payment statuses of the reference; computed from the ledger by payments.status."""

    FULL = "full", "Paid in full"
    PARTIALLY = "partially", "Paid partially"
    INVOICED = "invoiced", "Invoiced"
    AUTHORIZED = "authorized", "Payment authorized"
    AUTHORIZED_PARTIALLY = "authorized_partially", "Payment authorized partially"
    DECLINED = "declined", "Payment declined"
    PENDING = "pending", "Pending payment"
    CANCELED = "canceled", "Payment canceled"
    CANCELED_PARTIALLY = "canceled_partially", "Canceled partially"
    REFUNDED = "refunded", "Refunded"
    REFUNDED_PARTIALLY = "refunded_partially", "Refunded partially"


#: the badge colour of each status, in the order list, the order page and the dashboard
STATUS_COLOURS = {
    PaymentStatus.FULL: "#1b7f3b",
    PaymentStatus.PARTIALLY: "#5b8c00",
    PaymentStatus.AUTHORIZED: "#1f5fbf",
    PaymentStatus.AUTHORIZED_PARTIALLY: "#1f5fbf",
    PaymentStatus.INVOICED: "#6b46c1",
    PaymentStatus.PENDING: "#8a6d00",
    PaymentStatus.DECLINED: "#b42318",
    PaymentStatus.CANCELED: "#6b7280",
    PaymentStatus.CANCELED_PARTIALLY: "#6b7280",
    PaymentStatus.REFUNDED: "#9a3412",
    PaymentStatus.REFUNDED_PARTIALLY: "#9a3412",
}
#: the colour of a status this code does not know (a value written by an older release)
UNKNOWN_STATUS_COLOUR = "#374151"
