# The write fence of a master cut off from its replicas (POSIX sh, sourced by redis-start.sh
# after lib.sh; runs in the background beside redis-server).
#
# Redis' min-replicas-max-lag counts a replica while its last acknowledgement is younger than the
# lag, in whole seconds, recounted once a second: a master cut off from its replicas (a network
# partition) goes on acknowledging writes for up to lag + 2 s, and the sentinels on the other
# side discard them when they promote a replica. This loop asks the replicas itself, a few times
# a second. When fewer than min-replicas-to-write have answered for FENCE_AFTER_MS (fence.env,
# read again every second: the ConfigMap is updated in place), it closes the replicas' links
# (CLIENT KILL TYPE replica). Redis recounts its good replicas when a replica's link is freed,
# so from then on it refuses writes with NOREPLICAS, by its own rule; a replica that can reach it
# again reconnects within a second (a partial resync from the backlog) and counts again.
#
# Not a pause (CLIENT PAUSE WRITE): a pause also holds the sentinels' hello PUBLISH and the PINGs
# queued behind it, so a pause longer than down-after-milliseconds makes the sentinels that still
# reach this pod take it for down and fail it over, for replicas that are merely unreachable from
# here. Closing links changes nothing the pod keeps: no setting to restore, nothing for CONFIG
# REWRITE to save, and a fence that stops leaves Redis' own count in charge.
# Nothing to do where Redis refuses writes anyway: not a master, min-replicas-to-write 0, or
# fewer replicas linked than it needs.

# FENCE_AFTER_MS comes from here only; the file is in the ConfigMap that holds this script.
FENCE_ENV_FILE="{{ scripts_dir }}/fence.env"
FENCE_AFTER_MS=""
# One question to a replica waits this long (twice with TLS on: cli retries in plain mode).
FENCE_ASK_TIMEOUT_S={{ fence_ask_timeout_s }}
# Between rounds as master, and as a replica (which only watches for its promotion).
FENCE_ROUND_S={{ fence_round_s }}
FENCE_IDLE_S=1

UPTIME_FILE=/proc/uptime

# Sets UPTIME_MS from /proc/uptime (two decimals; `read` is a builtin: no process). A leading
# zero goes ("08" would be a bad octal number in $((...))).
uptime_ms() {
    read -r _up _idle < "$UPTIME_FILE"
    _cs=${_up#*.}
    UPTIME_MS=$((${_up%.*} * 1000 + ${_cs#0} * 10))
}

fence_settings() {
    [ -r "$FENCE_ENV_FILE" ] || return 0
    while IFS='=' read -r _key _value; do
        case "$_key" in
            FENCE_AFTER_MS)
                case "$_value" in
                    ""|*[!0-9]*) ;;
                    *) FENCE_AFTER_MS=$_value ;;
                esac ;;
        esac
    done < "$FENCE_ENV_FILE"
}

# answering NEED HOST PORT [HOST PORT...]: sets FENCE_ANSWERED to how many of the replicas answer
# (any reply), asking until NEED did. No subshell of its own and no output kept: it runs several
# times a second.
answering() {
    _need=$1
    shift
    FENCE_ANSWERED=0
    while [ $# -ge 2 ] && [ "$FENCE_ANSWERED" -lt "$_need" ]; do
        cli_ask "$1" "$2" PING
        if [ -n "$CLI_OUT" ]; then
            FENCE_ANSWERED=$((FENCE_ANSWERED + 1))
        fi
        shift 2
    done
}

# Sets FENCE_MIN (min-replicas-to-write, 0 unless this pod is a master), FENCE_REPLICAS ("host
# port" of each replica linked) and FENCE_LINKED (their number) from this pod's own server.
fence_view() {
    FENCE_REPLICAS=""
    FENCE_LINKED=0
    FENCE_MIN=0
    # ROLE of a master: "master", its offset, then host, port and offset of each replica.
    set -- $(redis_cli ROLE)
    if [ "${1:-}" != master ]; then
        return 0
    fi
    shift 2
    while [ $# -ge 3 ]; do
        FENCE_REPLICAS="$FENCE_REPLICAS $1 $2"
        FENCE_LINKED=$((FENCE_LINKED + 1))
        shift 3
    done
    set -- $(redis_cli CONFIG GET min-replicas-to-write)
    FENCE_MIN=${2:-0}
}

fence_writes_while_cut_off() {
    if [ -z "$CLI_TIMEOUT" ]; then
        log "no timeout command: a cut-off master relies on min-replicas-max-lag alone"
        return 0
    fi
    fence_settings
    if [ -z "$FENCE_AFTER_MS" ]; then
        log "no wait in $FENCE_ENV_FILE: a cut-off master relies on min-replicas-max-lag alone"
        return 0
    fi
    CLI_TIMEOUT="timeout $FENCE_ASK_TIMEOUT_S"
    uptime_ms
    _heard_at=$UPTIME_MS
    _round=0
    while kill -0 "$CHILD" 2>/dev/null && [ ! -e "$STATE_DIR/stopping" ]; do
        # The role, the replicas and the settings change seldom: read about once a second.
        if [ $((_round % 5)) -eq 0 ]; then
            fence_settings
            fence_view
        fi
        _round=$((_round + 1))
        if [ "$FENCE_MIN" -le 0 ] || [ "$FENCE_LINKED" -lt "$FENCE_MIN" ] \
            || { answering "$FENCE_MIN" $FENCE_REPLICAS; [ "$FENCE_ANSWERED" -ge "$FENCE_MIN" ]; }; then
            uptime_ms
            _heard_at=$UPTIME_MS
        else
            uptime_ms
            if [ $((UPTIME_MS - _heard_at)) -ge "$FENCE_AFTER_MS" ]; then
                redis_cli CLIENT KILL TYPE replica >/dev/null
                log "fewer than $FENCE_MIN of $FENCE_LINKED replicas answered for" \
                    "$((UPTIME_MS - _heard_at)) ms: closed the replicas' links, writes refused" \
                    "(NOREPLICAS) until enough of them reconnect"
                # Read the links again at once; replicas that reconnect get a whole wait again,
                # not a close every round.
                _round=0
                _heard_at=$UPTIME_MS
            fi
        fi
        if [ "$FENCE_MIN" -le 0 ]; then
            _round=0
            sleep "$FENCE_IDLE_S"
        else
            sleep "$FENCE_ROUND_S"
        fi
    done
}
