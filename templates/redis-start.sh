#!/bin/sh
# Container command of `redis`: decides this pod's role, starts redis-server and, on SIGTERM,
# hands the master role over before stopping (there is no preStop hook in pod spec v3).
#
# Role, in order of authority:
#  1. the sentinels: a master that is not this pod -> replica of it. This pod -> master when its
#     storage holds data; when it came back empty, fail over first and replicate the new master,
#     so an empty node never resyncs replicas that hold data.
#  2. no sentinel knows a master: a peer redis that is master -> replica of it.
#  3. the master this pod's sentinel last saw (its live configuration, in the pod's shared
#     volume: there after a container restart, gone with the pod).
#  4. otherwise the bootstrap rule: pod <app>-0 is master, every other pod replicates it.
set -u
LOG_TAG="redis-start[${POD_NAME:-?}]"
. "{{ scripts_dir }}/lib.sh"
. "{{ scripts_dir }}/fence.sh"
require_env POD_NAME APP_NAME PEER_DOMAIN REDIS_PORT SENTINEL_PORT MASTER_NAME
require_password

# Until redis-server runs there is nothing to hand over.
trap 'log "stopped before redis-server started"; exit 143' TERM INT

# Files holding the password (this conf, and redis' own CONFIG REWRITE of it after a failover)
# are readable by their owner only.
umask 077
ME=$(own_fqdn)
CONF="$DATA_DIR/redis.conf"
mkdir -p "$STATE_DIR"
# Left behind only if a previous stop was killed mid-handover.
rm -f "$STATE_DIR/handover" "$STATE_DIR/stopping"
# The liveness probe passes while this exists: deciding the role may wait for a failover.
: > "$STATE_DIR/starting"
# With TLS on, this pod talks to its peers and serves with its own certificate only.
wait_tls_files

PODS=$(all_pods)
PEERS=$(echo "$PODS" | grep -v -x -F "$ME")
MASTER_HOST=""
MASTER_PORT=""

ask_sentinels() {
    _deadline=$(($(now) + {{ sentinel_wait_s }}))
    while :; do
        _answer=$(master_from_sentinels $PODS)
        if [ -n "$_answer" ] || [ "$(now)" -ge "$_deadline" ]; then
            echo "$_answer"
            return 0
        fi
        sleep 0.5
    done
}

# Starting as master with empty storage is only safe when every peer answers and has no data
# (a fresh deployment); a peer that does not answer yet may hold data, so wait, then give up and
# let the container restart: the sentinels fail over to a replica with data meanwhile.
ensure_peers_empty() {
    _deadline=$(($(now) + {{ sentinel_wait_s }}))
    while :; do
        _holder=$(peers_empty $PEERS)
        case $? in
            0) return 0 ;;
            1)
                log "refusing to start empty as master while $_holder holds data; exiting to retry"
                exit 1
                ;;
        esac
        if [ "$(now)" -ge "$_deadline" ]; then
            log "storage empty and some peers do not answer; not starting as master, exiting to retry"
            exit 1
        fi
        sleep 1
    done
}

# This pod is the master the sentinels know, but its storage is empty.
recover_empty_master() {
    _asked=""
    for _s in $PODS; do
        _reply=$(cli "$_s" "$SENTINEL_PORT" SENTINEL FAILOVER "$MASTER_NAME")
        case "$_reply" in
            OK*|*INPROG*) _asked=$_s; break ;;
        esac
    done
    if [ -z "$_asked" ]; then
        # No sentinel has a replica to promote (yet: a replica restarting with this pod is not
        # "good" for them until its link is up).
        ensure_peers_empty
        log "storage empty, no replica to promote and no peer holds data: starting as master"
        return 0
    fi
    log "storage empty: asked sentinel $_asked to fail over, waiting for a new master"
    _deadline=$(($(now) + {{ failover_wait_s }}))
    while [ "$(now)" -lt "$_deadline" ]; do
        set -- $(master_from_sentinels $PODS)
        if [ $# -eq 2 ] && [ "$1" != "$ME" ]; then
            MASTER_HOST=$1
            MASTER_PORT=$2
            return 0
        fi
        sleep 1
    done
    log "no new master after {{ failover_wait_s }}s; exiting so the container restarts and retries"
    exit 1
}

choose_role() {
    set -- $(ask_sentinels)
    if [ $# -eq 2 ]; then
        if [ "$1" != "$ME" ]; then
            MASTER_HOST=$1
            MASTER_PORT=$2
            log "sentinels report master $1:$2: starting as replica"
        elif local_data_present; then
            log "sentinels report this pod as master and storage holds data: starting as master"
        else
            recover_empty_master
        fi
        return 0
    fi
    set -- $(first_master_among $PEERS)
    if [ $# -eq 2 ]; then
        MASTER_HOST=$1
        MASTER_PORT=$2
        log "no sentinel knows a master; peer $1 is master: starting as replica"
        return 0
    fi
    # This pod's sentinel shares the pod's volume: its last known master still beats the bootstrap
    # rule; after the pod's re-creation (an empty shared dir) the hint on the storage does.
    set -- $(awk -v m="$MASTER_NAME" '$1 == "sentinel" && $2 == "monitor" && $3 == m { print $4, $5 }' \
        "$STATE_DIR/sentinel/sentinel.conf" 2>/dev/null)
    if [ $# -ne 2 ]; then
        set -- $(cat "$LAST_MASTER_FILE" 2>/dev/null)
    fi
    if [ $# -eq 2 ]; then
        if [ "$1" != "$ME" ]; then
            MASTER_HOST=$1
            MASTER_PORT=$2
            log "no sentinel answers; this pod's sentinel last saw master $1:$2: starting as replica"
        elif local_data_present; then
            log "no sentinel answers; this pod was the last master and holds data: starting as master"
        else
            ensure_peers_empty
            log "no sentinel answers; last master, empty, and no peer holds data: starting as master"
        fi
        return 0
    fi
    _bootstrap=$(pod_fqdn 0)
    if [ "$_bootstrap" = "$ME" ]; then
        if ! local_data_present; then
            ensure_peers_empty
        fi
        log "no master known anywhere: bootstrap master is this pod"
    else
        MASTER_HOST=$_bootstrap
        MASTER_PORT=$REDIS_PORT
        log "no master known anywhere: replicating bootstrap master $_bootstrap"
    fi
}

write_conf() {
    _n=$(count_words $PODS)
    _password=$(password)
    # The mode as it is now (it may have changed while the role was chosen).
    wait_tls_files
    {
        cat "{{ scripts_dir }}/redis.conf"
        echo "bind ${POD_IP:-0.0.0.0}"
        listener_conf "$REDIS_PORT" "$TLS_NON_TLS_PORT" "$REDIS_SOCKET"
        echo "replica-announce-ip $ME"
        echo "replica-announce-port $REDIS_PORT"
        echo "min-replicas-to-write $(min_replicas_for "$_n")"
        echo "repl-diskless-sync-max-replicas $((_n - 1))"
        echo "requirepass \"$_password\""
        echo "masterauth \"$_password\""
        metrics_user_line "{{ metrics_redis_permissions }}"
        if [ -n "$MASTER_HOST" ]; then
            echo "replicaof $MASTER_HOST $MASTER_PORT"
        fi
        if [ -n "$HOLD_PRIORITY" ]; then
            echo "replica-priority 0"
        fi
    } > "$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
}

# A replica that starts without data of its own holds nothing until its first sync: a sentinel
# that promoted it before then (one that started late and still sees the old topology) would
# make an empty master and wipe every replica that resyncs from it. Sentinels never promote a
# replica of priority 0, so it has that until the sync is done.
HOLD_PRIORITY=""
release_priority_when_synced() {
    while kill -0 "$CHILD" 2>/dev/null; do
        first_sync_done "$(redis_cli INFO replication)" && break
        sleep 1
    done
    # A stop that began meanwhile set priority 0 for its own reason: leave it (and set it again if
    # it began while this was being set).
    [ -e "$STATE_DIR/stopping" ] && return 0
    redis_cli CONFIG SET replica-priority {{ replica_priority }} >/dev/null
    if [ -e "$STATE_DIR/stopping" ]; then
        redis_cli CONFIG SET replica-priority 0 >/dev/null
    else
        log "first sync done: replica-priority {{ replica_priority }}"
    fi
}

choose_role
remember_master "${MASTER_HOST:-$ME}" "${MASTER_PORT:-$REDIS_PORT}"
if [ -n "$MASTER_HOST" ] && ! local_data_present; then
    HOLD_PRIORITY=1
    log "storage empty: replica-priority 0 until the first sync is done"
fi
write_conf
rm -f "$STATE_DIR/starting"

redis-server "$CONF" &
CHILD=$!
if [ -n "$HOLD_PRIORITY" ]; then
    release_priority_when_synced &
fi
fence_writes_while_cut_off &

on_term() {
    : > "$STATE_DIR/stopping"
    /bin/sh "{{ scripts_dir }}/redis-stop.sh" || true
    kill -TERM "$CHILD" 2>/dev/null
}
trap on_term TERM INT

wait_child_and_exit redis-server
