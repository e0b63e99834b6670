# The two commands of the README: `make run` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: install run test lint bench migrate clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

.env:
	$(PYTHON) scripts/write_env.py .env

install: $(VENV)/.installed .env

run: install  ## serve back-office and storefront with demo data, a worker and beat
	PY=$(PY) scripts/run.sh

test: install  ## the whole suite; PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set, SQLite otherwise
	$(PY) -m pytest $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	DJANGO_SETTINGS_MODULE=config.settings_test $(PY) manage.py makemigrations --check --dry-run

bench: install  ## benchmarks print figures; they do not pass or fail
	@for script in bench/[!_]*.py; do echo "== $$script"; DJANGO_SETTINGS_MODULE=config.settings_test $(PY) $$script || exit 1; done

migrate: install
	$(PY) manage.py migrate

clean:
	rm -rf $(VENV) var test-output .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
