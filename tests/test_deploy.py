"""The Docker path: what goes into the image, how the containers are configured, and that they stay production-safe.

No Docker daemon is needed: the compose file is checked against the Compose specification's schema (vendored in
deploy/compose-spec/), the build context is computed with docker-py's own .dockerignore matcher, and the settings
are imported and `check --deploy` is run in subprocesses with the environment a container gets.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import jsonschema
import pytest
import yaml
from docker.utils.build import exclude_paths

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
# what a deployment must supply (compose refuses to start without them); stand-ins for these tests
DEPLOYMENT_VARIABLES = {
    "DJANGO_SECRET_KEY": "k3Zq-9vLr_2wXp7Tn4bYc8Hd1Fs6Jm0Gt5Ae-RuQiOzVlEyWx3Nk7PbSo2Md",
    "FIELD_ENCRYPTION_KEYS": "yCgTT1jRVUQ1F4qbdN9XbSoZ06Ye6QYy0KbyuYg3vQg=",
}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` substitution, enough for our file."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2) or "", match.group(3) or ""
        current = variables.get(name, "")
        if operator == ":?" and not current:
            raise KeyError(f"{name}: {argument}")
        return current or (argument if operator == ":-" else "")

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", substitute, value)


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    rows = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(row.split(None, 1)[0].upper(), row.split(None, 1)[1] if " " in row else "") for row in rows]


def image_environment() -> dict[str, str]:
    """The variables the Dockerfile's ENV instructions set in the image."""
    found: dict[str, str] = {}
    for instruction, argument in dockerfile_instructions():
        if instruction == "ENV":
            found.update(pair.split("=", 1) for pair in shlex.split(argument))
    return found


def container_environment(service: str = "web", **variables: str) -> dict[str, str]:
    """The environment a container of `service` starts with: the image's ENV, then the compose file's."""
    known = {**DEPLOYMENT_VARIABLES, **variables}
    declared = compose()["services"][service]["environment"]
    return {
        "PATH": os.environ["PATH"],
        **image_environment(),
        **{name: interpolate(str(value), known) for name, value in declared.items()},
    }


# --- the compose file ------------------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((ROOT / "deploy" / "compose-spec" / "compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{'/'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(compose())]
    assert errors == []


def test_the_schema_check_would_catch_a_broken_file() -> None:
    """The control: the vendored schema really rejects what `docker compose config` rejects."""
    schema = json.loads((ROOT / "deploy" / "compose-spec" / "compose-spec.json").read_text())
    broken = compose()
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_finished"
    broken["services"]["worker"]["healthcheck"]["intervall"] = "30s"
    paths = {tuple(error.path) for error in jsonschema.Draft202012Validator(schema).iter_errors(broken)}
    assert ("services", "web", "depends_on") in paths
    assert ("services", "worker", "healthcheck") in paths


def docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(
    not docker_compose_available(),
    reason="no `docker compose` plugin here (Debian bookworm does not package it); the schema test above checks "
    "the file against the same specification",
)
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    env = {**os.environ, **DEPLOYMENT_VARIABLES}
    result = subprocess.run(
        ["docker", "compose", "--env-file", os.devnull, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_containers_run_production_settings() -> None:
    for service in APP_SERVICES:
        env = container_environment(service)
        assert env["DJANGO_READ_DOT_ENV"] == "false"
        assert env["DJANGO_DEBUG"] == "false"
        assert env["DJANGO_SECURE_COOKIES"] == "true"
        assert env["DJANGO_SECURE_SSL_REDIRECT"] == "true"
        assert env["DJANGO_SECURE_PROXY_SSL_HEADER"] == "true"
        assert env["SANDBOX_ENABLED"] == "false"
        assert env["SITE_URL"] == "https://localhost"


def test_secrets_have_no_default() -> None:
    with pytest.raises(KeyError, match="DJANGO_SECRET_KEY"):
        interpolate(compose()["services"]["web"]["environment"]["DJANGO_SECRET_KEY"], {})
    with pytest.raises(KeyError, match="FIELD_ENCRYPTION_KEYS"):
        interpolate(compose()["services"]["web"]["environment"]["FIELD_ENCRYPTION_KEYS"], {})


def test_migrations_run_once_before_web_worker_and_beat() -> None:
    services = compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    for service in APP_SERVICES:
        assert services[service]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert "migrate" not in " ".join(map(str, services[service]["command"]))


def test_long_running_services_restart_and_report_health() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if name != "migrate":
            assert service["restart"] == "unless-stopped", name
    for name in ("web", "worker", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    assert "/health/?workers=0" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])


def test_only_the_tls_proxy_is_published() -> None:
    services = compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert services["proxy"]["image"].startswith("caddy:")
    assert "443:443" in services["proxy"]["ports"]
    assert services["proxy"]["depends_on"] == {"web": {"condition": "service_healthy"}}
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]


@pytest.mark.skipif(shutil.which("caddy") is None, reason="Caddy is not installed (.ci/run installs it)")
@pytest.mark.parametrize(
    ("variables", "issuer"),
    [({}, None), ({"SITE_ADDRESS": "shop.example.com", "CADDY_GLOBAL_OPTIONS": "local_certs"}, "internal")],
    ids=["localhost", "local-certs-for-a-name"],
)
def test_caddyfile_proxies_the_site_address_to_web(tmp_path: Path, variables: dict, issuer: str | None) -> None:
    result = subprocess.run(
        ["caddy", "adapt", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **variables},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    server = json.loads(result.stdout)["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == [":443"]
    route = server["routes"][0]
    assert route["match"] == [{"host": [variables.get("SITE_ADDRESS", "localhost")]}]
    assert '"dial":"web:8000"' in json.dumps(route, separators=(",", ":"))
    policies = json.loads(result.stdout)["apps"].get("tls", {}).get("automation", {}).get("policies", [])
    assert [issuer_ for policy in policies for issuer_ in policy["issuers"]] == ([{"module": issuer}] if issuer else [])


# --- the image ---------------------------------------------------------------------------------------------


def test_image_runs_as_an_unprivileged_user() -> None:
    users = [argument for instruction, argument in dockerfile_instructions() if instruction == "USER"]
    assert users, "the Dockerfile never leaves root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    last_user = max(i for i, (instruction, _) in enumerate(dockerfile_instructions()) if instruction == "USER")
    later = [instruction for instruction, _ in dockerfile_instructions()[last_user:]]
    assert "RUN" not in later  # nothing after the switch runs as root again


LOCAL_ONLY = [  # what a developer's checkout holds after `make run` and `make test`
    ".env",
    "config/.env",
    ".venv/bin/python",
    "var/db.sqlite3",
    "var/celery/queue/message.msg",
    ".git/HEAD",
    "test-output/junit.xml",
    "config/__pycache__/settings.cpython-311.pyc",
    ".pytest_cache/v/cache/lastfailed",
    ".mypy_cache/3.11/config.json",
    ".ruff_cache/0.8.0/cache",
    ".import_linter_cache/layers.data.json",  # make lint's import contracts
    ".grimp_cache/meta.json",
]


def build_context(checkout: Path) -> set[str]:
    """What `docker build .` sends to the daemon from `checkout`, by docker-py's .dockerignore matcher."""
    ignore = checkout / ".dockerignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    patterns = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return exclude_paths(str(checkout), patterns)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The project's file names (empty files) plus what only a developer's machine has, in a folder of its own."""
    skip = {".venv", ".git", "var", "test-output", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in skip]
        target = tmp_path / Path(folder).relative_to(ROOT)
        target.mkdir(exist_ok=True)
        for name in files:
            if name not in {".env", ".git"}:  # a worktree's .git is a file
                (target / name).touch()
    if (ROOT / ".dockerignore").exists():
        shutil.copy(ROOT / ".dockerignore", tmp_path)
    for name in LOCAL_ONLY:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("DJANGO_DEBUG=true\n")
    return tmp_path


def test_build_context_leaves_local_files_out(checkout: Path) -> None:
    context = build_context(checkout)
    assert sorted(set(LOCAL_ONLY) & context) == []
    leaked = sorted(
        path
        for path in context
        if path.split("/")[0] in {".venv", "var", ".git", "test-output", "tests", "bench"}
        or "__pycache__" in path.split("/")
        or path.endswith("_cache")
    )
    assert leaked == []


def test_build_context_keeps_what_the_application_needs(checkout: Path) -> None:
    context = build_context(checkout)
    for needed in ("manage.py", "pyproject.toml", "config/settings.py", "checkout/static/storefront/storefront.css"):
        assert needed in context
    migrations = {str(path.relative_to(ROOT)) for path in ROOT.glob("*/migrations/0*.py")}
    assert migrations
    assert migrations <= context


# --- settings in a container ---------------------------------------------------------------------------------

SHOW_SETTINGS = (
    "import json, config.settings as s; print(json.dumps({'DEBUG': s.DEBUG, 'SECRET_KEY': s.SECRET_KEY, "
    "'SANDBOX_ENABLED': s.SANDBOX_ENABLED, 'SESSION_COOKIE_SECURE': s.SESSION_COOKIE_SECURE, "
    "'SECURE_PROXY_SSL_HEADER': getattr(s, 'SECURE_PROXY_SSL_HEADER', None)}))"
)
POISON = "DJANGO_DEBUG=true\nDJANGO_SECRET_KEY=from-the-dot-env\nSANDBOX_ENABLED=true\nDJANGO_SECURE_COOKIES=false\n"


def settings_seen(base_dir: Path, env: Mapping[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SHOW_SETTINGS],
        env={**env, "PYTHONPATH": str(base_dir)},
        cwd=base_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def project_with_a_dot_env(tmp_path: Path) -> Path:
    """The settings package in a folder of its own (BASE_DIR), beside a developer's `.env`."""
    shutil.copytree(ROOT / "config", tmp_path / "config", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / ".env").write_text(POISON)
    return tmp_path


def test_container_settings_do_not_read_a_dot_env(project_with_a_dot_env: Path) -> None:
    seen = settings_seen(project_with_a_dot_env, container_environment("web"))
    assert seen == {
        "DEBUG": False,
        "SECRET_KEY": DEPLOYMENT_VARIABLES["DJANGO_SECRET_KEY"],
        "SANDBOX_ENABLED": False,
        "SESSION_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_the_image_alone_keeps_a_mounted_dot_env_out(project_with_a_dot_env: Path) -> None:
    """`docker run` without compose: the image's own ENV is enough."""
    env = {
        "PATH": os.environ["PATH"],
        **image_environment(),
        **DEPLOYMENT_VARIABLES,
    }
    seen = settings_seen(project_with_a_dot_env, env)
    assert seen["DEBUG"] is False
    assert seen["SECRET_KEY"] == DEPLOYMENT_VARIABLES["DJANGO_SECRET_KEY"]


def test_local_development_reads_the_dot_env(project_with_a_dot_env: Path) -> None:
    """The control: outside a container the same `.env` is read, and the environment still wins over it."""
    env = {"PATH": os.environ["PATH"], "FIELD_ENCRYPTION_KEYS": DEPLOYMENT_VARIABLES["FIELD_ENCRYPTION_KEYS"]}
    seen = settings_seen(project_with_a_dot_env, env)
    assert (seen["DEBUG"], seen["SECRET_KEY"], seen["SANDBOX_ENABLED"]) == (True, "from-the-dot-env", True)
    assert seen["SECURE_PROXY_SSL_HEADER"] is None  # a client's X-Forwarded-Proto is not trusted by default
    seen = settings_seen(project_with_a_dot_env, {**env, "DJANGO_SECRET_KEY": "from-the-environment"})
    assert seen["SECRET_KEY"] == "from-the-environment"


def test_deploy_check_is_clean_in_a_container() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=container_environment("web"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
