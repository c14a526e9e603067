#!/bin/sh
# Action `restore name=NAME` (actions/restore runs this in the unit's `redis` container): brings
# every pod's redis to the dataset of a backup on this unit's storage, writes refused meanwhile.
#
# Nothing is touched until the backup passes its checks (its sha256 against its metadata, then
# redis-check-rdb) and the cluster is whole (the master the sentinels name answers as master,
# every other pod is its replica with the link up). Then:
#  1. a temporary redis-server in this pod (this pod's address, a side port, the same password,
#     no persistence, its dir a private copy of the backup: the backup file is never written)
#     loads the backup;
#  2. the master becomes a replica of the temporary server (from then on it refuses writes with
#     READONLY: none is acknowledged, so none is lost) and full-syncs the backup from it (its RDB
#     and AOF are rewritten from the received data, as on any full sync);
#  3. REPLICAOF NO ONE: master again, under a new replication id; its replicas resync from it;
#  4. every replica is checked to be linked under the new id, the temporary server stops.
# The sentinels and the pods stay as they were. A sentinel takes a master that reports itself a
# replica for longer than down-after-milliseconds plus two INFO periods (20 s) as down (sentinel.c,
# sentinelCheckSubjectivelyDown), so step 2 is given 5 s less than that, and otherwise undone.
# Writes are not paused (CLIENT PAUSE WRITE): a pause also holds the sentinels' hello PUBLISH, and
# the PING queued behind it on the same connection, so a pause longer than down-after-milliseconds
# makes the sentinels fail the master over.
set -u
LOG_TAG="restore[${POD_NAME:-?}]"
. "{{ scripts_dir }}/lib.sh"
. "{{ scripts_dir }}/backup-lib.sh"

# How long the temporary server may take to load the backup, and the replicas to resync after.
LOAD_WAIT_S=600
REPLICA_WAIT_S=120
# Sentinel's INFO period towards a master (SENTINEL_INFO_PERIOD, 10 s): two of them, less a margin.
SENTINEL_SLACK_MS=15000

name=$(action-get name)
name=${name%.rdb}  # the file's name is taken for the backup's
[ -n "$name" ] || fail "name is required: one of the names list-backups shows"
problem=$(relative_path_problem "$name")
[ -z "$problem" ] || fail "name \"$name\" $problem"
rdb="$BACKUPS_DIR/$name.rdb"
meta="$BACKUPS_DIR/$name.meta"
if [ ! -f "$rdb" ] || [ ! -f "$meta" ]; then
    fail "no backup named \"$name\" on this unit's storage (pod $POD_NAME): list-backups shows the backups here (each unit keeps the backups it took); nothing was changed"
fi
expected=$(meta_get "$meta" sha256)
actual=$(sha256sum "$rdb" | cut -d' ' -f1)
if [ "$actual" != "$expected" ]; then
    fail "backup \"$name\" is corrupt: its sha256 is $actual but its metadata says $expected; nothing was changed"
fi
check_rdb "$rdb" || fail "backup \"$name\" is corrupt: redis-check-rdb: $(rdb_error); nothing was changed"
[ -n "$(password)" ] || fail "no password in $PASSWORD_FILE: the pod has no Secret mounted"

# --- the cluster must be whole ---
PODS=$(all_pods)
set -- $(master_from_sentinels $PODS)
[ $# -eq 2 ] || fail "no sentinel names a master: restore needs a healthy cluster; nothing was changed"
M_HOST=$1
M_PORT=$2
m_info=$(cli "$M_HOST" "$M_PORT" INFO replication)
if [ "$(info_value "$m_info" role)" != master ]; then
    fail "the master the sentinels name ($M_HOST) does not answer as master: restore needs a healthy cluster; nothing was changed"
fi
REPLICAS=""
for p in $PODS; do
    [ "$p" = "$M_HOST" ] && continue
    r_info=$(cli "$p" "$REDIS_PORT" INFO replication)
    if [ "$(info_value "$r_info" role)" != slave ] || [ "$(info_value "$r_info" master_host)" != "$M_HOST" ] \
            || [ "$(info_value "$r_info" master_link_status)" != up ]; then
        fail "pod ${p%%.*} is not a replica linked to the master ${M_HOST%%.*}: restore needs every pod in sync; nothing was changed"
    fi
    REPLICAS="$REPLICAS $p"
done

# The smallest down-after-milliseconds any sentinel applies (the ConfigMap's when none answers).
down_after=$(for s in $PODS; do
    cli "$s" "$SENTINEL_PORT" SENTINEL MASTER "$MASTER_NAME" \
        | awk 'previous == "down-after-milliseconds" { print; exit } { previous = $0 }'
done | grep -x '[0-9][0-9]*' | sort -n | head -n 1)
down_after=${down_after:-{{ down_after_ms }}}
# How long the master may act as a replica (step 2), in whole seconds.
SWITCH_WAIT_S=$(((down_after + SENTINEL_SLACK_MS) / 1000))

# --- the temporary server ---
umask 077
WORK="$DATA_DIR/.restore.$$"
TMP_PID=""
TMP_PORT=""
FOLLOWING=""
cleanup() {
    if [ -n "$FOLLOWING" ]; then
        cli "$M_HOST" "$M_PORT" REPLICAOF NO ONE >/dev/null
        log "the master ${M_HOST%%.*} is master again"
    fi
    if [ -n "$TMP_PID" ]; then
        [ -n "$TMP_PORT" ] && cli "$LOCAL_ADDR" "$TMP_PORT" SHUTDOWN NOSAVE >/dev/null
        _n=0
        while kill -0 "$TMP_PID" 2>/dev/null && [ "$_n" -lt 50 ]; do
            sleep 0.2
            _n=$((_n + 1))
        done
        kill -KILL "$TMP_PID" 2>/dev/null
        wait "$TMP_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' TERM INT
mkdir "$WORK" || fail "cannot create $WORK; nothing was changed"
cp "$rdb" "$WORK/backup.rdb" || fail "cannot copy the backup to $WORK (storage full?); nothing was changed"

# start_temporary PORT: 0 once a redis-server loaded the copy there, 1 if it could not listen.
start_temporary() {
    {
        echo "bind $LOCAL_ADDR"
        # In the pod's TLS mode: the master replicates from it over TLS when TLS is on.
        tls_load
        listener_conf "$1" 0 "$WORK/redis.sock"
        echo "requirepass \"$(password)\""
        echo "save \"\""
        echo "appendonly no"
        echo "dir $WORK"
        echo "dbfilename backup.rdb"
        echo "repl-diskless-sync yes"
        echo "repl-diskless-sync-delay 0"
        echo "daemonize no"
        echo "logfile $WORK/redis.log"
    } > "$WORK/redis.conf"
    redis-server "$WORK/redis.conf" &
    TMP_PID=$!
    _deadline=$(($(now) + LOAD_WAIT_S))
    while [ "$(now)" -lt "$_deadline" ]; do
        if ! kill -0 "$TMP_PID" 2>/dev/null; then
            wait "$TMP_PID" 2>/dev/null
            TMP_PID=""
            return 1
        fi
        [ "$(cli "$LOCAL_ADDR" "$1" PING)" = PONG ] && return 0
        sleep 0.2
    done
    fail "the temporary redis-server did not load the backup within ${LOAD_WAIT_S}s; nothing was changed"
}
for port in $((REDIS_PORT + 10000)) $((REDIS_PORT + 10001)) $((REDIS_PORT + 10002)); do
    [ "$port" -gt 65535 ] && port=$((port - 20000))
    [ "$port" = "$SENTINEL_PORT" ] && continue
    [ -n "$(cli "$LOCAL_ADDR" "$port" PING)" ] && continue  # something listens there
    if start_temporary "$port"; then
        TMP_PORT=$port
        break
    fi
done
if [ -z "$TMP_PORT" ]; then
    fail "the temporary redis-server could not start on a side port: $(tail -n 3 "$WORK/redis.log" 2>/dev/null | tr '\n' ' '); nothing was changed"
fi
backup_keys=$(keyspace_total "$LOCAL_ADDR" "$TMP_PORT")
action-log "backup $name loaded ($backup_keys keys) by a temporary redis on port $TMP_PORT"

# --- the master takes the backup's dataset ---
switched_ms=$(date +%s%3N)
reply=$(cli "$M_HOST" "$M_PORT" REPLICAOF "$LOCAL_ADDR" "$TMP_PORT")
FOLLOWING=1
case "$reply" in
    OK*) ;;
    *) fail "the master ${M_HOST%%.*} refused REPLICAOF (${reply:-no answer}); it stays master with its data" ;;
esac
deadline=$(($(now) + SWITCH_WAIT_S))
while :; do
    m_info=$(cli "$M_HOST" "$M_PORT" INFO replication)
    if [ "$(info_value "$m_info" master_host)" = "$LOCAL_ADDR" ] \
            && [ "$(info_value "$m_info" master_port)" = "$TMP_PORT" ] \
            && [ "$(info_value "$m_info" master_link_status)" = up ] \
            && [ "$(info_value "$m_info" master_sync_in_progress)" = 0 ]; then
        break
    fi
    if [ "$(now)" -ge "$deadline" ]; then
        fail "the master ${M_HOST%%.*} did not load the backup within ${SWITCH_WAIT_S}s (the sentinels would take it for down): it is master again; its data may be the old one or the backup's, run restore again"
    fi
    sleep 0.1
done
reply=$(cli "$M_HOST" "$M_PORT" REPLICAOF NO ONE)
case "$reply" in
    OK*) FOLLOWING="" ;;
    *) fail "the master ${M_HOST%%.*} did not leave the temporary server (${reply:-no answer})" ;;
esac
# How long the master refused writes (READONLY) and reported itself a replica.
readonly_ms=$(($(date +%s%3N) - switched_ms))
m_info=$(cli "$M_HOST" "$M_PORT" INFO replication)
new_replid=$(info_value "$m_info" master_replid)
log "the master ${M_HOST%%.*} holds backup $name; new replication id $new_replid"

# --- every replica resyncs under the new replication id ---
deadline=$(($(now) + REPLICA_WAIT_S))
while :; do
    pending=""
    for p in $REPLICAS; do
        r_info=$(cli "$p" "$REDIS_PORT" INFO replication)
        if [ "$(info_value "$r_info" master_link_status)" != up ] \
                || [ "$(info_value "$r_info" master_sync_in_progress)" != 0 ] \
                || [ "$(info_value "$r_info" master_replid)" != "$new_replid" ]; then
            pending="$pending ${p%%.*}"
        fi
    done
    [ -z "$pending" ] && break
    [ "$(now)" -ge "$deadline" ] && break
    sleep 0.2
done
if [ -n "$pending" ]; then
    fail "the master ${M_HOST%%.*} holds backup $name, but replica(s)$pending had not resynced after ${REPLICA_WAIT_S}s (they go on by themselves; their data may be the old one meanwhile)"
fi
master_keys=$(keyspace_total "$M_HOST" "$M_PORT")
m_offset=$(info_value "$(cli "$M_HOST" "$M_PORT" INFO replication)" master_repl_offset)
log "backup $name restored on every pod: $master_keys keys, offset $m_offset"
action-set name="$name" keys="$master_keys" backup-keys="$backup_keys" master="${M_HOST%%.*}" \
    replicas="$(echo $REPLICAS | sed 's/\.[^ ]*//g')" repl-id="$new_replid" offset="$m_offset" \
    readonly-ms="$readonly_ms"
