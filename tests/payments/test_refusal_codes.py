"""`PaymentRefused` speaks one documented vocabulary (`RefusalCode`), as the adapters speak `ErrorCode`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from payments.exceptions import PaymentRefused, RefusalCode

ROOT = Path(__file__).resolve().parents[2]
APPS = sorted(
    path
    for path in ROOT.glob("*/**/*.py")
    if path.relative_to(ROOT).parts[0] not in (".venv", "tests", "bench", "static", "node_modules")
    and "migrations" not in path.parts
)


def _codes_raised(path: Path) -> list[tuple[int, object]]:
    """The literal codes `PaymentRefused(...)` is raised with in a file, with their lines; also those of a
    `Refusal(...)` (what may be done to a row, `payments.operations`), which the services raise as they are."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name not in ("PaymentRefused", "Refusal"):
            continue
        code = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "code"), None)
        if isinstance(code, ast.Constant):
            found.append((node.lineno, code.value))
    return found


def test_every_refusal_raised_in_the_apps_is_in_the_vocabulary() -> None:
    outside = {
        f"{path.relative_to(ROOT)}:{line}": code
        for path in APPS
        for line, code in _codes_raised(path)
        if code not in set(RefusalCode)
    }
    assert outside == {}
    assert sum(len(_codes_raised(path)) for path in APPS) > 30  # the scan sees the services' refusals


def test_a_refusal_carries_the_member_and_refuses_a_code_outside_the_vocabulary() -> None:
    refused = PaymentRefused("nothing_to_capture", "Nothing is left to capture on this payment.")
    assert (type(refused.code), refused.code, str(refused)) == (
        RefusalCode,
        RefusalCode.NOTHING_TO_CAPTURE,
        "Nothing is left to capture on this payment.",
    )
    with pytest.raises(ValueError, match="not_a_code"):
        PaymentRefused("not_a_code", "…")
