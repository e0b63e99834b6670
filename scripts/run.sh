#!/usr/bin/env bash
# Serve the site with a Celery worker and beat, all stopped together (Ctrl-C).
# Works with no external service: SQLite and a filesystem broker unless DATABASE_URL / REDIS_URL are set.
# After migrating and seeding, the shell replaces itself with scripts/serve.py, which starts the three servers,
# waits for the site to answer and stops them all on Ctrl-C or SIGTERM (see its docstring for why not `&`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export HOST PORT
export SITE_URL=${SITE_URL:-http://$HOST:$PORT}
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings}
DATA=${CELERY_DATA_DIR:-var/celery}
export CELERY_DATA_DIR=$DATA
mkdir -p var "$DATA/queue" "$DATA/control"

"$PY" manage.py migrate --noinput -v0
"$PY" manage.py collectstatic --noinput -v0
"$PY" manage.py seed_demo

exec "$PY" scripts/serve.py
