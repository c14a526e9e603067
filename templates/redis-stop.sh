#!/bin/sh
# Run by redis-start.sh on SIGTERM, while redis-server still runs. A master with replicas
# pauses writes, lets the replicas catch up, asks the sentinels to fail over and waits for the
# new master, so no acknowledged write is lost; the caller then stops redis-server, which saves.
set -u
LOG_TAG="redis-stop[${POD_NAME:-?}]"
. "{{ scripts_dir }}/lib.sh"

ME=$(own_fqdn)

# Sentinels never promote a replica whose priority is 0: a pod on its way out (a scale-down
# stops several pods at once) must not become the new master.
redis_cli CONFIG SET replica-priority 0 >/dev/null 2>&1 || true

replicas_behind() {
    _info=$(redis_cli INFO replication)
    _moff=$(echo "$_info" | sed -n 's/^master_repl_offset://p')
    echo "$_info" | grep '^slave[0-9]*:' | sed 's/.*offset=\([0-9]*\).*/\1/' \
        | awk -v m="${_moff:-0}" '$1 < m' | wc -l | tr -d ' '
}

# Whatever happens below, the storage keeps the master this pod saw last (see lib.sh).
NEW_MASTER=""
remember_on_exit() {
    rm -f "$STATE_DIR/handover"
    if [ -n "$NEW_MASTER" ]; then
        remember_master $NEW_MASTER
        return
    fi
    set -- $(redis_cli ROLE | head -n 3)
    case "${1:-}" in
        master) remember_master "$ME" "$REDIS_PORT" ;;
        slave) [ $# -ge 3 ] && remember_master "$2" "$3" ;;
    esac
}
trap remember_on_exit EXIT

role=$(redis_cli ROLE | head -n 1)
replicas=$(redis_cli INFO replication | sed -n 's/^connected_slaves://p')
if [ "$role" != master ] || [ "${replicas:-0}" -eq 0 ]; then
    log "role ${role:-unknown}, ${replicas:-0} replica(s): nothing to hand over"
    exit 0
fi

# Tells this pod's sentinel container, stopping at the same time, to stay until this is over.
: > "$STATE_DIR/handover"

# Writes block (not fail) while paused; clients blocked at shutdown see the connection drop,
# so they never get an acknowledgement for a write the new master lacks.
redis_cli CLIENT PAUSE {{ pause_ms }} WRITE >/dev/null
log "writes paused; waiting for $replicas replica(s) to catch up"
deadline=$(($(now) + {{ catch_up_wait_s }}))
while [ "$(replicas_behind)" -gt 0 ] && [ "$(now)" -lt "$deadline" ]; do
    sleep 0.1
done

PODS=$(all_pods)
# This pod's own sentinel is probably stopping too: ask the other pods' sentinels first.
asked=""
# NOGOODSLAVE can be transient (a sentinel reconnecting, replica INFO being refreshed): retry briefly.
deadline=$(($(now) + {{ catch_up_wait_s }}))
while [ -z "$asked" ]; do
    for s in $(echo "$PODS" | grep -v -x -F "$ME") "$ME"; do
        reply=$(cli "$s" "$SENTINEL_PORT" SENTINEL FAILOVER "$MASTER_NAME")
        case "$reply" in
            OK*|*INPROG*) asked=$s; break ;;
        esac
    done
    [ -n "$asked" ] || [ "$(now)" -ge "$deadline" ] && break
    sleep 0.5
done
if [ -z "$asked" ]; then
    log "no sentinel accepted a failover; stopping as master"
    exit 0
fi
log "sentinel $asked is failing over"
deadline=$(($(now) + {{ failover_wait_s }}))
while [ "$(now)" -lt "$deadline" ]; do
    set -- $(master_from_sentinels $PODS)
    if [ $# -eq 2 ] && [ "$1" != "$ME" ]; then
        log "new master $1:$2"
        NEW_MASTER="$1 $2"
        exit 0
    fi
    sleep 0.2
done
log "no new master after {{ failover_wait_s }}s; stopping anyway"
exit 0
