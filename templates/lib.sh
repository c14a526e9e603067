# Shell functions shared by the redis-k8s start, stop and probe scripts (POSIX sh, sourced).
# Environment (from the pod spec): POD_IP POD_NAME APP_NAME MODEL_NAME PEER_DOMAIN REDIS_PORT
# SENTINEL_PORT MASTER_NAME. Commands come from PATH (the image decides where they are).

# The storage: mounted in the `redis` container only.
DATA_DIR="{{ data_dir }}"
SCRIPTS_DIR="{{ scripts_dir }}"
# Both containers of the pod mount this (an emptyDir): the handover and start markers and the
# sentinel's live configuration. It lasts as long as the pod, not beyond.
STATE_DIR="{{ shared_dir }}"
# On the storage, which outlives the pod (the shared dir does not): the master this pod last
# knew, written when it picks its role and when it stops. When every pod was re-created at once
# and no sentinel remembers anything, it still beats the bootstrap rule.
LAST_MASTER_FILE="$DATA_DIR/last-master"
# The Secret's volume. Kubernetes updates the file in place after a password change, so every
# use reads it again: a value read at start would go stale.
PASSWORD_FILE="{{ password_file }}"
# The metrics user's password (the exporter's; generated once, never rotated), same volume.
METRICS_PASSWORD_FILE="{{ metrics_password_file }}"
# Without a pod IP (tests, odd runtimes) listen everywhere and talk to ourselves on loopback.
LOCAL_ADDR="${POD_IP:-127.0.0.1}"
if command -v timeout >/dev/null 2>&1; then
    # An unreachable pod IP would otherwise hang a TCP connect for minutes.
    CLI_TIMEOUT="timeout {{ cli_timeout_s }}"
else
    CLI_TIMEOUT=""
fi

log() {
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) ${LOG_TAG:-redis-k8s}: $*" >&2
}

now() {
    date +%s
}

# The current password (the Secret's file; `read` is a builtin: no process per call).
password() {
    _pw=""
    IFS= read -r _pw < "$PASSWORD_FILE" 2>/dev/null || true
    printf '%s' "$_pw"
}

# metrics_user_line PERMISSIONS: the config line creating the exporter's ACL user
# ({{ metrics_user }}) with only PERMISSIONS and its password from the Secret's file, by its
# SHA-256 (the file this goes into holds no copy of it). Nothing when the Secret has no such key
# yet (a pod started before the upgraded charm's Secret reached it): the leader then creates the
# user live once the key is there.
metrics_user_line() {
    _mpw=""
    IFS= read -r _mpw < "$METRICS_PASSWORD_FILE" 2>/dev/null || true
    [ -n "$_mpw" ] || return 0
    _digest=$(printf '%s' "$_mpw" | sha256sum | cut -d' ' -f1)
    # A malformed line would keep the server from starting: without a digest, no line (the
    # leader creates the user live).
    case "$_digest" in
        ""|*[!0-9a-f]*)
            log "no SHA-256 of the metrics password: user left to the leader"
            return 0 ;;
    esac
    echo "user {{ metrics_user }} reset on #$_digest $1"
}

require_password() {
    if [ -z "$(password)" ]; then
        log "no password in $PASSWORD_FILE; the pod spec must mount the Secret there"
        exit 2
    fi
}

require_env() {
    for _var in "$@"; do
        eval "_val=\${$_var:-}"
        if [ -z "$_val" ]; then
            log "environment variable $_var is not set; the pod spec must provide it"
            exit 2
        fi
    done
}

own_fqdn() {
    echo "$POD_NAME.$PEER_DOMAIN"
}

pod_fqdn() {
    echo "$APP_NAME-$1.$PEER_DOMAIN"
}

resolves() {
    getent hosts "$1" >/dev/null 2>&1
}

# Every pod of the application, this one included: ordinals are scanned until three
# consecutive names fail to resolve, so the spec needs no unit count.
all_pods() {
    _i=0
    _misses=0
    _me=$(own_fqdn)
    {
        echo "$_me"
        while [ "$_misses" -lt 3 ] && [ "$_i" -lt 1000 ]; do
            _h=$(pod_fqdn "$_i")
            if [ "$_h" = "$_me" ] || resolves "$_h"; then
                echo "$_h"
                _misses=0
            else
                _misses=$((_misses + 1))
            fi
            _i=$((_i + 1))
        done
    } | awk '!seen[$0]++'
}

# all_pods without this pod.
peer_pods() {
    all_pods | grep -v -x -F "$(own_fqdn)"
}

count_words() {
    echo "$@" | wc -w | tr -d ' '
}

# cli HOST PORT ARGS...: one redis-cli call, raw output. redis-cli takes the password from
# REDISCLI_AUTH, so it never shows on a command line; it is read afresh for every call.
cli() {
    _host=$1
    _port=$2
    shift 2
    REDISCLI_AUTH=$(password) $CLI_TIMEOUT redis-cli --no-auth-warning -h "$_host" -p "$_port" "$@" \
        2>/dev/null | tr -d '\r'
}

redis_cli() {
    cli "$LOCAL_ADDR" "$REDIS_PORT" "$@"
}

# redis_role HOST: master, slave or nothing when unreachable.
redis_role() {
    cli "$1" "$REDIS_PORT" ROLE | head -n 1
}

# info_field HOST PORT SECTION FIELD
info_field() {
    cli "$1" "$2" INFO "$3" | sed -n "s/^$4://p"
}

# sentinel_master HOST: "host port" of the master that sentinel knows, or nothing.
sentinel_master() {
    _out=$(cli "$1" "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$MASTER_NAME")
    set -- $_out
    if [ $# -eq 2 ] && [ -n "$1" ]; then
        case "$2" in
            *[!0-9]*) ;;
            *) echo "$1 $2" ;;
        esac
    fi
}

# master_from_sentinels HOSTS...: the master most of the reachable sentinels report.
master_from_sentinels() {
    for _s in "$@"; do
        sentinel_master "$_s"
    done | sort | uniq -c | sort -k1,1nr -k2,2 | awk 'NR == 1 { print $2, $3 }'
}

# first_master_among HOSTS...: "host port" of the first pod whose redis says it is a master.
first_master_among() {
    for _p in "$@"; do
        if [ "$(redis_role "$_p")" = master ]; then
            echo "$_p $REDIS_PORT"
            return 0
        fi
    done
    return 1
}

# holds_data HOST: its redis has keys (an INFO keyspace line).
holds_data() {
    cli "$1" "$REDIS_PORT" INFO keyspace | grep -q '^db[0-9]*:keys='
}

# peers_empty HOSTS...: 0 when every one answers and holds no keys, 1 (and its name on stdout)
# when one holds data or is still loading it, 2 when one does not answer yet.
peers_empty() {
    _unknown=0
    for _p in "$@"; do
        _reply=$(cli "$_p" "$REDIS_PORT" PING)
        case "$_reply" in
            PONG)
                if holds_data "$_p"; then
                    echo "$_p"
                    return 1
                fi
                ;;
            *LOADING*)
                echo "$_p"
                return 1
                ;;
            *)
                _unknown=1
                ;;
        esac
    done
    return $((_unknown * 2))
}

# local_data_present: this pod's storage has a dataset written by a previous run.
local_data_present() {
    [ -s "$DATA_DIR/dump.rdb" ] && return 0
    [ -s "$DATA_DIR/appendonly.aof" ] && return 0
    [ -n "$(ls -A "$DATA_DIR/appendonlydir" 2>/dev/null)" ] && return 0
    return 1
}

# quorum_for N: a strict majority of N sentinels.
quorum_for() {
    echo $(($1 / 2 + 1))
}

# min_replicas_for N: min-replicas-to-write for N pods (option -1 means automatic).
min_replicas_for() {
    if [ "{{ min_replicas_to_write }}" -ge 0 ]; then
        echo "{{ min_replicas_to_write }}"
    elif [ "$1" -ge 3 ]; then
        echo 1
    else
        echo 0
    fi
}

# Waits for the server started as $CHILD (a signal interrupts `wait`, so wait again while it
# runs), logs how it ended and exits with its status. Usage: wait_child_and_exit NAME
wait_child_and_exit() {
    _rc=0
    while kill -0 "$CHILD" 2>/dev/null; do
        wait "$CHILD"
        _rc=$?
    done
    log "$1 exited with status $_rc"
    exit "$_rc"
}

remember_master() {  # remember_master HOST PORT: the storage's hint for a whole-pod restart
    echo "$1 $2" > "$LAST_MASTER_FILE.tmp" && mv "$LAST_MASTER_FILE.tmp" "$LAST_MASTER_FILE"
}
