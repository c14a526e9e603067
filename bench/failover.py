"""Consumer-visible failover time after a crash of the master (SIGKILL of the whole pod), and
how long the redis units' entries disagree after a graceful delete of the master."""

import statistics
import time

from testbed.load import WriteLoad

from bench.deployment import DOWN_AFTER_MS, identity, settle, wait_changed
from bench.faults import killed, recreated, under_load, wait_writes
from bench.timeline import Timeline, breakdown

TARGET_S = 5.0


def measure(session, cluster, units=3, runs=5, min_left_s=120):
    """Returns ``(failover_visible_s, lost writes per run)``."""
    visible, lost, details = [], [], []
    for index in range(runs):
        if session.left() < min_left_s:
            break
        master = settle(cluster, units)
        try:
            outcome = under_load(cluster, 'crash{}'.format(index),
                                 lambda: killed(cluster.model, master), recreated(master), units)
        except TimeoutError as error:
            details.append({'killed': master, 'error': 'no recovery: {}'.format(
                str(error).splitlines()[0])})
            break
        seconds = outcome.visible_s()
        details.append({'killed': master, 'new_master': outcome.master,
                        'visible_s': None if seconds is None else round(seconds, 3),
                        'lost': outcome.lost, 'acknowledged': len(outcome.load.acknowledged)})
        if seconds is not None:
            visible.append(seconds)
        lost.append(outcome.lost)
    figure = {
        'median': round(statistics.median(visible), 3) if visible else None,
        'max': round(max(visible), 3) if visible else None,
        'runs': len(visible),
        'samples': [round(value, 3) for value in visible],
        # A killed pod is recreated within about a second on the local model: when it answers
        # again before down-after runs out, no replica is promoted and the figure is a restart.
        'runs_with_promotion': sum(1 for run in details
                                   if run.get('new_master') not in (None, run['killed'])),
        'down_after_ms': DOWN_AFTER_MS,
        'fault': 'SIGKILL of the whole master pod (model.kill), 3 units',
        'measured': ('from the return of kill to the first write acknowledged through the '
                     'host in the consumer\'s relation data (WriteLoad), after the first failed '
                     'write'),
        'target_s': TARGET_S,
        'details': details,
    }
    return figure, lost


AGREE_TARGET_S = 1.5


def agreement_run(cluster, index, units, timeout=60):
    """Gracefully delete the master pod under the write load; returns its timeline's parts
    (:func:`bench.timeline.breakdown`), from the deletion."""
    master = settle(cluster, units)
    load = WriteLoad(cluster, prefix='agree{}'.format(index)).start()
    try:
        if not wait_writes(load, 50, 30):
            raise RuntimeError('the write load could not write before the fault')
        before = identity(cluster)
        with Timeline(cluster) as timeline:
            cluster.model.delete_pod(master)
            moment = time.monotonic()
            deadline = moment + timeout
            while time.monotonic() < deadline and len(
                    {unit for _, unit, host in timeline.entries
                     if host and not host.startswith(master + '.')}) < units:
                time.sleep(0.1)
            time.sleep(1.0)  # the consumer's hook
        wait_changed(cluster, before, recreated(master), 120)
        new_master = settle(cluster, units)
        wait_writes(load, 20, 10)
    finally:
        load.stop()
    return master, new_master, breakdown(timeline, moment, new_master)


def measure_agreement(session, cluster, units=3, runs=5, min_left_s=120):
    """Returns ``relation_agree_s``: from the first redis unit's entry naming the new master
    to every unit's entry naming it, after a graceful delete of the master pod."""
    spans, details = [], []
    for index in range(runs):
        if session.left() < min_left_s:
            break
        try:
            deleted, new_master, parts = agreement_run(cluster, index, units)
        except TimeoutError as error:
            details.append({'error': 'no recovery: {}'.format(str(error).splitlines()[0])})
            break
        span = None
        if parts.get('entries_agree') is not None and parts.get('entry_moved') is not None:
            span = round(parts['entries_agree'] - parts['entry_moved'], 3)
            spans.append(span)
        details.append({'deleted': deleted, 'new_master': new_master, 'agree_s': span,
                        'timeline_s': parts})
    return {
        'median': round(statistics.median(spans), 3) if spans else None,
        'max': round(max(spans), 3) if spans else None,
        'runs': len(spans),
        'samples': spans,
        'fault': 'graceful delete of the master pod (model.delete_pod: SIGTERM, the pod hands '
                 'over), 3 units, under the write load',
        'measured': 'from the first redis-k8s unit\'s entry in the consumer\'s relation naming '
                    'the new master to the last, as the model committed them (bench/timeline.py)',
        'target_s': AGREE_TARGET_S,
        'details': details,
    }
