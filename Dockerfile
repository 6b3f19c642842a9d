# sipdesk application image: the same image runs receiver and web (gunicorn), worker and beat.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings

WORKDIR /app
RUN useradd --system --create-home --home-dir /home/sipdesk sipdesk

# The locked tree: every package pinned with its hashes (make lock writes it).
COPY requirements.lock .
RUN pip install --require-hashes -r requirements.lock

COPY . .
# collectstatic needs a key and a database URL to import settings; neither is used.
RUN DJANGO_SECRET_KEY=collectstatic-only SIPDESK_WEBHOOK_SECRETS=collectstatic-only-0123456789 \
    python manage.py collectstatic --noinput

USER sipdesk
EXPOSE 8000 8001
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-class", "gthread", "--threads", "2", "--access-logfile", "-"]
