"""Consumer-visible failover when the master stays down: its redis-server frozen (SIGSTOP).

On the local model a killed pod is back in about a second, before the sentinels' down-after
runs out, so the crash figure (:mod:`bench.failover`) may measure a restart rather than a
promotion. A frozen master (a hung process or a partitioned node) stays unreachable until the
sentinels promote a replica and the watcher moves the relation, which is the path the target
is about. Each run also records its timeline (:mod:`bench.timeline`): how much of the time is
Sentinel's own (down-after, election, promotion) and how much the path from ``+promoted-slave``
to the relation data (the watcher, ``juju-run``, the hook, its commit) and to the consumer.
"""

import os
import signal
import statistics
import time

from testbed.faults import redis_server, resume
from testbed.load import WriteLoad

from bench.deployment import DOWN_AFTER_MS, settle
from bench.faults import Outcome, wait_writes
from bench.timeline import Timeline, breakdown

TARGET_MEDIAN_S = 4.0
TARGET_MAX_S = 5.0
# The parts of a run's time summarized over the runs (seconds from the SIGSTOP).
PARTS = ('sdown', 'odown', 'elected', 'promoted', 'switch', 'watcher_heard', 'trigger_start',
         'hook_start', 'first_tool', 'relation_set', 'hook_end', 'entry_moved', 'trigger_done',
         'consumer_hook_start', 'consumer_hook_end', 'entries_agree')


def one_run(cluster, index, units, timeout=90):
    master = settle(cluster, units)
    pid, start = redis_server(cluster.model, master)
    load = WriteLoad(cluster, prefix='freeze{}'.format(index)).start()
    try:
        if not wait_writes(load, 50, 30):
            raise RuntimeError('the write load could not write before the fault')
        with Timeline(cluster) as timeline:
            try:
                os.kill(pid, signal.SIGSTOP)
                moment = time.monotonic()
                outcome = Outcome(moment, load, None, None)
                deadline = moment + timeout
                while outcome.visible_s() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                # Every unit's entry, and the consumer's hook, before waking the old master.
                agreed = moment + 15
                while time.monotonic() < min(agreed, deadline) and len(
                        {unit for _, unit, host in timeline.entries
                         if host and not host.startswith(master + '.')}) < units:
                    time.sleep(0.1)
                time.sleep(1.0)
            finally:
                resume(pid, start)
        outcome.master = settle(cluster, units)
        wait_writes(load, 20, 10)
    finally:
        load.stop()
    outcome.lost = len(load.lost(outcome.master))
    return master, outcome, breakdown(timeline, moment, outcome.master)


def summarize(parts_by_run):
    """Median of each part over the runs that saw it."""
    out = {}
    for part in PARTS:
        values = [parts[part] for parts in parts_by_run if parts.get(part) is not None]
        if values:
            out[part] = round(statistics.median(values), 3)
    return out


def measure(session, cluster, units=3, runs=5, min_left_s=120):
    """Returns ``failover_promotion_s``."""
    visible, details, timelines = [], [], []
    for index in range(runs):
        if session.left() < min_left_s:
            break
        try:
            frozen, outcome, parts = one_run(cluster, index, units)
        except TimeoutError as error:
            details.append({'error': 'no recovery: {}'.format(str(error).splitlines()[0])})
            break
        seconds, moved = outcome.visible_s(), outcome.relation_moved_s()
        details.append({'frozen': frozen, 'new_master': outcome.master,
                        'visible_s': None if seconds is None else round(seconds, 3),
                        'relation_moved_s': None if moved is None else round(moved, 3),
                        'lost': outcome.lost, 'acknowledged': len(outcome.load.acknowledged),
                        'timeline_s': parts})
        timelines.append(parts)
        if seconds is not None:
            visible.append(seconds)
    return {
        'median': round(statistics.median(visible), 3) if visible else None,
        'max': round(max(visible), 3) if visible else None,
        'runs': len(visible),
        'samples': [round(value, 3) for value in visible],
        'down_after_ms': DOWN_AFTER_MS,
        'fault': 'SIGSTOP of the master\'s redis-server until every unit\'s entry moved '
                 '(then SIGCONT), 3 units',
        'measured': 'as failover_visible_s, from the SIGSTOP',
        'target_s': {'median': TARGET_MEDIAN_S, 'max': TARGET_MAX_S},
        'timeline_median_s': summarize(timelines),
        'timeline': 'seconds from the SIGSTOP (bench/timeline.py): sentinel events as published, '
                    'the watcher\'s log, operator processes from /proc, entries as the model '
                    'committed them',
        'details': details,
    }
