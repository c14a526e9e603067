#!/bin/sh
# The failover action's work, run in a pod's redis container: `failover.sh [TARGET_FQDN]`.
# A planned switch of the master with no acknowledged write lost (handover.sh): to the replica
# TARGET_FQDN, or without it to the replica the sentinels choose. Talks to the master and the
# sentinels over the network, so any pod can run it. `failover.sh TARGET_FQDN LABEL` names the
# target LABEL in messages (the action gives its unit). Prints `result KEY VALUE` lines on stdout
# (old-master, new-master, error) and its progress on stderr; exits 1 when no failover happened
# or not to the target. Hook tools are the action's business (actions/failover), not this one's.
set -u
LOG_TAG="failover[${POD_NAME:-?}]"
. "{{ scripts_dir }}/lib.sh"
. "{{ scripts_dir }}/handover.sh"
require_env POD_NAME APP_NAME PEER_DOMAIN REDIS_PORT SENTINEL_PORT MASTER_NAME
require_password

# Sentinel refreshes what it knows of a replica (its priority) from the replica's INFO every 10 s
# (SENTINEL_INFO_PERIOD in sentinel.c): a changed priority counts once a sentinel has seen it.
PRIORITY_SEEN_WAIT_S=15
TARGET=${1:-}
TARGET_LABEL=${2:-}

result() {
    echo "result $1 $2"
}

fail() {
    result error "$*"
    exit 1
}

pod_of() {
    echo "${1%%.*}"
}

# info_value INFO FIELD: one field of an INFO text.
info_value() {
    echo "$1" | sed -n "s/^$2://p"
}

PODS=$(all_pods)
set -- $(master_from_sentinels $PODS)
if [ $# -ne 2 ]; then
    fail "no sentinel names a master: the cluster is not settled, retry once it is"
fi
MASTER=$1
if [ "$(redis_role "$MASTER")" != master ]; then
    fail "the sentinels name $(pod_of "$MASTER") as master but its redis does not answer as one: the cluster is not settled, retry once it is"
fi
result old-master "$MASTER"
MASTER_INFO=$(cli "$MASTER" "$REDIS_PORT" INFO replication)
if [ "$(info_value "$MASTER_INFO" connected_slaves)" = 0 ]; then
    fail "the master $(pod_of "$MASTER") has no replica to hand over to"
fi

PRIORITY_SET=""
restore_priority() {
    # Only if it is still ours: a pod that began stopping meanwhile set 0 for its own reason.
    if [ -n "$PRIORITY_SET" ] && \
            [ "$(cli "$TARGET" "$REDIS_PORT" CONFIG GET replica-priority | sed -n 2p)" = 1 ]; then
        cli "$TARGET" "$REDIS_PORT" CONFIG SET replica-priority {{ replica_priority }} >/dev/null
        log "replica-priority of $(pod_of "$TARGET") back to {{ replica_priority }}"
    fi
}
trap restore_priority EXIT
trap 'exit 143' TERM INT

SENTINELS=$PODS
if [ -n "$TARGET" ]; then
    name=${TARGET_LABEL:-$(pod_of "$TARGET")}
    if [ "$TARGET" = "$MASTER" ]; then
        fail "$name is the master already"
    fi
    info=$(cli "$TARGET" "$REDIS_PORT" INFO replication)
    if [ -z "$info" ]; then
        fail "$name does not answer"
    fi
    if [ "$(info_value "$info" role)" != slave ] || [ "$(info_value "$info" master_host)" != "$MASTER" ]; then
        fail "$name is not a replica of the master $(pod_of "$MASTER")"
    fi
    if [ "$(info_value "$info" master_link_status)" != up ] || \
            [ "$(info_value "$info" master_sync_in_progress)" != 0 ]; then
        fail "$name is not in sync with the master (its link is down or it is still syncing)"
    fi
    priority=$(cli "$TARGET" "$REDIS_PORT" CONFIG GET replica-priority | sed -n 2p)
    if [ "$priority" = 0 ]; then
        fail "$name has replica-priority 0: it is stopping or has not finished its first sync"
    fi
    # Sentinel promotes the replica of lowest non-zero priority: 1 makes it the target's turn.
    PRIORITY_SET=1
    cli "$TARGET" "$REDIS_PORT" CONFIG SET replica-priority 1 >/dev/null
    log "replica-priority of $(pod_of "$TARGET") set to 1; waiting for a sentinel to see it"
    SENTINELS=""
    deadline=$(($(now) + PRIORITY_SEEN_WAIT_S))
    while [ -z "$SENTINELS" ]; do
        for s in $PODS; do
            if sentinel_prefers "$s" "$TARGET"; then
                SENTINELS="$SENTINELS $s"
            fi
        done
        [ -n "$SENTINELS" ] || [ "$(now)" -ge "$deadline" ] && break
        sleep 0.5
    done
    if [ -z "$SENTINELS" ]; then
        fail "no sentinel saw $name as the preferred replica within ${PRIORITY_SEEN_WAIT_S}s"
    fi
fi

if ! handover "$MASTER" "$MASTER" $SENTINELS; then
    error=$HANDOVER_ERROR
    set -- $(master_from_sentinels $PODS)
    if [ $# -ne 2 ] || [ "$1" = "$MASTER" ]; then
        # Still the master: let its writes through again.
        cli "$MASTER" "$REDIS_PORT" CLIENT UNPAUSE >/dev/null
        fail "$error; $(pod_of "$MASTER") stays master"
    fi
    HANDOVER_NEW="$1 $2"  # it came late
fi
set -- $HANDOVER_NEW
result new-master "$1"
# The old master would stay one, its writes paused, until the sentinels convert it (some 8 s or
# more later): make it a replica now, then end the pause, so that the writes it held fail with
# READONLY instead of being applied there and lost.
if cli "$MASTER" "$REDIS_PORT" REPLICAOF "$1" "$2" | grep -q '^OK'; then
    cli "$MASTER" "$REDIS_PORT" CLIENT UNPAUSE >/dev/null
    log "$(pod_of "$MASTER") is a replica of $(pod_of "$1")"
else
    # Unpaused as a master, it would apply the writes it held and lose them: the pause ends on
    # its own, by which time the sentinels have made it a replica.
    log "$(pod_of "$MASTER") did not take REPLICAOF: its writes stay paused until the sentinels convert it"
fi
if [ -n "$TARGET" ] && [ "$1" != "$TARGET" ]; then
    fail "the sentinels promoted $(pod_of "$1"), not $(pod_of "$TARGET")"
fi
exit 0
