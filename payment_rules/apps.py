from django.apps import AppConfig


class PaymentRulesConfig(AppConfig):
    name = "payment_rules"
    verbose_name = "Payment rules"

    def ready(self) -> None:
        from payment_rules import signals  # noqa: F401 - connects the rule-set cache invalidation
