FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --no-cache-dir -e .
COPY . .
RUN DJANGO_SECRET_KEY=build FIELD_ENCRYPTION_KEYS=yCgTT1jRVUQ1F4qbdN9XbSoZ06Ye6QYy0KbyuYg3vQg= \
    python manage.py collectstatic --noinput -v0
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
