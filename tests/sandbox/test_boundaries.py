"""Which way imports go between the simulators and the rest: `sandbox` may use `providers` for shared wire
helpers, never an adapter; nothing in production imports `sandbox` (the URL conf mounts it by name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.imports import imported_modules

ROOT = Path(__file__).resolve().parents[2]
#: the apps that run in production (demo data, benchmarks and tests use the simulators on purpose)
PRODUCTION = [
    "backoffice",
    "checkout",
    "config",
    "core",
    "customers",
    "integrations",
    "notifications",
    "orders",
    "payment_rules",
    "payments",
    "providers",
]


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", _sources("sandbox"), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_simulator_module_imports_an_adapter(path: Path) -> None:
    adapters = {name for name in imported_modules(path) if name.startswith("providers.") and ".adapter" in name}
    assert not adapters


def test_production_code_never_imports_a_simulator() -> None:
    found = {
        str(path.relative_to(ROOT)): sorted(n for n in imported_modules(path) if n.split(".")[0] == "sandbox")
        for path in _sources(*PRODUCTION)
    }
    assert {path: names for path, names in found.items() if names} == {}
