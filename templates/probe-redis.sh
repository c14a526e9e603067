#!/bin/sh
# Probe of the `redis` container: `probe-redis.sh readiness|liveness`.
# Ready: a master, a replica whose link to its master is up (its sync done), or a replica with no
# master to sync from. A StatefulSet rollout stops the next pod only once the one it replaced is
# ready: a replica that answered PING but had not synced yet let the master stop next while it
# still lacked the master's writes, and a sentinel holding that replica's INFO from before its
# restart could promote it. A replica whose master is gone or not a master waits for the
# sentinels, not for a sync: holding the rollout then would only stall it (a port change that
# left no master heals by finishing the roll).
# Alive: answers at all (LOADING, BUSY... are alive), or is still deciding its role before
# redis-server starts (that may wait for a failover).
set -u
. "{{ scripts_dir }}/lib.sh"
case "${1:-readiness}" in
    readiness)
        info=$(redis_cli INFO replication)
        case "$info" in
            *role:master*|*master_link_status:up*) exit 0 ;;
            *role:slave*) ;;
            *) exit 1 ;;
        esac
        master_host=$(echo "$info" | sed -n 's/^master_host://p')
        master_port=$(echo "$info" | sed -n 's/^master_port://p')
        [ "$(cli "$master_host" "$master_port" ROLE | head -n 1)" != master ]
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
