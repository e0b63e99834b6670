"""CSV exports for finance, on django-import-export: one permission, one format, money as plain decimals.

The export of a back-office list is the list as filtered and searched on screen (the library builds the same
changelist query). Amounts are written with exactly the currency's decimal places ("352.00", "12000",
"30.125"), never formatted: finance reads them into spreadsheets and ledgers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV
from import_export.forms import ExportForm

from core.money import quantize

#: who may export: Administrators (they hold every permission) and the Finance role, never Sales by default
EXPORT_PERMISSION = "orders.export_finance"


def plain_amount(amount: Decimal | None, currency: str) -> str:
    """An amount at its currency's precision, without symbol or grouping: "1234.50", "12000", "30.125"."""
    if amount is None:
        return ""
    return str(quantize(amount, currency))


class FinanceExportMixin(ExportMixin):
    """Adds "Export" (CSV) to a back-office list for staff with the finance export permission."""

    export_formats = [CSV]
    export_form_class = ExportForm  # the same columns every time: finance's imports rely on them

    def has_export_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(user.is_active and user.is_staff and user.has_perm(EXPORT_PERMISSION))
