"""The back-office roles, as groups: Administrators may do everything, Sales work on orders and payments.

Created by the data migration `backoffice.0001_roles` and kept complete after every `migrate` (new apps bring
new permissions; Administrators get them too). Permissions are checked on every view and action; the menu
follows from them.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db import DEFAULT_DB_ALIAS

ADMINISTRATORS = "Administrators"
SALES = "Sales"
FINANCE = "Finance"

#: What Sales may do: read orders, checkout attempts and customers, see payment history, capture, cancel and refund,
#: and settle payments nobody could settle automatically.
#: No integrations, no payment rules, no payment terms to edit.
SALES_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("orders", "view_order"),
    ("orders", "view_orderline"),
    ("orders", "view_address"),
    ("orders", "add_ordernote"),
    ("payments", "view_paymenttransaction"),
    ("payments", "view_payment_history"),
    ("payments", "capture_payment"),
    ("payments", "cancel_payment"),
    ("payments", "refund_payment"),
    ("payments", "invoice_payment"),
    ("payments", "resolve_payment"),
    ("payments", "activate_payment"),
    ("customers", "view_customer"),
    ("customers", "view_customergroup"),
    ("customers", "view_paymentterm"),
    ("checkout", "view_checkoutattempt"),
)

#: What Finance may do: read orders, invoices and the ledger, and export them as CSV; no money moves.
FINANCE_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("orders", "view_order"),
    ("orders", "view_orderline"),
    ("orders", "view_invoice"),
    ("orders", "export_finance"),
    ("payments", "view_paymenttransaction"),
    ("payments", "view_payment_history"),
    ("customers", "view_customer"),
)


def _grant(group: Any, permissions: Any, wanted: tuple[tuple[str, str], ...]) -> None:
    group.permissions.add(
        *(
            p
            for p in permissions.filter(codename__in={c for _, c in wanted}).select_related("content_type")
            if (p.content_type.app_label, p.codename) in wanted
        )
    )


def roles_ensure(*, apps: Apps = global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the groups if missing; give Administrators every permission, Sales and Finance theirs. Idempotent."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    permissions = permission_model.objects.using(using)

    administrators, _ = group_model.objects.using(using).get_or_create(name=ADMINISTRATORS)
    missing = permissions.exclude(group=administrators)
    administrators.permissions.add(*missing)

    sales, _ = group_model.objects.using(using).get_or_create(name=SALES)
    _grant(sales, permissions, SALES_PERMISSIONS)
    finance, _ = group_model.objects.using(using).get_or_create(name=FINANCE)
    _grant(finance, permissions, FINANCE_PERMISSIONS)


def roles_ensure_after_migrate(*, apps: Apps = global_apps, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate receiver (`apps` is the migrated state, which lists only apps with models)."""
    try:
        apps.get_model("auth", "Group")
    except LookupError:  # auth not migrated on this database
        return
    roles_ensure(apps=apps, using=using)
