"""Write a local .env with freshly generated secrets (run once by make; never overwrites)."""

import secrets
import sys
from base64 import urlsafe_b64encode
from pathlib import Path

path = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
if path.exists():
    sys.exit(0)
path.write_text(
    "# Local development settings, generated once. Deployments set real environment variables instead.\n"
    f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
    f"FIELD_ENCRYPTION_KEYS={urlsafe_b64encode(secrets.token_bytes(32)).decode()}\n"
    "DJANGO_DEBUG=true\n"
    "DJANGO_SECURE_SSL_REDIRECT=false\n"
    "DJANGO_SECURE_COOKIES=false\n"
    "# the demo's open invoices are paid by OroPay (card or ACH), with no payment rule\n"
    "INVOICE_PAYMENT_METHOD=oropay\n"
    "# DATABASE_URL=postgres://postgres@127.0.0.1:5432/paydesk\n"
    "# REDIS_URL=redis://127.0.0.1:6379/0\n"
)
path.chmod(0o600)
print(f"wrote {path} with generated secrets")  # noqa: T201
