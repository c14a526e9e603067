#!/bin/sh
# Run by redis-start.sh on SIGTERM, while redis-server still runs. A master with replicas
# pauses writes, lets the replicas catch up, asks the sentinels to fail over and waits for the
# new master, so no acknowledged write is lost; the caller then stops redis-server, which saves.
set -u
LOG_TAG="redis-stop[${POD_NAME:-?}]"
. "{{ scripts_dir }}/lib.sh"
. "{{ scripts_dir }}/handover.sh"

ME=$(own_fqdn)

# Sentinels never promote a replica whose priority is 0: a pod on its way out (a scale-down
# stops several pods at once) must not become the new master.
redis_cli CONFIG SET replica-priority 0 >/dev/null 2>&1 || true

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

PODS=$(all_pods)
# This pod's own sentinel is probably stopping too: ask the other pods' sentinels first. Once
# this script ends, redis-start.sh stops redis-server: clients blocked by the pause see the
# connection drop, so they never get an acknowledgement for a write the new master lacks.
if handover "$LOCAL_ADDR" "$ME" $(echo "$PODS" | grep -v -x -F "$ME") "$ME"; then
    NEW_MASTER=$HANDOVER_NEW
else
    log "$HANDOVER_ERROR; stopping as master"
fi
exit 0
