# The application image: web (gunicorn), worker and beat run from it (see docker-compose.yml).
FROM python:3.11-slim
# DJANGO_READ_DOT_ENV=false: settings never read a `.env` in a container, even one mounted in; a container is
# configured by its environment alone (see config/settings.py).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_READ_DOT_ENV=false
# An unprivileged user with a home (gunicorn keeps its control socket there); it owns nothing but var/.
RUN groupadd --system --gid 10001 paydesk \
    && useradd --system --uid 10001 --gid paydesk --create-home --home-dir /home/paydesk paydesk
WORKDIR /app
COPY pyproject.toml ./
RUN pip install -e .
COPY . .
# Static files are collected at build time (whitenoise serves them); the keys here exist only for this step.
RUN DJANGO_SECRET_KEY=collectstatic-only FIELD_ENCRYPTION_KEYS=yCgTT1jRVUQ1F4qbdN9XbSoZ06Ye6QYy0KbyuYg3vQg= \
    python manage.py collectstatic --noinput -v0 \
    && mkdir -p var/celery \
    && chown paydesk:paydesk var var/celery
USER paydesk:paydesk
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
