#!/bin/sh
# Probe of the `redis` container: `probe-redis.sh readiness|liveness`.
# Ready: a master, or a replica whose link to its master is up (its sync done). A StatefulSet
# rollout stops the next pod only once the one it replaced is ready: a replica that answered PING
# but had not synced yet let the master stop next, and a sentinel still holding that replica's
# INFO from before its restart could promote it, without what the master acknowledged since.
# Alive: answers at all (LOADING, BUSY... are alive), or is still deciding its role before
# redis-server starts (that may wait for a failover).
set -u
. "{{ scripts_dir }}/lib.sh"
case "${1:-readiness}" in
    readiness)
        case "$(redis_cli INFO replication)" in
            *role:master*|*master_link_status:up*) exit 0 ;;
        esac
        exit 1
        ;;
    liveness)
        [ -e "$STATE_DIR/starting" ] && exit 0
        [ -n "$(redis_cli PING)" ]
        ;;
    *)
        echo "usage: $0 readiness|liveness" >&2
        exit 2
        ;;
esac
