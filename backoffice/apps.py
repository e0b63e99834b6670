from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BackofficeConfig(AppConfig):
    """Roles, the payment operations on the order page and the dashboard of the back-office."""

    name = "backoffice"
    verbose_name = "Back-office"

    def ready(self) -> None:
        from backoffice.roles import roles_ensure_after_migrate

        # Runs after auth has created each app's permissions, so Administrators keep "everything" as apps
        # (payment rules, webhooks …) add models, and the groups come back after a test flush.
        post_migrate.connect(roles_ensure_after_migrate, dispatch_uid="backoffice.roles_ensure")
