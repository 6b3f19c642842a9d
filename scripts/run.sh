#!/usr/bin/env bash
# `make run`: migrate, create a demo login, start web + receiver + worker + beat and a trickle of demo traffic.
# Without a reachable PostgreSQL it starts the embedded one under var/ (scripts/embedded_db.py).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var

export DJANGO_DEBUG=1 SIPDESK_DEMO=1 DJANGO_SERVER_LOG_LEVEL="${DJANGO_SERVER_LOG_LEVEL:-WARNING}"
export SIPDESK_WEBHOOK_SECRETS="${SIPDESK_WEBHOOK_SECRETS:-demo-webhook-secret}"
PORT="${PORT:-8000}"
RECEIVER_PORT="${RECEIVER_PORT:-8001}"
# Loopback unless told otherwise (SIPDESK_BIND=0.0.0.0 shows the demo to the network).
BIND="${SIPDESK_BIND:-127.0.0.1}"
eval "$(.venv/bin/python scripts/services.py run)"

pids=()
cleanup() {
    trap - EXIT INT TERM
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    if [ "${SIPDESK_EMBEDDED_DB:-0}" = "1" ]; then
        .venv/bin/python scripts/embedded_db.py stop && echo "sipdesk: embedded PostgreSQL stopped"
    fi
}
trap cleanup EXIT INT TERM

.venv/bin/python manage.py migrate --noinput
# Counters of the receiver, worker and web processes, summed by /metrics (config/metrics.py).
rm -rf var/metrics && mkdir -p var/metrics && export PROMETHEUS_MULTIPROC_DIR="$PWD/var/metrics"
login=$(.venv/bin/python manage.py demo_login)
# The demo's sub-accounts each carry one product (demo/traffic.py PRODUCT_SUB_ACCOUNTS): say so,
# as an admin would, so sessions show their product (re-adding a rule is harmless).
for rule in acme_voice:ivr InternalDemoCPaaS_8dD15_voice:ivr 8x8_test:voice_messaging \
            globex_support:voice_messaging wavecell_voice:number_masking; do
    .venv/bin/python manage.py product_rule add --sub-account "${rule%%:*}" --product "${rule##*:}" >/dev/null
done

if [ "$SIPDESK_TASKS_EAGER" = "0" ]; then
    .venv/bin/celery -A config worker --loglevel=WARNING --concurrency=1 &
    pids+=($!)
    .venv/bin/celery -A config beat --loglevel=WARNING --schedule var/celerybeat-schedule &
    pids+=($!)
fi

.venv/bin/gunicorn -c config/gunicorn.py config.receiver:application --worker-class config.receiver_worker.ReceiverWorker --workers 1 \
    --bind "${BIND}:${RECEIVER_PORT}" --log-level warning --no-control-socket &
pids+=($!)
# The empty pages tell you to register this URL with 8x8.
export SIPDESK_WEBHOOK_PUBLIC_URL="http://127.0.0.1:${RECEIVER_PORT}/webhooks/8x8/"

.venv/bin/python manage.py runserver "${BIND}:${PORT}" &
pids+=($!)

for port in "$PORT" "$RECEIVER_PORT"; do
    for _ in $(seq 1 50); do
        .venv/bin/python -c "import socket,sys; socket.create_connection(('127.0.0.1', ${port}), 1)" 2>/dev/null && break
        sleep 0.2
    done
done
url="http://127.0.0.1:${RECEIVER_PORT}/webhooks/8x8/"
echo "sipdesk: webhooks go to ${url}"

# Demo data: a quick burst so the pages have something to show, then a slow live trickle. Never
# against a database on another machine, and off with SIPDESK_DEMO_TRAFFIC=0.
db_host=$(.venv/bin/python -c "import os, urllib.parse as u; print(u.urlsplit(os.environ['DATABASE_URL']).hostname or 'localhost')")
if [ "${SIPDESK_DEMO_TRAFFIC:-1}" = "0" ]; then
    echo "sipdesk: demo traffic is off (SIPDESK_DEMO_TRAFFIC=0)"
elif [[ "$db_host" != "localhost" && "$db_host" != 127.* && "$db_host" != "::1" ]]; then
    echo "sipdesk: demo traffic is off: DATABASE_URL points at ${db_host}, not this machine"
else
    first_secret="${SIPDESK_WEBHOOK_SECRETS%%,*}"
    .venv/bin/python manage.py simulate_traffic --url "$url" --secret "$first_secret" --rate 20 --duration 15 || true
    .venv/bin/python manage.py simulate_traffic --url "$url" --secret "$first_secret" --rate 1 --duration 0 \
        >var/demo-traffic.log 2>&1 &
    pids+=($!)
    echo "sipdesk: demo traffic keeps trickling in (SIPDESK_DEMO_TRAFFIC=0 turns it off)"
fi

echo "sipdesk: open http://127.0.0.1:${PORT}/ (Ctrl-C stops everything)"
echo "$login"
wait -n "${pids[@]}"
