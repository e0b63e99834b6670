"""`make run`'s banner says where the e-mails of the run go."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def serve() -> ModuleType:
    spec = importlib.util.spec_from_file_location("serve_script", ROOT / "scripts" / "serve.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, "printed in this window by the worker"),
        (
            {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": "var/mail"},
            "written to var/mail/, one file each",
        ),
        (
            {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "mail", "EMAIL_PORT": 1025},
            "sent through mail:1025",
        ),
    ],
    ids=["console", "file", "smtp"],
)
def test_the_banner_says_where_e_mails_go(serve: ModuleType, settings: dict, said: str) -> None:
    assert serve.mail_destination(SimpleNamespace(**settings)) == said


def test_the_banner_reads_the_sites_own_settings(serve: ModuleType) -> None:
    from django.conf import settings

    assert serve.django_settings() is settings
    assert serve.mail_destination(settings) == "kept in memory, not shown"  # the test settings' locmem backend
