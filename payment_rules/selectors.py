"""Reads for payment rules: the query-backed data conditions may look at, loaded only when one does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from checkout.models import InventoryLevel
from customers.models import CustomerUser
from payment_rules.expression import InventoryLevelData
from providers.base import CustomerUserInfo


class DatabaseRuleData:
    """`RuleData` from the database: one query for the stock of all lines of a checkout, one for the users of
    the buyer's company, each run at most once per checkout context and only when a condition reads it."""

    def inventory_levels(self, product_ids: Sequence[int]) -> Mapping[int, Sequence[InventoryLevelData]]:
        levels: dict[int, list[InventoryLevelData]] = {}
        rows = (
            InventoryLevel.objects.filter(product_id__in=product_ids)
            .select_related("warehouse")
            .order_by("warehouse__name", "warehouse_id")
        )
        for row in rows:
            levels.setdefault(row.product_id, []).append(
                InventoryLevelData(
                    id=row.pk, quantity=row.quantity, warehouse_id=row.warehouse_id, warehouse_name=row.warehouse.name
                )
            )
        return levels

    def customer_users(self, customer_id: int) -> Sequence[CustomerUserInfo]:
        users = CustomerUser.objects.filter(customer_id=customer_id).select_related("user").order_by("pk")
        return [
            CustomerUserInfo(
                id=user.pk, email=user.user.email, first_name=user.user.first_name, last_name=user.user.last_name
            )
            for user in users
        ]
