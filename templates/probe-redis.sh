#!/bin/sh
# Probe of the `redis` container: `probe-redis.sh readiness|liveness`.
# Ready: answers PING. Alive: answers at all (LOADING, BUSY... are alive), or is still
# deciding its role before redis-server starts (that may wait for a failover).
set -u
. "{{ scripts_dir }}/lib.sh"
reply=$(redis_cli PING)
case "${1:-readiness}" in
    readiness)
        [ "$reply" = PONG ]
        ;;
    liveness)
        [ -e "$STATE_DIR/starting" ] && exit 0
        [ -n "$reply" ]
        ;;
    *)
        echo "usage: $0 readiness|liveness" >&2
        exit 2
        ;;
esac
