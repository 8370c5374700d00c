#!/usr/bin/env bash
# Wait until a Redis server answers PING: scripts/wait-for-redis.sh [port] [host] [timeout-seconds]
# Used by the Procfile so the Celery worker and beat start only once the embedded broker is up.
set -euo pipefail

PORT="${1:-6479}"
HOST="${2:-127.0.0.1}"
TIMEOUT="${3:-60}"

ping_redis() {
    if command -v redis-cli >/dev/null; then
        [[ "$(redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" == PONG ]]
    else
        # No redis-cli: speak the protocol directly over bash's /dev/tcp.
        local reply
        exec 3<>"/dev/tcp/$HOST/$PORT" 2>/dev/null || return 1
        printf 'PING\r\n' >&3
        IFS= read -r -t 2 reply <&3 || true
        exec 3>&-
        [[ "$reply" == "+PONG"* ]]
    fi
}

deadline=$((SECONDS + TIMEOUT))
until ping_redis; do
    if ((SECONDS >= deadline)); then
        echo "redis at $HOST:$PORT did not answer within ${TIMEOUT}s" >&2
        exit 1
    fi
    sleep 0.5
done
