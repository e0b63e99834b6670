"""Who may call what: the back-office's groups and per-operation permissions, and buyers for the storefront.

Staff endpoints name the permissions each action needs (`required_permissions`, by viewset action), the same
Django permissions the back-office checks (`backoffice.roles`, `backoffice.operations.Operation.permission`).
Buyer endpoints need a customer login and scope every query to its company, so another company's object
answers 404, as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from checkout.selectors import buyer_of


class StaffPermission(BasePermission):
    message = "You do not have permission to perform this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        needed: dict[str, tuple[str, ...]] = getattr(view, "required_permissions", {})
        action = getattr(view, "action", None) or (request.method or "").lower()
        if action not in needed:
            return bool(user.is_superuser)  # an action nobody listed is refused to all but superusers
        return bool(user.has_perms(needed[action]))


class BuyerPermission(BasePermission):
    """A storefront login (a customer user); `request.buyer` is set for the view."""

    message = "Only a buyer of a customer company may use the storefront endpoints."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        buyer = buyer_of(request.user)
        if buyer is None:
            return False
        request.buyer = buyer  # type: ignore[attr-defined]
        return True
