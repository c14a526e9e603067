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
# The TLS Secret's volume, mounted whatever the mode: tls.env (the mode, changed live by the
# charm: read again at every use, see tls_load) and, while TLS is on, the CA bundle and every
# pod's certificate and key. Redis presents its certificate as server and as client.
TLS_ENV_FILE="{{ tls_env_file }}"
TLS_CA_FILE="{{ tls_ca_file }}"
TLS_CERT_FILE="{{ tls_dir }}/${POD_NAME:-}.pem"
TLS_KEY_FILE="{{ tls_dir }}/${POD_NAME:-}.key"
# Every server of the pod also listens on a unix socket in the shared dir, whatever the TLS mode:
# the exporter reads them there. The exporter image runs as another user (uid 59000), hence 777;
# the password still guards them, and only the pod's containers see the directory.
REDIS_SOCKET="{{ redis_socket }}"
SENTINEL_SOCKET="{{ sentinel_socket }}"
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

# password_load: the current password (the Secret's file) in PASSWORD_NOW; `read` is a builtin, so
# no process and, unlike $(password), no subshell.
password_load() {
    PASSWORD_NOW=""
    IFS= read -r PASSWORD_NOW 2>/dev/null < "$PASSWORD_FILE" || true
}

# The current password, printed.
password() {
    password_load
    printf '%s' "$PASSWORD_NOW"
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

# tls_load: TLS_ENABLED (yes|no), TLS_AUTH_CLIENTS (no|optional|yes) and TLS_NON_TLS_PORT
# (0: none) from tls.env; no file (or a value it does not know) means TLS off and the defaults.
# Only these names are taken (the file is parsed, not sourced); `read` is a builtin.
tls_load() {
    TLS_ENABLED=no
    TLS_AUTH_CLIENTS=optional
    TLS_NON_TLS_PORT=0
    [ -r "$TLS_ENV_FILE" ] || return 0
    while IFS='=' read -r _tls_name _tls_value; do
        case "$_tls_name=$_tls_value" in
            TLS_ENABLED=yes|TLS_ENABLED=no) TLS_ENABLED=$_tls_value ;;
            TLS_AUTH_CLIENTS=no|TLS_AUTH_CLIENTS=optional|TLS_AUTH_CLIENTS=yes) TLS_AUTH_CLIENTS=$_tls_value ;;
            TLS_NON_TLS_PORT=*)
                case "$_tls_value" in
                    ""|*[!0-9]*) ;;
                    *) TLS_NON_TLS_PORT=$_tls_value ;;
                esac ;;
        esac
    done < "$TLS_ENV_FILE"
}

# tls_files_present: this pod's certificate, key and the CA bundle are in the Secret's volume.
tls_files_present() {
    [ -s "$TLS_CERT_FILE" ] && [ -s "$TLS_KEY_FILE" ] && [ -s "$TLS_CA_FILE" ]
}

# wait_tls_files: with TLS on, wait until this pod's files are there (a pod scaled up before the
# leader issued its certificate, or before the Secret that has it reached the pod), logged;
# starting plain instead would serve what TLS is meant to refuse. Leaves tls.env loaded.
wait_tls_files() {
    tls_load
    if [ "$TLS_ENABLED" != yes ] || tls_files_present; then
        return 0
    fi
    log "TLS is on but $TLS_CERT_FILE, $TLS_KEY_FILE or $TLS_CA_FILE is missing: waiting for them"
    while :; do
        sleep 1
        tls_load
        if [ "$TLS_ENABLED" != yes ]; then
            log "TLS is off now: going on without TLS"
            return 0
        fi
        if tls_files_present; then
            log "this pod's TLS files are here"
            return 0
        fi
    done
}

# listener_conf PORT PLAIN_PORT SOCKET: the configuration lines of a server's listeners per
# tls.env (loaded first): PORT plain; or PORT with TLS, PLAIN_PORT plain beside it (0: none), and
# its links to masters, replicas and sentinels over TLS, presenting this pod's certificate.
# And always the unix SOCKET.
listener_conf() {
    if [ "$TLS_ENABLED" = yes ]; then
        echo "port $2"
        echo "tls-port $1"
        echo "tls-cert-file $TLS_CERT_FILE"
        echo "tls-key-file $TLS_KEY_FILE"
        echo "tls-ca-cert-file $TLS_CA_FILE"
        echo "tls-auth-clients $TLS_AUTH_CLIENTS"
        echo "tls-replication yes"
    else
        echo "port $1"
    fi
    echo "unixsocket $3"
    echo "unixsocketperm 777"
}

# cli_in yes|no HOST PORT ARGS...: one redis-cli call with TLS (yes) or without; its raw output
# and status (0: a reply came, error replies included; 124: timed out). redis-cli takes the
# password from REDISCLI_AUTH, so it never shows on a command line; it is read afresh each call.
cli_in() {
    _cli_tls=$1
    _cli_host=$2
    _cli_port=$3
    shift 3
    if [ "$_cli_tls" = yes ]; then
        if [ -s "$TLS_CERT_FILE" ] && [ -s "$TLS_KEY_FILE" ]; then
            set -- --cert "$TLS_CERT_FILE" --key "$TLS_KEY_FILE" "$@"
        fi
        if [ -s "$TLS_CA_FILE" ]; then
            set -- --tls --cacert "$TLS_CA_FILE" "$@"
        else
            # Only as the retry of a plain call (TLS being switched off: the Secret has no CA any
            # more, a server still has TLS): unverified, which is no worse than the plain call
            # tls.env asked for.
            set -- --tls --insecure "$@"
        fi
    fi
    # Not $(password): a subshell less in every call (the write fence makes several a second).
    password_load
    REDISCLI_AUTH=$PASSWORD_NOW $CLI_TIMEOUT redis-cli --no-auth-warning -h "$_cli_host" -p "$_cli_port" \
        "$@" 2>/dev/null
}

# cli_ask HOST PORT ARGS...: one redis-cli call in the mode tls.env says; its raw output (carriage
# returns kept) in CLI_OUT, nothing printed. While the charm switches TLS, a server and the file
# may disagree for a while: a call that gets no reply is made once more in the other mode. A plain
# call to a TLS port fails at once (reset); a TLS call to a plain port waits for the timeout (the
# server waits for the end of a command line), so a plain call that timed out is not retried (the
# host is slow or away, TLS would not help).
cli_ask() {
    _host=$1
    _port=$2
    shift 2
    tls_load
    CLI_OUT=$(cli_in "$TLS_ENABLED" "$_host" "$_port" "$@")
    _cli_rc=$?
    if [ "$_cli_rc" -ne 0 ] && { [ "$TLS_ENABLED" = yes ] || [ "$_cli_rc" -ne 124 ]; }; then
        if [ "$TLS_ENABLED" = yes ]; then
            CLI_OUT=$(cli_in no "$_host" "$_port" "$@")
        else
            CLI_OUT=$(cli_in yes "$_host" "$_port" "$@")
        fi
    fi
    return 0
}

# cli HOST PORT ARGS...: cli_ask, its output printed without carriage returns.
cli() {
    cli_ask "$@"
    if [ -n "$CLI_OUT" ]; then
        printf '%s\n' "$CLI_OUT" | tr -d '\r'
    fi
    return 0
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

# Where the pods' sentinels listen: this pod's SENTINEL_PORT and, in a roll that changes it,
# the port the pods rolled before this one announce (learn_sentinel_ports).
SENTINEL_PORTS=${SENTINEL_PORT:-}

# sentinel_cli HOST ARGS...: the first answer of HOST's sentinel on one of SENTINEL_PORTS.
sentinel_cli() {
    _sc_host=$1
    shift
    for _sc_port in $SENTINEL_PORTS; do
        _sc_out=$(cli "$_sc_host" "$_sc_port" "$@")
        if [ -n "$_sc_out" ]; then
            printf '%s\n' "$_sc_out"
            return 0
        fi
    done
    return 0
}

# learn_sentinel_ports HOST: add to SENTINEL_PORTS the ports of the other sentinels that HOST's
# sentinel knows (each announces its own in its hello messages): in a roll that changes
# sentinel-port the pods rolled first listen on the new one, which this pod's environment lacks.
learn_sentinel_ports() {
    for _lp in $(cli "$1" "$SENTINEL_PORT" SENTINEL SENTINELS "$MASTER_NAME" \
            | awk '_key == "port" { print } { _key = $0 }'); do
        case "$_lp" in
            ''|*[!0-9]*) continue ;;
        esac
        case " $SENTINEL_PORTS " in
            *" $_lp "*) ;;
            *) SENTINEL_PORTS="$SENTINEL_PORTS $_lp" ;;
        esac
    done
}

# sentinel_master HOST: "host port" of the master that sentinel knows, or nothing.
sentinel_master() {
    _out=$(sentinel_cli "$1" SENTINEL get-master-addr-by-name "$MASTER_NAME")
    set -- $_out
    if [ $# -eq 2 ] && [ -n "$1" ]; then
        case "$2" in
            *[!0-9]*) ;;
            *) echo "$1 $2" ;;
        esac
    fi
}

# sentinel_epoch HOST: the config epoch of the master that sentinel knows, -1 when unknown.
sentinel_epoch() {
    _epoch=$(sentinel_cli "$1" SENTINEL MASTER "$MASTER_NAME" \
        | awk 'next_is_epoch { print; exit } $0 == "config-epoch" { next_is_epoch = 1 }')
    case "$_epoch" in
        ''|*[!0-9]*) echo -1 ;;
        *) echo "$_epoch" ;;
    esac
}

# master_from_sentinels HOSTS...: the master most of the reachable sentinels report, of those
# at the greatest config epoch: a sentinel that missed the newest failover (it just started)
# still names the old master, at the old epoch, until it hears of it.
master_from_sentinels() {
    for _s in "$@"; do
        _named=$(sentinel_master "$_s")
        if [ -n "$_named" ]; then
            echo "$(sentinel_epoch "$_s") $_named"
        fi
    done | awk '{ epoch[NR] = $1; named[NR] = $2 " " $3; if (NR == 1 || $1 + 0 > top) top = $1 + 0 }
                END { for (i = 1; i <= NR; i++) if (epoch[i] + 0 == top) print named[i] }' \
        | sort | uniq -c | sort -k1,1nr -k2,2 | awk 'NR == 1 { print $2, $3 }'
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

# peers_empty HOSTS...: 0 when every one answers and holds no keys, 1 (and its name on stdout)
# when one holds data, is loading it or is receiving it from its master, 2 when one does not
# answer yet. One INFO call per peer (its default sections hold both persistence and keyspace, in
# every Redis version), so a peer cannot start loading between two questions. Only a reply with
# the keyspace section says anything: a call that failed or timed out (a busy node) does not, and
# taking it for empty let a master come back empty over replicas that held the data.
peers_empty() {
    _unknown=0
    for _p in "$@"; do
        _info=$(cli "$_p" "$REDIS_PORT" INFO)
        case "$_info" in
            *"# Keyspace"*)
                if printf '%s\n' "$_info" | grep -q -e '^db[0-9]*:keys=' -e '^loading:1' \
                        -e '^master_sync_in_progress:1'; then
                    echo "$_p"
                    return 1
                fi
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

# first_sync_done INFO: the INFO replication text says this server holds a master's dataset: it
# is a master, its link is up with no sync in progress, or a link that was up has dropped
# (master_link_down_since_seconds is -1 until a first sync completes, replication.c). A master
# that dies a moment after the sync leaves the link down for good: without the last case its
# replicas would keep the priority 0 that bars their promotion.
first_sync_done() {
    case "$1" in
        *role:master*) return 0 ;;
        *master_link_status:up*)
            case "$1" in *master_sync_in_progress:0*) return 0 ;; esac ;;
        *master_link_down_since_seconds:-1*) ;;
        *master_link_down_since_seconds:*) return 0 ;;
    esac
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
