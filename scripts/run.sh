#!/usr/bin/env bash
# Serve the site with a Celery worker and beat, all stopped together (Ctrl-C).
# Works with no external service: SQLite and a filesystem broker unless DATABASE_URL / REDIS_URL are set.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BIN=$(dirname "$PY")
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export SITE_URL=${SITE_URL:-http://$HOST:$PORT}
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings}
DATA=${CELERY_DATA_DIR:-var/celery}
export CELERY_DATA_DIR=$DATA
mkdir -p var "$DATA/queue" "$DATA/control"

"$PY" manage.py migrate --noinput -v0
"$PY" manage.py collectstatic --noinput -v0
"$PY" manage.py seed_demo

trap 'trap - EXIT INT TERM; kill 0 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
"$BIN/celery" -A config worker --loglevel=INFO --concurrency=2 --hostname="worker@%h" 2>&1 | sed -u 's/^/[worker] /' &
"$BIN/celery" -A config beat --loglevel=INFO --schedule="$DATA/beat-schedule" 2>&1 | sed -u 's/^/[beat]   /' &
"$BIN/gunicorn" config.wsgi --bind "$HOST:$PORT" --workers 2 --threads 4 --access-logfile - 2>&1 | sed -u 's/^/[web]    /' &

for _ in $(seq 1 60); do
  if "$PY" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$SITE_URL/health/?workers=0" 2>/dev/null; then
    cat <<BANNER

  Paydesk is running.
    Back-office: $SITE_URL/admin/     (admin / paydesk-admin, sales / paydesk-sales)
    Storefront:  $SITE_URL/           (buyer@acme.example / paydesk-buyer)
  Press Ctrl-C to stop the web server, worker and beat.

BANNER
    break
  fi
  sleep 1
done
wait
