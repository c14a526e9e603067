#!/bin/sh
# Action `backup [path=DIR]` (actions/backup runs this in the unit's `redis` container): a
# consistent RDB of the master's dataset, stored on this unit's storage as
# backups[/DIR]/NAME.rdb with NAME.meta beside it (name, size, sha256, creation time, and the
# replication id and offset the snapshot reflects).
#
# The snapshot is a BGSAVE of this pod's redis: the master itself, or a replica whose link is up
# and that has caught up with the master's offset (a replica's RDB then holds every write the
# master had acknowledged when the backup began). Redis writes the replication id and offset into
# every RDB it saves while replicating (aux fields repl-id, repl-offset), and redis-check-rdb
# prints them while it verifies the file's checksum: the metadata comes from the copy itself.
set -u
LOG_TAG="backup[${POD_NAME:-?}]"
. "{{ scripts_dir }}/lib.sh"
. "{{ scripts_dir }}/backup-lib.sh"

# How long a replica may take to reach the master's offset, and a BGSAVE to finish.
CATCH_UP_S={{ catch_up_wait_s }}
SAVE_WAIT_S=3600

path=$(action-get path)
problem=$(relative_path_problem "$path")
[ -z "$problem" ] || fail "path \"$path\" $problem"
[ -n "$(password)" ] || fail "no password in $PASSWORD_FILE: the pod has no Secret mounted"

ME=$(own_fqdn)
info=$(redis_cli INFO replication)
role=$(info_value "$info" role)
case "$role" in
    master)
        source_role=master
        agreed=$(master_from_sentinels $(all_pods))
        if [ -n "$agreed" ] && [ "${agreed% *}" != "$ME" ]; then
            fail "this pod acts as master but the sentinels name ${agreed% *}: run backup on the master's unit (pod $(echo "$agreed" | cut -d. -f1)) or wait until the cluster settles"
        fi
        ;;
    slave)
        source_role=replica
        m_host=$(info_value "$info" master_host)
        m_port=$(info_value "$info" master_port)
        agreed=$(master_from_sentinels $(all_pods))
        if [ -n "$agreed" ] && [ "$agreed" != "$m_host $m_port" ]; then
            fail "this replica follows $m_host:$m_port but the sentinels name ${agreed% *} as master: run backup on the master's unit (pod $(echo "$agreed" | cut -d. -f1)) or wait until the cluster settles"
        fi
        if [ "$(info_value "$info" master_link_status)" != up ] \
                || [ "$(info_value "$info" master_sync_in_progress)" != 0 ]; then
            fail "this replica is not in sync with the master $m_host (link down or syncing): run backup on the master's unit (pod ${m_host%%.*}) or retry later"
        fi
        target=$(cli "$m_host" "$m_port" INFO replication | sed -n 's/^master_repl_offset://p')
        case "$target" in
            ''|*[!0-9]*) fail "the master $m_host does not answer: run backup on the master's unit (pod ${m_host%%.*}) once it does" ;;
        esac
        deadline=$(($(now) + CATCH_UP_S))
        while :; do
            offset=$(redis_cli INFO replication | sed -n 's/^slave_repl_offset://p')
            [ "${offset:-0}" -ge "$target" ] && break
            if [ "$(now)" -ge "$deadline" ]; then
                fail "this replica is behind the master (offset ${offset:-unknown} < $target after ${CATCH_UP_S}s): run backup on the master's unit (pod ${m_host%%.*}) or retry later"
            fi
            sleep 0.2
        done
        ;;
    *)
        fail "this unit's redis ($ME:$REDIS_PORT) does not answer: no backup taken"
        ;;
esac

# Where this redis writes its RDB (the charm sets both; asked so the copy is of what it saved).
rdb_dir=$(redis_cli CONFIG GET dir | sed -n 2p)
rdb_name=$(redis_cli CONFIG GET dbfilename | sed -n 2p)
rdb="${rdb_dir:-$DATA_DIR}/${rdb_name:-dump.rdb}"

# rdb_saves counts finished snapshots (Redis 7.0); LASTSAVE, in seconds, moves with each one too.
saves_before=$(info_field "$LOCAL_ADDR" "$REDIS_PORT" persistence rdb_saves)
lastsave_before=$(redis_cli LASTSAVE)
deadline=$(($(now) + SAVE_WAIT_S))
while :; do
    # SCHEDULE: started after an AOF rewrite in progress instead of refused.
    reply=$(redis_cli BGSAVE SCHEDULE)
    case "$reply" in
        *started*|*scheduled*) break ;;
        *progress*) ;;  # another BGSAVE is running: ours follows it
        *) fail "BGSAVE refused: ${reply:-no answer}" ;;
    esac
    [ "$(now)" -lt "$deadline" ] || fail "BGSAVE could not start within ${SAVE_WAIT_S}s"
    sleep 0.5
done
action-log "BGSAVE on the $source_role $ME"
while :; do
    persistence=$(redis_cli INFO persistence)
    in_progress=$(info_value "$persistence" rdb_bgsave_in_progress)
    saves=$(info_value "$persistence" rdb_saves)
    if [ "$in_progress" = 0 ]; then
        if [ -n "$saves" ] && [ -n "$saves_before" ]; then
            [ "$saves" -gt "$saves_before" ] && break
        elif [ "$(redis_cli LASTSAVE)" != "$lastsave_before" ]; then
            break
        fi
    fi
    [ "$(now)" -lt "$deadline" ] || fail "BGSAVE did not finish within ${SAVE_WAIT_S}s"
    sleep 0.2
done
[ "$(info_value "$persistence" rdb_last_bgsave_status)" = ok ] \
    || fail "BGSAVE failed on $ME (rdb_last_bgsave_status: $(info_value "$persistence" rdb_last_bgsave_status)); see the redis container's log"

dest="$BACKUPS_DIR${path:+/$path}"
mkdir -p "$dest" || fail "cannot create $dest"
stamp=$(date -u +%Y%m%d-%H%M%S)
base=$stamp
n=1
while [ -e "$dest/$base.rdb" ] || [ -e "$dest/$base.meta" ]; do
    n=$((n + 1))
    base="$stamp-$n"
done
name="${path:+$path/}$base"
tmp="$dest/.$base.tmp.$$"
trap 'rm -f "$tmp.rdb" "$tmp.meta"' EXIT

# Redis replaces its RDB by rename: the copy is of one whole snapshot, whatever saves next.
cp "$rdb" "$tmp.rdb" || fail "cannot copy $rdb to $dest"
check_rdb "$tmp.rdb" || fail "the RDB redis just saved does not pass redis-check-rdb: $(rdb_error)"
size=$(wc -c < "$tmp.rdb" | tr -d ' ')
sha=$(sha256sum "$tmp.rdb" | cut -d' ' -f1)
# Absent only from the RDB of a master that never had a replica (no replication history).
repl_id=$(rdb_aux repl-id)
offset=$(rdb_aux repl-offset)
repl_id=${repl_id:-none}
offset=${offset:-none}
keys=$(rdb_keys)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
    echo "name=$name"
    echo "size=$size"
    echo "sha256=$sha"
    echo "created=$created"
    echo "repl-id=$repl_id"
    echo "offset=$offset"
    echo "keys=$keys"
    echo "pod=$POD_NAME"
    echo "role=$source_role"
    echo "redis-version=$(rdb_aux redis-ver)"
} > "$tmp.meta"
# The metadata lands last: a backup is listed (and restorable) only once both files are whole.
mv "$tmp.rdb" "$dest/$base.rdb" && mv "$tmp.meta" "$dest/$base.meta" \
    || fail "cannot move the backup into $dest"
trap - EXIT

log "backup $name: $size bytes, offset $offset, $keys keys"
action-set name="$name" size="$size" sha256="$sha" offset="$offset" repl-id="$repl_id" \
    keys="$keys" created="$created" role="$source_role" pod="$POD_NAME" path="$dest/$base.rdb"
