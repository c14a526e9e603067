"""Partition rounds: the master's pod cut off from every other pod for 10 s, then healed.

A partition is a Kubernetes-level fault (a NetworkPolicy deny, a node cut off), done with
``localmodel partition``; clients that are not pods, such as this process, still reach the
isolated master. Two writers run through each partition:

* the bench's write load, following the relation data as a consumer does: the acknowledged
  writes it loses (``writes_lost.partition*``) are those the isolated master took before the
  relation moved, bounded by ``min-replicas-max-lag`` (asynchronous replication cannot make
  this 0);
* a writer pinned to the isolated master (a consumer that never re-reads its relation data):
  ``partition_late_acks`` counts the writes the isolated master acknowledged later than
  ``min-replicas-max-lag`` + 1 s after the partition began, which ``min-replicas-to-write``
  must make 0.

A run in which the sentinels did not fail over (a split vote: the two sentinels left each voted
for itself, and Sentinel then waits twice the failover timeout before trying again) is counted
apart (``runs_without_failover``, with the sentinels' own log lines), not in the losses, and the
next run waits for Sentinel's pause to end. Each run starts once every sentinel knows just the
pods there are (:func:`sentinels_know_just_the_pods`; the wait is in ``runs_detail``): the round
before is a scale-down.

Rounds: ``partition`` leaves ``min-replicas-max-lag`` unset (the charm's default, derived from
``down-after-milliseconds`` once that lands), ``partition_lag10`` sets it to 10.

    python -m bench.partition [--runs N] [--subnet 127.N] [--rounds partition,partition_lag10]

runs this piece alone on its own model and prints its figures as JSON.
"""

import argparse
import json
import os
import statistics
import sys
import time

import redis
import yaml

from testbed.background import Background
from testbed.cluster import APP
from testbed.faults import PARTITION_S
from testbed.load import WRITE_TIMEOUT_S, WriteLoad

from bench.deployment import settle
from bench.faults import wait_writes

ROUNDS = (('partition', None), ('partition_lag10', '10'))
OPTION = 'min-replicas-max-lag'
LATE_MARGIN_S = 1.0
# A sentinel that started a failover and was not elected (a split vote) waits twice the
# failover timeout (the charm's default: 30 s) before it tries again (Redis 7.0 sentinel.c,
# sentinelStartFailoverIfNeeded): the next run would see no failover either.
NO_FAILOVER_PAUSE_S = 2 * 30.0
SENTINEL_WORDS = ('failover', 'elected', 'leader', 'sdown', 'odown', 'epoch', 'vote', 'tilt',
                  'reset')


class PinnedWriter(Background):
    """Writes unique keys to one pod's redis, whatever the relation data says; records the
    monotonic time of every acknowledgement."""

    def __init__(self, cluster, pod, prefix, pause_s=0.005):
        super().__init__()
        self.client = redis.Redis(host=cluster.model.pod_address(pod), port=6379,
                                  password=cluster.password(), socket_timeout=WRITE_TIMEOUT_S,
                                  socket_connect_timeout=WRITE_TIMEOUT_S)
        self.prefix = prefix
        self.pause_s = pause_s
        self.acknowledged = []
        self.refused = 0

    def _run(self):
        index = 0
        while not self._stop.is_set():
            try:
                self.client.set('{}:{}'.format(self.prefix, index), index)
                self.acknowledged.append(time.monotonic())
            except redis.RedisError:  # NOREPLICAS once the replicas' acks are too old
                self.refused += 1
                time.sleep(0.05)
            index += 1
            time.sleep(self.pause_s)


def one_run(cluster, prefix, units, seconds=PARTITION_S):
    master = settle(cluster, units)
    lag = int(cluster.client(master).config_get(OPTION)[OPTION])
    load = WriteLoad(cluster, prefix=prefix).start()
    pinned = PinnedWriter(cluster, master, prefix + '-pinned')
    try:
        if not wait_writes(load, 50, 30):
            raise RuntimeError('the write load could not write before the partition')
        pinned.start()
        cluster.model.partition(master)
        moment = time.monotonic()
        try:
            time.sleep(seconds)
        finally:
            cluster.model.heal(master)
            healed = time.monotonic()
            pinned.stop()
        new_master = settle(cluster, units)
        wait_writes(load, 20, 10)
    finally:
        pinned.stop()
        load.stop()
    late = [at for at in pinned.acknowledged if moment + lag + LATE_MARGIN_S < at <= healed]
    during = [at for at in pinned.acknowledged if moment < at <= healed]
    failed_over = new_master != master
    return {'master': master, 'new_master': new_master, 'max_lag_s': lag,
            'failed_over': failed_over,
            'sentinel_events': None if failed_over else sentinel_events(cluster, master),
            'lost': len(load.lost(new_master)), 'acknowledged': len(load.acknowledged),
            'failed_writes': len(load.failures),
            'pinned_acknowledged_during': len(during),
            'pinned_last_ack_s': round(max(during) - moment, 3) if during else None,
            'late_acks': len(late)}


def sentinel_events(cluster, isolated, lines=12):
    """The failover lines of the other pods' sentinel logs: why no failover came."""
    events = {}
    for pod in cluster.pods():
        if pod == isolated:
            continue
        try:
            log = cluster.model.container_log(pod, 'sentinel')
        except Exception as error:  # the log is a diagnosis: its absence must not end the run
            events[pod] = ['(no log: {})'.format(error)]
            continue
        events[pod] = [line for line in log.splitlines()
                       if any(word in line for word in SENTINEL_WORDS)][-lines:]
    return events


def sentinels_know_just_the_pods(cluster, units, timeout=180):
    """Wait until every sentinel knows just the other pods' replicas and sentinels (after a
    deploy, once they have heard each other; after a scale-down, once the master watcher has
    reset them); returns the seconds waited. Until then the removed pods' sentinels count as
    voters (3 of 4 needed, out of reach across a partition): a run would measure those seconds,
    not a partition."""
    started = time.monotonic()
    while not cluster.sentinels_know_just_the_pods(units):
        if time.monotonic() - started > timeout:
            raise TimeoutError('sentinels still know removed pods after {} s: {}'.format(
                timeout, cluster.sentinel_tables()))
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


FENCE_ENV = 'fence.env'


def fence_env_of_spec(spec):
    """The mount path and content of fence.env in a pod spec (YAML, as the charm set it)."""
    if isinstance(spec, str):
        spec = yaml.safe_load(spec)
    for container in spec.get('containers', []):
        for volume in container.get('volumeConfig', []):
            for item in volume.get('files', []):
                if item.get('path') == FENCE_ENV:
                    return volume['mountPath'], item['content']
    return None, None


def wait_fence_settings(cluster, timeout=180):
    """Wait until every pod's fence.env is the pod spec's: a ConfigMap change reaches running
    pods after the kubelet's sync (a minute on the bench's model); the write fence reads it
    then. Returns the seconds waited."""
    started = time.monotonic()
    directory, want = fence_env_of_spec(cluster.model.pod_spec(APP))
    if want is None:
        return 0.0
    path = '{}/{}'.format(directory, FENCE_ENV)
    while True:
        seen = [cluster.model.exec(pod, ['cat', path], container='redis')[1]
                for pod in cluster.pods()]
        if all(text == want for text in seen):
            return round(time.monotonic() - started, 1)
        if time.monotonic() - started > timeout:
            raise TimeoutError('{} not synced to the pods after {} s'.format(path, timeout))
        time.sleep(2)


def set_round(cluster, value, units, timeout=180):
    """Leave ``min-replicas-max-lag`` unset (``value`` None) or set it, and wait until every
    redis runs with the value set (the leader applies it live with CONFIG SET)."""
    if value is None:
        cluster.model.config(APP, reset=[OPTION])
    else:
        cluster.model.config(APP, {OPTION: value})
        deadline = time.monotonic() + timeout
        while not all(cluster.client(pod).config_get(OPTION)[OPTION] == value
                      for pod in cluster.pods()):
            if time.monotonic() > deadline:
                raise TimeoutError('{} {} not applied after {} s'.format(OPTION, value, timeout))
            time.sleep(1)
    settle(cluster, units)
    wait_fence_settings(cluster, timeout)


def measure(session, cluster, units=3, runs=10, rounds=ROUNDS, min_left_s=60):
    """Returns ``{'writes_lost': {round: lost in all runs}, 'late_acks': n, 'details': ...}``.

    ``late_acks`` is the ``partition`` round's (the charm's default ``min-replicas-max-lag``).
    """
    lost, details = {}, {}
    try:
        for name, value in rounds:
            set_round(cluster, value, units)
            runs_done = []
            for index in range(runs):
                if session.left() < min_left_s:
                    break
                try:
                    waited = sentinels_know_just_the_pods(cluster, units)
                    runs_done.append(one_run(cluster, '{}{}'.format(name, index), units))
                    runs_done[-1]['sentinels_know_just_the_pods_wait_s'] = waited
                    print('bench: {} run {}: {}'.format(name, index + 1, runs_done[-1]),
                          flush=True)
                except TimeoutError as error:
                    runs_done.append({'error': 'no recovery: {}'.format(
                        str(error).splitlines()[0])})
                    break
                if not runs_done[-1]['failed_over']:
                    print('bench: no failover in that run; pausing {:.0f} s'.format(
                        NO_FAILOVER_PAUSE_S), flush=True)
                    time.sleep(NO_FAILOVER_PAUSE_S)
            # A run the sentinels did not fail over lost nothing, and says nothing of the bound.
            counted = [run['lost'] for run in runs_done if run.get('failed_over')]
            lost[name] = sum(counted) if counted else None
            details[name] = {
                OPTION: value or 'unset (the charm default)', 'runs': len(counted),
                'runs_without_failover': sum(1 for run in runs_done
                                             if run.get('failed_over') is False),
                'lost_per_run': counted,
                'lost_median': statistics.median(counted) if counted else None,
                'late_acks': sum(run.get('late_acks', 0) for run in runs_done),
                'runs_detail': runs_done}
    finally:
        cluster.model.config(APP, reset=[OPTION])
    first = details.get(rounds[0][0], {})
    return {'writes_lost': lost, 'late_acks': first.get('late_acks') if first.get('runs') else None,
            'details': details, 'partition_s': PARTITION_S,
            'fault': 'localmodel partition of the master pod for {} s (both directions; '
                     'clients that are not pods still reach it), then heal; 3 units, '
                     'down-after-milliseconds 2000'.format(PARTITION_S),
            'late_acks_measured': 'writes a client pinned to the isolated master got '
                                  'acknowledged later than min-replicas-max-lag + {} s after the '
                                  'partition began'.format(LATE_MARGIN_S)}


def main(argv=None):
    from bench import machine
    from bench.deployment import DOWN_AFTER_MS, RESOURCES, BenchCluster
    from bench.session import Session
    from testbed.cluster import CONSUMER
    from testbed.deploy import build_charms

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--subnet', default=os.environ.get('BENCH_SUBNET', '127.93'))
    parser.add_argument('--rounds', default=','.join(name for name, _ in ROUNDS))
    parser.add_argument('--budget', type=float, default=3600)
    parser.add_argument('--deploy-timeout', type=float, default=900)
    args = parser.parse_args(argv)
    wanted = [r for r in ROUNDS if r[0] in args.rounds.split(',')]
    session = Session(args.budget)
    result = {'load_at_start': machine.load()}
    try:
        model = session.model(args.subnet, 'bench-partition')
        charms = build_charms()
        # As bench.deployment.deploy, with room for a loaded machine.
        model.deploy(charms[APP], APP, num_units=3, resources=RESOURCES,
                     config={'down-after-milliseconds': str(DOWN_AFTER_MS)})
        model.deploy(charms[CONSUMER], CONSUMER)
        model.relate(APP, CONSUMER)
        cluster = BenchCluster(model)
        settle(cluster, 3, timeout=args.deploy_timeout)
        result.update(measure(session, cluster, runs=args.runs, rounds=wanted))
    finally:
        problems = session.close()
        result['load_at_end'] = machine.load()
        result['cleanup_problems'] = problems
        print(json.dumps(result, indent=1, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
