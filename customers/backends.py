"""Signing in: Django's model backend, whose per-request user read also brings the buyer behind the user.

Every storefront request read the user, then the customer login behind it (company, group, payment terms): two
round trips where one join does. Staff users simply have none (a LEFT JOIN finds nothing).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class BuyerModelBackend(ModelBackend):
    """`ModelBackend`, with the buyer read in the same query as the user (`checkout.selectors.buyer_of` uses it)."""

    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related(
                "customer_user__customer__group__payment_term", "customer_user__customer__payment_term"
            ).get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
