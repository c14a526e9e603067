"""Acknowledged writes lost per fault scenario, on one shared deployment."""

import time

import redis

from testbed.cluster import APP

from bench.deployment import settle
from bench.faults import killed, recreated, restarted, under_load

# The targets: zero for the graceful cases and for a frozen master woken after the
# switch (issue 11); a crash's loss is only bounded.
TARGETS = {'kill-master': None, 'freeze-master': 0, 'delete-master': 0, 'kill-sentinel': 0,
           'delete-all-pods': 0, 'scale-down-master': 0}


def delete_master(cluster, units):
    master = settle(cluster, units)

    def fault():
        cluster.model.delete_pod(master)
        return time.monotonic()
    return under_load(cluster, 'delete-master', fault, recreated(master), units)


def kill_sentinel(cluster, units):
    # The master's own sentinel: the one most likely to be leading the others.
    master = settle(cluster, units)
    return under_load(cluster, 'kill-sentinel',
                      lambda: killed(cluster.model, master, 'sentinel'),
                      restarted(master), units)


def delete_all_pods(cluster, units):
    settle(cluster, units)
    pods = cluster.pods()

    def fault():
        for pod in pods:
            cluster.model.delete_pod(pod)
        return time.monotonic()

    def changed(before, now):
        return all(pod in now and now[pod][0] != before[pod][0] for pod in pods)
    return under_load(cluster, 'delete-all', fault, changed, units, timeout=300)


def promote(cluster, target, units, timeout=180):
    """Make ``target`` the master through a sentinel failover (the others at replica-priority 0
    for the time of it), so a scale-down can remove the master.

    A sentinel aborts a forced failover when its only candidate looks stale (its last INFO too
    old on a loaded machine), so the request is repeated until ``target`` is the master.
    """
    others = [pod for pod in cluster.pods() if pod != target]
    sentinel = cluster.client(target, port=26379)
    deadline = time.monotonic() + timeout
    try:
        for pod in others:
            cluster.client(pod).config_set('replica-priority', 0)
        while True:
            try:
                sentinel.execute_command('SENTINEL', 'FAILOVER', APP)
            except redis.ResponseError:  # INPROG, NOGOODSLAVE: ask again below
                pass
            named = time.monotonic() + 20
            while time.monotonic() < min(named, deadline):
                reply = sentinel.execute_command('SENTINEL', 'get-master-addr-by-name', APP)
                if reply and cluster.pod_of(reply[0].decode()) == target:
                    break
                time.sleep(0.5)
            else:
                if time.monotonic() >= deadline:
                    raise TimeoutError('{} did not become the master'.format(target))
                continue
            if settle(cluster, units, max(1, deadline - time.monotonic())) == target:
                return
    finally:
        for pod in others:
            cluster.client(pod).config_set('replica-priority', 100)


def scale_down_master(cluster, units):
    """Scale to ``units + 1``, make the new highest pod the master, scale back to ``units``."""
    cluster.model.scale(APP, units + 1)
    settle(cluster, units + 1, timeout=300)
    target = '{}-{}'.format(APP, units)
    promote(cluster, target, units + 1)

    def fault():
        cluster.model.scale(APP, units)
        return time.monotonic()

    def changed(before, now):
        return target not in now
    return under_load(cluster, 'scale-down', fault, changed, units, timeout=300)


SCENARIOS = [('delete-master', delete_master), ('kill-sentinel', kill_sentinel),
             ('delete-all-pods', delete_all_pods), ('scale-down-master', scale_down_master)]


def measure(session, cluster, crash_lost, frozen, units=3, min_left_s=150):
    """Returns ``{'counts': {scenario: lost or None}, 'details': {...}}``; ``frozen`` is
    :func:`bench.write_safety.frozen_woken`'s figure (None when it did not run)."""
    freeze_lost = (frozen or {}).get('per_run') or []
    counts = {'kill-master': sum(crash_lost) if crash_lost else None,
              'freeze-master': sum(freeze_lost) if freeze_lost else None}
    details = {'kill-master': {'per_run': crash_lost,
                               'fault': 'SIGKILL of the whole master pod (the failover runs)'},
               'freeze-master': frozen or {'per_run': []}}
    for name, scenario in SCENARIOS:
        if session.left() < min_left_s:
            counts[name] = None
            details[name] = {'skipped': 'out of time budget'}
            continue
        started = time.monotonic()
        try:
            outcome = scenario(cluster, units)
        except TimeoutError as error:
            counts[name] = None
            details[name] = {'error': 'no recovery: {}'.format(str(error).splitlines()[0])}
            continue
        counts[name] = outcome.lost
        seconds = outcome.visible_s()
        details[name] = {'acknowledged': len(outcome.load.acknowledged),
                         'failed_writes': len(outcome.load.failures),
                         'visible_s': None if seconds is None else round(seconds, 3),
                         'relation_moved_s': (None if outcome.relation_moved_s() is None
                                              else round(outcome.relation_moved_s(), 3)),
                         'master_after': outcome.master,
                         'scenario_s': round(time.monotonic() - started, 1)}
    return {'counts': counts, 'details': details, 'targets': TARGETS}
