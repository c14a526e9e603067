# Shell functions of the backup, list-backups and restore actions (POSIX sh, sourced after
# lib.sh). They run in the unit's workload pod, `redis` container: the only one with the storage.

# Backups stay on the storage of the unit that took them: NAME.rdb beside NAME.meta, under here.
BACKUPS_DIR="{{ data_dir }}/backups"
# Patterns below mean ASCII letters whatever the image's locale.
LC_ALL=C
export LC_ALL

# fail MESSAGE: the action fails with MESSAGE. Call it from the main shell, not in $(...): it
# ends the script. The exit status stays 0: action-fail alone decides the outcome, so Juju shows
# MESSAGE rather than "exit status 1".
fail() {
    log "$*"
    action-fail "$*"
    exit 0
}

# relative_path_problem PATH: prints why PATH is no usable path under BACKUPS_DIR (nothing when it
# is). Components are letters, digits, '.', '_', '-', not starting with '.' (so no '..', and no
# clash with the hidden temporary files of a backup being written).
relative_path_problem() {
    _p=$1
    if [ "$(printf %s "$_p" | wc -c)" -gt 200 ]; then
        echo "is longer than 200 characters"
        return 0
    fi
    case "$_p" in
        /*) echo "is absolute: give a directory relative to $BACKUPS_DIR"; return 0 ;;
        *[!A-Za-z0-9._/-]*) echo "has characters other than letters, digits, '.', '_', '-' and '/'"; return 0 ;;
        */|*//*) echo "has an empty component"; return 0 ;;
    esac
    _old_ifs=$IFS
    IFS=/
    set -f
    for _c in $_p; do
        case "$_c" in
            ..) echo "has a '..' component: it must stay under $BACKUPS_DIR"; break ;;
            .*) echo "has a component starting with '.'"; break ;;
        esac
    done
    set +f
    IFS=$_old_ifs
}

# meta_get FILE KEY: the value of KEY in a backup's metadata file (KEY=VALUE lines).
meta_get() {
    sed -n "s/^$2=//p" "$1" | head -n 1
}

# check_rdb FILE: runs redis-check-rdb (checksum, structure) on FILE; its output is in
# CHECK_OUTPUT, and its status is returned.
check_rdb() {
    CHECK_OUTPUT=$(redis-check-rdb "$1" 2>&1)
}

# rdb_aux NAME: an AUX field of the file last checked (repl-id, repl-offset, ctime, redis-ver).
rdb_aux() {
    echo "$CHECK_OUTPUT" | sed -n "s/.*AUX FIELD $1 = '\(.*\)'.*/\1/p" | head -n 1
}

# rdb_keys: the keys redis-check-rdb read in the file last checked.
rdb_keys() {
    echo "$CHECK_OUTPUT" | sed -n 's/^\[info\] \([0-9]*\) keys read.*/\1/p' | head -n 1
}

# rdb_error: what redis-check-rdb found wrong in the file last checked, in one line.
rdb_error() {
    _err=$(echo "$CHECK_OUTPUT" | sed -n '/RDB ERROR DETECTED/{n;p;}' | head -n 1)
    echo "${_err:-$(echo "$CHECK_OUTPUT" | tail -n 1)}"
}

# keyspace_total HOST PORT: the keys of every database of that redis.
keyspace_total() {
    cli "$1" "$2" INFO keyspace | sed -n 's/^db[0-9]*:keys=\([0-9]*\),.*/\1/p' \
        | awk '{ total += $1 } END { print total + 0 }'
}

# info_value INFO FIELD: a field of an INFO reply (any section).
info_value() {
    echo "$1" | sed -n "s/^$2://p" | head -n 1
}
