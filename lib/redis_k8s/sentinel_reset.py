"""Sentinels forget removed pods: ``SENTINEL RESET`` of each stale sentinel in turn, by the
master watcher, outside any hook.

A reset sentinel knows its replicas again at its master's next INFO and the other sentinels
once it has heard their hello messages (every 2 s), so the resets go one at a time, each
waiting for the sentinel to know them all again: a majority of sentinels always knows the
topology. That wait took a hook 11-22 s after a scale-down, and the application's other hooks
(the new master's publication among them) queued behind it, so the leader's hook asks the
watcher instead (:func:`request`), and the watcher runs :func:`reset_in_turn`.

A reset sentinel learns the replicas again only from the master's INFO: reset while the master
does not answer it (a partition, a frozen or dead master), it forgets every replica it could
promote, and if it then leads the failover Sentinel aborts it (``-failover-abort-no-good-slave``)
and tries again only after twice the failover timeout. So a sentinel is reset only while its
master answers it (:func:`master_answers`), and just before its master's next INFO
(:func:`info_due`): ``SENTINEL RESET`` keeps the time of the last one (Redis 7.0 sentinel.c,
``sentinelResetMaster`` leaves ``info_refresh`` alone), and INFO goes to a master every
10 s, so a sentinel reset just after one would know no replica for up to 10 s.
"""

import time

import redis

from . import connection

REQUEST_MAX_AGE_S = 60.0  # an older request is not served: a later hook asks again if need be
SYNC_TIMEOUT_S = 10.0  # for one reset sentinel to know the replicas and sentinels again
SYNC_POLL_S = 0.2
INFO_FRESH_MS = 10000  # Sentinel's INFO period: a replica's INFO at least this recent
INFO_DUE_MS = 1000  # reset when the master's next INFO is this close (or a little late)
READY_TIMEOUT_S = INFO_FRESH_MS / 1000.0 + 2.0  # to wait for that moment, at most
# Sentinel pings the master every second: one that answered none of the last pings is not
# answering (whatever down-after-milliseconds says).
MASTER_ANSWERED_MS = 1500


def request(hosts, now, pods) -> dict:
    """The request the leader's hook puts in the watcher's settings: reset ``hosts``, found
    stale among ``pods``."""
    return {'hosts': list(hosts), 'at': now, 'pods': sorted(pods)}


def asked_again(previous, hosts, now, pods) -> bool:
    """Whether a hook that found ``hosts`` stale among ``pods`` asks again, given its
    ``previous`` request: not while a fresh request made among the same pods covers them (the
    watcher is at it; they stay stale until it is done). A scale-down after the request (5, 3,
    then 1 unit) leaves a sentinel the watcher just reset remembering the pods removed since:
    that request does not cover it, or the sentinel would stay stale until the request aged."""
    return (not previous or not set(hosts) <= set(previous.get('hosts', []))
            or sorted(pods) != previous.get('pods', [])
            or now - float(previous.get('at', 0)) >= REQUEST_MAX_AGE_S)


def due(asked, served_at, now) -> bool:
    """Whether the watcher serves request ``asked`` (None: nothing asked): once, while fresh."""
    if not asked or not asked.get('hosts'):
        return False
    at = float(asked.get('at', 0))
    return at != served_at and now - at < REQUEST_MAX_AGE_S


def _connect(host, port, password):
    return connection.client(host, port, password, timeout=2, connect_timeout=2)


def _sentinel(host, data, connect, *command):
    """``command``'s reply from the sentinel at ``host`` (raises when it does not answer)."""
    return connection.call(connect, host, data['port'], data.get('password'),
                           lambda client: client.execute_command(*command))


def master_state(host, data, connect=_connect):
    """``SENTINEL MASTER`` of the sentinel at ``host`` as a dict, or None when it does not answer
    (``data``: the watcher's settings, for the port, password and master group name)."""
    try:
        return connection.as_dict(_sentinel(host, data, connect, 'SENTINEL', 'MASTER',
                                            data['master_name']))
    except (redis.RedisError, OSError):
        return None


def master_answers(state) -> bool:
    """Whether ``SENTINEL MASTER`` ``state`` shows the master answering the sentinel now: no
    flag but ``master`` (no s_down, o_down, failover or broken link), a ping answered within
    :data:`MASTER_ANSWERED_MS` and its INFO (the replicas a reset sentinel learns) no later
    than :data:`INFO_DUE_MS` past its period."""
    return (set(str(state.get('flags', '')).split(',')) == {'master'}
            and int(state.get('last-ok-ping-reply', MASTER_ANSWERED_MS)) < MASTER_ANSWERED_MS
            and int(state.get('info-refresh', INFO_FRESH_MS + INFO_DUE_MS))
            < INFO_FRESH_MS + INFO_DUE_MS)


def info_due(state) -> bool:
    """Whether the sentinel sends its master the next INFO within :data:`INFO_DUE_MS` (or is
    a little late with it): reset now, it learns the replicas again at once."""
    return int(state.get('info-refresh', 0)) >= INFO_FRESH_MS - INFO_DUE_MS


def _why_not_reset(state) -> str:
    if state is None:
        return 'it does not answer'
    if 'failover_in_progress' in str(state.get('flags', '')):
        return 'a failover is under way'
    return ('its master does not answer it (flags {}, last answered ping {} ms ago): reset, it '
            'would forget the replicas it could promote'.format(
                state.get('flags'), state.get('last-ok-ping-reply')))


def _replicas_fresh(host, data, connect) -> bool:
    """Whether the sentinel at ``host`` has a live link to every replica it knows and their INFO
    (a replica it has none from is no candidate for promotion: NOGOODSLAVE)."""
    try:
        replies = _sentinel(host, data, connect, 'SENTINEL', 'REPLICAS', data['master_name'])
    except (redis.RedisError, OSError):
        return False
    for reply in replies or []:
        replica = connection.as_dict(reply)
        flags = str(replica.get('flags', '')).split(',')
        if ('disconnected' in flags or 's_down' in flags
                or int(replica.get('info-refresh', INFO_FRESH_MS)) >= INFO_FRESH_MS):
            return False
    return True


def _reset(host, data, connect) -> bool:
    try:
        _sentinel(host, data, connect, 'SENTINEL', 'RESET', data['master_name'])
        return True
    except (redis.RedisError, OSError):
        return False


def in_reset_order(hosts, states) -> list:
    """``hosts`` in the order to reset them: the sentinel in the master's own pod last.

    Until it is reset, a sentinel counts the removed pods' sentinels among the voters of a
    failover, so it needs their votes too: with one removed from three pods, 3 of 4, which a
    partition of the master's pod leaves out of reach. The sentinels on the other pods are the
    ones that elect a leader when the master's pod is cut off or lost: reset first, they can
    fail it over sooner. ``states``: each sentinel's ``SENTINEL MASTER`` (None: no answer).
    """
    masters = {str(state.get('ip')) for state in states.values() if state}
    return sorted(hosts, key=lambda host: host in masters)


def _when_ready(host, data, connect, timeout_s):
    """The sentinel's ``SENTINEL MASTER`` state once it shows the master answering and its INFO
    due, or its last state (None: it does not answer) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = master_state(host, data, connect)
        if (state is None or (master_answers(state) and info_due(state))
                or time.monotonic() >= deadline):
            return state
        time.sleep(SYNC_POLL_S)


def reset_in_turn(hosts, data, timeout_s=SYNC_TIMEOUT_S, log=print, connect=_connect,
                  ready_s=READY_TIMEOUT_S) -> list:
    """``SENTINEL RESET`` the sentinels at ``hosts``, one at a time.

    Each must know the master with as many replicas and other sentinels as there are other
    sentinels answering now (``data['sentinels']``: every pod), and have fresh INFO from
    every replica (so it could promote one), before the next is reset (in
    :func:`in_reset_order`). A sentinel is reset only while its master answers it
    (:func:`master_answers`) and its INFO is due (:func:`info_due`), waited for up to
    ``ready_s``; one that does not answer, or whose master does not answer it by then, is left
    alone. Returns the hosts reset and known to have caught up within ``timeout_s`` each.
    ``connect(host, port, password)`` returns a client (default: 2 s timeouts).
    """
    states = {host: master_state(host, data, connect) for host in data.get('sentinels', [])}
    others = max(0, len([state for state in states.values() if state]) - 1)
    done = []
    for host in in_reset_order(hosts, states):
        state = _when_ready(host, data, connect, ready_s)
        if not state or not master_answers(state):
            log('sentinel {} not reset: {}'.format(host, _why_not_reset(state)))
            continue
        if not _reset(host, data, connect):
            continue
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = master_state(host, data, connect)
            if (state and int(state.get('num-slaves', -1)) >= others
                    and int(state.get('num-other-sentinels', -1)) >= others
                    and _replicas_fresh(host, data, connect)):
                done.append(host)
                break
            time.sleep(SYNC_POLL_S)
        log('sentinel {} reset{}'.format(host, '' if host in done else
                                        ': not caught up after {:.0f} s'.format(timeout_s)))
    return done
