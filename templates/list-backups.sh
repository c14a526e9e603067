#!/bin/sh
# Action `list-backups` (actions/list-backups runs this in the unit's `redis` container): the
# backups on this unit's storage, oldest first, with their metadata. Backups stay on the storage
# of the unit that took them: another unit lists its own.
set -u
LOG_TAG="list-backups[${POD_NAME:-?}]"
. "{{ scripts_dir }}/lib.sh"
. "{{ scripts_dir }}/backup-lib.sh"

count=0
set --
if [ -d "$BACKUPS_DIR" ]; then
    # Names are checked characters only (no blanks), so one a line is safe to split. Sorted by
    # name within a directory: names are UTC timestamps.
    for meta in $(find "$BACKUPS_DIR" -name '.*' -prune -o -type f -name '*.meta' -print | sort); do
        [ -f "${meta%.meta}.rdb" ] || continue
        count=$((count + 1))
        for key in name size sha256 created repl-id offset keys role; do
            set -- "$@" "backups.$count.$key=$(meta_get "$meta" "$key")"
        done
        set -- "$@" "backups.$count.path=${meta%.meta}.rdb"
    done
fi
action-set count="$count" storage="$BACKUPS_DIR on the storage of pod $POD_NAME: each unit lists the backups it took" "$@"
