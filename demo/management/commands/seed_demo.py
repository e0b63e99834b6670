from django.core.management.base import BaseCommand

from demo.seed import seed_demo


class Command(BaseCommand):
    help = "Create the demo users, customers, integrations and orders (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        logins = seed_demo()
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins:"))
        for login in logins:
            self.stdout.write(f"  {login.role:<26} {login.username:<22} {login.password:<16} {login.where}")
