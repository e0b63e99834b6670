"""Invalidate cached rule sets when anything they are built from changes.

A cache concern, not domain flow: admin inlines, services and shell edits all change these rows, and every
process (web workers, Celery) must see the change on its next resolution.
"""

from typing import Any

from django.db.models.signals import post_delete, post_save

from integrations.models import Integration
from payment_rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod, RuleSetVersion


def _bump(sender: type, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    # Inside the writer's transaction: a reader that loads the old rules also reads the old version, and
    # reloads once the new one is committed.
    RuleSetVersion.bump()


for model in (PaymentRule, PaymentRuleDestination, PaymentRuleMethod, Integration):
    post_save.connect(_bump, sender=model, dispatch_uid=f"ruleset-save-{model.__name__}")
    post_delete.connect(_bump, sender=model, dispatch_uid=f"ruleset-delete-{model.__name__}")
