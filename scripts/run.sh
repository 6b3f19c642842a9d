#!/usr/bin/env bash
# `make run`: migrate, create a demo login, start web + receiver + worker + beat and a trickle of demo traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var

export DJANGO_DEBUG=1 SIPDESK_DEMO=1 DJANGO_SERVER_LOG_LEVEL="${DJANGO_SERVER_LOG_LEVEL:-WARNING}"
export SIPDESK_WEBHOOK_SECRETS="${SIPDESK_WEBHOOK_SECRETS:-demo-webhook-secret}"
PORT="${PORT:-8000}"
eval "$(.venv/bin/python scripts/services.py run)"

.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py demo_login

pids=()
cleanup() {
    trap - EXIT INT TERM
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ "$SIPDESK_TASKS_EAGER" = "0" ]; then
    .venv/bin/celery -A config worker --loglevel=WARNING --concurrency=1 &
    pids+=($!)
    .venv/bin/celery -A config beat --loglevel=WARNING --schedule var/celerybeat-schedule &
    pids+=($!)
fi

# The production webhook receiver (PostgreSQL only); on the SQLite fallback the dashboard's own
# webhook view takes the demo traffic.
RECEIVER_PORT="${RECEIVER_PORT:-8001}"
if [[ "$DATABASE_URL" == postgres* ]]; then
    .venv/bin/gunicorn config.receiver:application --worker-class config.receiver_worker.ReceiverWorker --workers 1 \
        --bind "0.0.0.0:${RECEIVER_PORT}" --log-level warning --no-control-socket &
    pids+=($!)
    webhook_port="$RECEIVER_PORT"
    # The empty pages tell you to register this URL with 8x8.
    export SIPDESK_WEBHOOK_PUBLIC_URL="http://127.0.0.1:${RECEIVER_PORT}/webhooks/8x8/"
else
    webhook_port="$PORT"
fi

.venv/bin/python manage.py runserver "0.0.0.0:${PORT}" &
pids+=($!)

# Demo data: a quick burst so the pages have something to show, then a slow live trickle.
first_secret="${SIPDESK_WEBHOOK_SECRETS%%,*}"
url="http://127.0.0.1:${webhook_port}/webhooks/8x8/"
for port in "$PORT" "$webhook_port"; do
    for _ in $(seq 1 50); do
        .venv/bin/python -c "import socket,sys; socket.create_connection(('127.0.0.1', ${port}), 1)" 2>/dev/null && break
        sleep 0.2
    done
done
echo "sipdesk: webhooks go to ${url}"
.venv/bin/python manage.py simulate_traffic --url "$url" --secret "$first_secret" --rate 20 --duration 15 || true
echo "sipdesk: demo traffic keeps trickling in; open http://127.0.0.1:${PORT}/ (Ctrl-C stops everything)"
.venv/bin/python manage.py simulate_traffic --url "$url" --secret "$first_secret" --rate 1 --duration 0 >var/demo-traffic.log 2>&1 &
pids+=($!)

wait -n "${pids[@]}"
