"""Sentinels forget removed pods: ``SENTINEL RESET`` of each stale sentinel in turn, by the
master watcher, outside any hook.

A reset sentinel knows its replicas again at once (its master's INFO) but the other sentinels
only once it has heard their hello messages (every 2 s), so the resets go one at a time, each
waiting for the sentinel to know them all again: a majority of sentinels always knows the
topology. That wait took a hook 11-22 s after a scale-down, and the application's other hooks
(the new master's publication among them) queued behind it, so the leader's hook asks the
watcher instead (:func:`request`), and the watcher runs :func:`reset_in_turn`.
"""

import time

import redis

from . import connection

REQUEST_MAX_AGE_S = 60.0  # an older request is not served: a later hook asks again if need be
SYNC_TIMEOUT_S = 10.0  # for one reset sentinel to know the replicas and sentinels again
SYNC_POLL_S = 0.2
INFO_FRESH_MS = 10000  # Sentinel's INFO period: a replica's INFO at least this recent


def request(hosts, now) -> dict:
    """The request the leader's hook puts in the watcher's settings: reset ``hosts``."""
    return {'hosts': list(hosts), 'at': now}


def asked_again(previous, hosts, now) -> bool:
    """Whether a hook that found ``hosts`` stale asks again, given its ``previous`` request: not
    while a fresh request covers them (the watcher is at it; they stay stale until it is done)."""
    return (not previous or not set(hosts) <= set(previous.get('hosts', []))
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


def reset_in_turn(hosts, data, timeout_s=SYNC_TIMEOUT_S, log=print, connect=_connect) -> list:
    """``SENTINEL RESET`` the sentinels at ``hosts``, one at a time.

    Each must know the master with as many replicas and other sentinels as there are other
    sentinels answering now (``data['sentinels']``: every pod), and have fresh INFO from
    every replica (so it could promote one), before the next is reset. A
    sentinel that does not answer or is failing over is left alone. Returns the hosts reset
    and known to have caught up within ``timeout_s`` each. ``connect(host, port, password)``
    returns a client (default: 2 s timeouts).
    """
    answering = [host for host in data.get('sentinels', []) if master_state(host, data, connect)]
    others = max(0, len(answering) - 1)
    done = []
    for host in hosts:
        state = master_state(host, data, connect)
        if not state or 'failover_in_progress' in str(state.get('flags', '')):
            log('sentinel {} not reset: {}'.format(
                host, 'a failover is under way' if state else 'it does not answer'))
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
