from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Provider sandboxes"

    def ready(self) -> None:
        from sandbox import checks  # noqa: F401 - registers the deploy check
