"""Template helpers of the storefront: money in the buyer's language (the shared `core.templatetags.money`)."""

from __future__ import annotations

from django import template

from core.templatetags import money

register = template.Library()
register.filter("money", money)
