# The planned handover of the master role (POSIX sh, sourced after lib.sh), shared by the
# stopping master (redis-stop.sh) and the failover action (failover.sh): writes paused on the
# master, the replicas let catch up, a sentinel asked to fail over, the new master awaited.
# Writes block (not fail) while paused, so no client is told a write succeeded that the new
# master lacks. The caller ends the pause: a stopping master by exiting, the action by making
# the old master a replica first (its paused writes then fail with READONLY).

# What the last handover found: "host port" of the new master, the sentinel that accepted, and
# why it failed (its return status is 1 then).
HANDOVER_NEW=""
HANDOVER_ASKED=""
HANDOVER_ERROR=""

# replicas_caught_up ADDR: "BEHIND CAUGHT": how many replicas of the master at ADDR have not
# acknowledged its offset (or are still syncing), and how many online ones have.
replicas_caught_up() {
    _info=$(cli "$1" "$REDIS_PORT" INFO replication)
    _moff=$(echo "$_info" | sed -n 's/^master_repl_offset://p' | tr -d '\r')
    echo "$_info" | grep '^slave[0-9]*:' | awk -v m="${_moff:-0}" '
        { o = $0; sub(/.*offset=/, "", o); sub(/[^0-9].*/, "", o)
          if ($0 ~ /state=online/ && o + 0 >= m + 0) caught++; else behind++ }
        END { print behind + 0, caught + 0 }'
}

# replicas_answering FQDN PODS...: how many of PODS answer ROLE as a replica of FQDN, linked or
# not. A replica that restarted answers before its link is up and is not in its master's INFO
# yet; a sentinel still holding its INFO from before the restart (Sentinel asks a replica every
# 10 s) could promote it without what the master acknowledged since.
replicas_answering() {
    _ra_master=$1
    shift
    for _ra_pod in "$@"; do
        cli "$_ra_pod" "$REDIS_PORT" ROLE | head -n 2 | tr '\n' ' '
        echo
    done | awk -v m="$_ra_master" '$1 == "slave" && $2 == m { n++ } END { print n + 0 }'
}

# sentinel_priorities SENTINEL: "name priority" of each replica that sentinel knows, name as
# host:port (its view is refreshed from the replicas' INFO every 10 s, Sentinel's INFO period).
sentinel_priorities() {
    sentinel_cli "$1" SENTINEL REPLICAS "$MASTER_NAME" \
        | awk '_key == "name" { _name = $0 } _key == "slave-priority" { print _name, $0 }
               { _key = $0 }'
}

# sentinel_prefers SENTINEL HOST: that sentinel sees replica HOST with the lowest non-zero
# priority of all, alone (Sentinel promotes the replica of lowest non-zero priority first).
sentinel_prefers() {
    sentinel_priorities "$1" | awk -v t="$2:$REDIS_PORT" '
        $2 > 0 { if ($1 == t) mine = $2; else if (other == "" || $2 < other) other = $2 }
        END { exit !(mine != "" && (other == "" || mine < other)) }'
}

# pause_writes ADDR: writes on the master at ADDR block, for at most the longest a handover waits.
pause_writes() {
    cli "$1" "$REDIS_PORT" CLIENT PAUSE {{ pause_ms }} WRITE | grep -q '^OK'
}

# ask_failover SENTINELS...: ask each in turn until one starts a failover (or has one under
# way): 0 and HANDOVER_ASKED set; 1 and HANDOVER_ERROR set when none did within the wait.
# NOGOODSLAVE can be transient (a sentinel reconnecting, replica INFO being refreshed): asked again.
ask_failover() {
    _reply=""
    _deadline=$(($(now) + {{ catch_up_wait_s }}))
    while :; do
        for _s in "$@"; do
            _reply=$(sentinel_cli "$_s" SENTINEL FAILOVER "$MASTER_NAME")
            case "$_reply" in
                OK*|*INPROG*) HANDOVER_ASKED=$_s; return 0 ;;
            esac
        done
        [ "$(now)" -ge "$_deadline" ] && break
        sleep 0.5
    done
    HANDOVER_ERROR="no sentinel accepted a failover (last reply: ${_reply:-none})"
    return 1
}

# failover_given_up SENTINEL FQDN: that sentinel runs no failover and still names FQDN master. A
# sentinel gives up a failover that finds no replica to promote: among them one it started on its
# own, as the paused master misses its PINGs (the pause blocks the PUBLISH of Sentinel's hello
# messages on the same link) and INPROG answered the ask.
failover_given_up() {
    _flags=$(sentinel_cli "$1" SENTINEL MASTER "$MASTER_NAME" \
        | awk '_key == "flags" { print; exit } { _key = $0 }')
    case ",$_flags," in
        ,,|*,failover_in_progress,*) return 1 ;;
    esac
    [ "$(sentinel_master "$1")" = "$2 $REDIS_PORT" ]
}

# new_master_by_quorum FQDN PODS...: "host port" of a master other than FQDN that a quorum of
# the pods' sentinels name, or nothing. The leading sentinel names the replica it promoted at
# once; the others adopt the new configuration from its hello messages, every 2 s. A stopping
# master that went before then would take this pod's sentinel (the leader, often) with it, and
# with it the only copy of that configuration. A quorum naming one address settles which
# configuration is newest, so no config epoch is asked.
new_master_by_quorum() {
    _nq_old=$1
    shift
    _nq_quorum=$(quorum_for $#)
    for _nq_s in "$@"; do
        sentinel_master "$_nq_s"
    done | awk -v old="$_nq_old" -v quorum="$_nq_quorum" '
        $1 != old { votes[$0]++ }
        END { for (named in votes) if (votes[named] >= quorum) print named }'
}

# handover ADDR FQDN SENTINELS...: hand the master role of the redis at ADDR (named FQDN by the
# sentinels) over, asking the SENTINELS in this order. 0 and HANDOVER_NEW set when a quorum of
# the pods' sentinels name a new master; 1 and HANDOVER_ERROR set otherwise (writes still paused
# either way).
handover() {
    _addr=$1
    _fqdn=$2
    shift 2
    _sentinels="$*"
    HANDOVER_NEW=""
    HANDOVER_ASKED=""
    HANDOVER_ERROR=""
    learn_sentinel_ports "$_fqdn"  # before the pause: it is not paid with writes blocked
    if ! pause_writes "$_addr"; then
        HANDOVER_ERROR="the master $_fqdn did not accept CLIENT PAUSE"
        return 1
    fi
    log "writes paused on $_fqdn; waiting for its replicas to catch up"
    _pods=$(all_pods)
    _peers=$(echo "$_pods" | grep -v -x -F "$_fqdn")
    # Every replica, linked or still linking, and at least one: with none (all restarting, as
    # when every pod is deleted) there is nothing caught up, and a replica that comes back from
    # its own disk lacks what the master acknowledged meanwhile. The master then stops as master.
    _deadline=$(($(now) + {{ catch_up_wait_s }}))
    while :; do
        set -- $(replicas_caught_up "$_addr") $(replicas_answering "$_fqdn" $_peers)
        [ "${1:-1}" -eq 0 ] && [ "${2:-0}" -gt 0 ] && [ "${2:-0}" -ge "${3:-0}" ] && break
        if [ "$(now)" -ge "$_deadline" ]; then
            if [ "${2:-0}" -gt 0 ]; then
                log "${2:-0} replica(s) caught up, ${3:-0} answering: handing over all the same"
                break
            fi
            HANDOVER_ERROR="no replica caught up with $_fqdn within {{ catch_up_wait_s }}s"
            return 1
        fi
        sleep 0.1
    done
    # A failover the sentinels gave up is asked for once more (the pause allows two asks).
    for _round in 1 2; do
        ask_failover $_sentinels || return 1
        log "sentinel $HANDOVER_ASKED is failing over"
        _deadline=$(($(now) + {{ failover_wait_s }}))
        while [ "$(now)" -lt "$_deadline" ]; do
            set -- $(new_master_by_quorum "$_fqdn" $_pods)
            if [ $# -eq 2 ]; then
                HANDOVER_NEW="$1 $2"
                log "new master $1:$2"
                return 0
            fi
            if failover_given_up "$HANDOVER_ASKED" "$_fqdn"; then
                log "sentinel $HANDOVER_ASKED gave the failover up"
                HANDOVER_ERROR="sentinel $HANDOVER_ASKED gave the failover up"
                break
            fi
            sleep 0.2
        done
        [ -n "$HANDOVER_ERROR" ] || break
        [ "$_round" = 2 ] && return 1
        HANDOVER_ERROR=""
        HANDOVER_ASKED=""
    done
    HANDOVER_ERROR="no new master after {{ failover_wait_s }}s"
    return 1
}
