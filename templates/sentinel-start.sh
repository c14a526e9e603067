#!/bin/sh
# Container command of `sentinel`: writes the live sentinel configuration in the pod's shared
# volume (the storage is not mounted in this container) and runs redis-sentinel. The master to monitor comes from the other sentinels, else from this
# sentinel's persisted configuration, else from a peer redis that is master, else pod <app>-0.
set -u
LOG_TAG="sentinel-start[${POD_NAME:-?}]"
. "{{ scripts_dir }}/lib.sh"
require_env POD_NAME APP_NAME PEER_DOMAIN REDIS_PORT SENTINEL_PORT MASTER_NAME
require_password

trap 'log "stopped before sentinel started"; exit 143' TERM INT
# With TLS on, this sentinel talks to redis and the other sentinels with its own certificate only.
wait_tls_files

ME=$(own_fqdn)
SDIR="$STATE_DIR/sentinel"
CONF="$SDIR/sentinel.conf"
PREV="$SDIR/sentinel.conf.previous"
umask 077
mkdir -p "$SDIR"
if [ -f "$CONF" ]; then
    cp "$CONF" "$PREV"
else
    : > "$PREV"
fi

PODS=$(all_pods)
PEERS=$(echo "$PODS" | grep -v -x -F "$ME")
PERSISTED=$(awk -v m="$MASTER_NAME" '$1 == "sentinel" && $2 == "monitor" && $3 == m { print $4, $5 }' "$PREV")

choose_master() {
    set -- $(master_from_sentinels $PEERS)
    if [ $# -eq 2 ]; then
        log "other sentinels report master $1:$2"
        echo "$1 $2"
        return 0
    fi
    if [ -n "$PERSISTED" ]; then
        log "no other sentinel answers; persisted master $PERSISTED"
        echo "$PERSISTED"
        return 0
    fi
    set -- $(first_master_among $PEERS)
    if [ $# -eq 2 ]; then
        log "no sentinel knows a master; peer $1 is master"
        echo "$1 $2"
        return 0
    fi
    log "no master known anywhere: bootstrap master $(pod_fqdn 0)"
    echo "$(pod_fqdn 0) $REDIS_PORT"
}

set -- $(choose_master)
MASTER_HOST=$1
MASTER_PORT=$2

# With resolve-hostnames, sentinel refuses a configuration whose master does not resolve.
deadline=$(($(now) + {{ resolve_wait_s }}))
until resolves "$MASTER_HOST"; do
    if [ "$(now)" -ge "$deadline" ]; then
        log "master $MASTER_HOST does not resolve after {{ resolve_wait_s }}s; exiting to retry"
        exit 1
    fi
    sleep 1
done

QUORUM=$(quorum_for "$(count_words $PODS)")
PASSWORD=$(password)
# The mode as it is now. Sentinel cannot change it live (no CONFIG SET of tls-*): the charm makes
# it exit, the container restarts and this writes the configuration in the new mode, keeping
# what it learned (below). It never serves plain beside TLS.
wait_tls_files
{
    cat "{{ sentinel_conf_dir }}/sentinel.conf"
    echo "bind ${POD_IP:-0.0.0.0}"
    listener_conf "$SENTINEL_PORT" 0 "$SENTINEL_SOCKET"
    echo "sentinel announce-ip $ME"
    echo "sentinel announce-port $SENTINEL_PORT"
    echo "requirepass \"$PASSWORD\""
    echo "sentinel sentinel-pass \"$PASSWORD\""
    metrics_user_line "{{ metrics_sentinel_permissions }}"
    # Keeping the id and epoch makes a restarted sentinel the same voter, not a new stranger.
    grep -E '^sentinel (myid|current-epoch) ' "$PREV"
    echo "sentinel monitor $MASTER_NAME $MASTER_HOST $MASTER_PORT $QUORUM"
    cat "{{ sentinel_conf_dir }}/sentinel-master.conf"
    echo "sentinel auth-pass $MASTER_NAME \"$PASSWORD\""
    if [ "$PERSISTED" = "$MASTER_HOST $MASTER_PORT" ]; then
        # Same master as before: what this sentinel knew about replicas and other sentinels
        # still holds, and it lets a failover promote a replica while the master is down.
        grep -E "^sentinel (config-epoch|leader-epoch|known-sentinel) $MASTER_NAME " "$PREV"
        grep -E "^sentinel known-replica $MASTER_NAME " "$PREV" \
            | awk -v h="$MASTER_HOST" -v p="$MASTER_PORT" '!($4 == h && $5 == p)'
    fi
} > "$CONF.tmp"
mv "$CONF.tmp" "$CONF"
log "monitoring $MASTER_HOST:$MASTER_PORT with quorum $QUORUM"

redis-server "$CONF" --sentinel &
CHILD=$!

on_term() {
    # A pod deletion stops both containers at once: while this pod's redis hands the master role
    # over (redis-stop.sh marks it), this sentinel is one of the voters, so it stays until then.
    _deadline=$(($(now) + {{ failover_wait_s }} + {{ catch_up_wait_s }}))
    _appear=$(($(now) + 2))
    if [ "$(redis_role "$LOCAL_ADDR")" = master ]; then
        while [ ! -e "$STATE_DIR/handover" ] && [ "$(now)" -lt "$_appear" ]; do
            sleep 0.2
        done
    fi
    while [ -e "$STATE_DIR/handover" ] && [ "$(now)" -lt "$_deadline" ]; do
        sleep 0.2
    done
    kill -TERM "$CHILD" 2>/dev/null
}
trap on_term TERM INT

wait_child_and_exit sentinel
