"""What the write-safety settings cost and save, on the shared deployment.

``frozen_woken``: the master's redis-server frozen (SIGSTOP) under the write load until a majority
of the sentinels names another pod (the switch), then woken (SIGCONT) at once, while the relation
data still names it: the acknowledged writes the cluster lost, per run. ``refused_healthy``: the
writes a healthy cluster refuses with NOREPLICAS over a window of the same load, with the
``min-replicas-max-lag`` the deployment runs (automatic unless configured).

    python -m bench.write_safety [--runs N] [--healthy-s S]

runs these two alone on a deployment of their own (``BENCH_SUBNET_BASE`` picks its addresses) and
prints the figures as JSON.
"""

import argparse
import json
import os
import signal
import time

import redis

from testbed.faults import redis_server, resume
from testbed.load import WriteLoad

from bench.deployment import DOWN_AFTER_MS, settle
from bench.faults import wait_writes

RUNS = 10
HEALTHY_S = 60.0


def sentinels_switched_from(cluster, pod):
    """Whether a majority of the pods' sentinels names a master other than ``pod``."""
    pods = cluster.pods()
    moved = 0
    for other in pods:
        try:
            reply = cluster.client(other, port=26379).execute_command(
                'SENTINEL', 'get-master-addr-by-name', cluster.app)
        except (redis.RedisError, OSError):
            continue
        if reply and cluster.pod_of(reply[0].decode()) != pod:
            moved += 1
    return moved > len(pods) // 2


def frozen_woken_run(cluster, index, units, timeout=60):
    """One run; returns its figures."""
    master = settle(cluster, units)
    pid, start = redis_server(cluster.model, master)
    load = WriteLoad(cluster, prefix='frozen-woken{}'.format(index)).start()
    try:
        if not wait_writes(load, 50, 30):
            raise RuntimeError('the write load could not write before the fault')
        os.kill(pid, signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            deadline = frozen + timeout
            while not sentinels_switched_from(cluster, master):
                if time.monotonic() > deadline:
                    raise TimeoutError('the sentinels did not switch from {}'.format(master))
                time.sleep(0.02)
        finally:
            resume(pid, start)
        woken = time.monotonic()
        new_master = settle(cluster, units)
        wait_writes(load, 20, 10)
    finally:
        load.stop()
    lost = set(load.lost(new_master))
    lost_after_wake = [at for key, at in load.acknowledged if key in lost and at > woken]
    moves = [(round(at - woken, 2), pod) for at, (pod, _) in load.endpoints if at > frozen]
    return {'frozen': master, 'new_master': new_master, 'lost': len(lost),
            'lost_acknowledged_after_wake': len(lost_after_wake),
            'switch_s': round(woken - frozen, 2),
            'relation_moves_after_wake_s': moves,
            'refused_after_wake': sum(1 for at in load.refused if at > woken),
            'failed_after_wake': sum(1 for at in load.failures if at > woken),
            'old_master_role': cluster.client(master).info('replication')['role'],
            'acknowledged': len(load.acknowledged)}


def frozen_woken(session, cluster, units=3, runs=RUNS, min_left_s=90):
    """``{'per_run': [lost...], 'details': [...]}`` over ``runs`` runs (fewer when out of time)."""
    details = []
    for index in range(runs):
        if session is not None and session.left() < min_left_s:
            details.append({'skipped': 'out of time budget'})
            break
        try:
            details.append(frozen_woken_run(cluster, index, units))
        except TimeoutError as error:
            details.append({'error': 'no recovery: {}'.format(str(error).splitlines()[0])})
            break
    return {'per_run': [run['lost'] for run in details if 'lost' in run],
            'fault': ('SIGSTOP of the master\'s redis-server until a majority of the sentinels '
                      'named another pod, then SIGCONT at once (the relation data still names '
                      'it), 3 units, the bench write load'),
            'details': details}


def max_lag(cluster, pod):
    return int(cluster.client(pod).config_get('min-replicas-max-lag')['min-replicas-max-lag'])


# What the write fence (templates/fence.sh) logs when it closes the replicas' links.
FENCE_LINE = "closed the replicas' links"


def fences(cluster):
    """How many times each pod's write fence closed its replicas' links, from its redis log."""
    return {pod: cluster.model.container_log(pod, 'redis').count(FENCE_LINE)
            for pod in cluster.pods()}


def refused_healthy(cluster, units=3, seconds=HEALTHY_S):
    """The writes refused with NOREPLICAS over ``seconds`` of the write load on a healthy
    cluster, and how often the write fence closed the replicas' links meanwhile (each refuses
    writes until they reconnect); returns the figures with the load and the lag it ran at."""
    master = settle(cluster, units)
    fenced_before = fences(cluster)
    load = WriteLoad(cluster, prefix='healthy').start()
    try:
        started = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
    finally:
        load.stop()
    fenced = sum(count - fenced_before.get(pod, 0) for pod, count in fences(cluster).items())
    return {'refused': len(load.refused), 'failed': len(load.failures), 'fenced': fenced,
            'acknowledged': len(load.acknowledged),
            'writes_per_s': round(len(load.acknowledged) / elapsed, 1),
            'window_s': round(elapsed, 1), 'min_replicas_max_lag': max_lag(cluster, master),
            'down_after_ms': DOWN_AFTER_MS, 'master': master}


def main(argv=None):
    from testbed.cluster import APP, CONSUMER
    from testbed.deploy import build_charms
    from bench.deployment import RESOURCES, BenchCluster
    from bench.session import Session

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=RUNS)
    parser.add_argument('--healthy-s', type=float, default=HEALTHY_S)
    parser.add_argument('--max-lag', type=int, default=None,
                        help='min-replicas-max-lag to configure (default: automatic)')
    args = parser.parse_args(argv)
    session = Session(3600)
    failed = True
    try:
        charms = build_charms()  # this checkout's build/, built when needed
        subnet = '127.{}'.format(os.environ.get('BENCH_SUBNET_BASE', '93'))
        model = session.model(subnet, 'write-safety')
        # As bench.deployment.deploy, with more time: the machine may be shared.
        model.deploy(charms[APP], APP, num_units=3, resources=RESOURCES,
                     config={'down-after-milliseconds': str(DOWN_AFTER_MS)})
        model.deploy(charms[CONSUMER], CONSUMER)
        model.relate(APP, CONSUMER)
        cluster = BenchCluster(model)
        settle(cluster, 3, timeout=1200)
        if args.max_lag is not None:
            model.config(cluster.app, {'min-replicas-max-lag': str(args.max_lag)})
            deadline = time.monotonic() + 120
            while max_lag(cluster, settle(cluster, 3)) != args.max_lag:
                if time.monotonic() > deadline:
                    raise TimeoutError('min-replicas-max-lag never became {}'.format(args.max_lag))
                time.sleep(1)
        figures = {'writes_refused_healthy': refused_healthy(cluster, seconds=args.healthy_s),
                   'frozen_woken': frozen_woken(session, cluster, runs=args.runs)}
        print(json.dumps(figures, indent=1, sort_keys=True))
        failed = False
    finally:
        session.close(keep_scratch=failed)
        if failed:
            print('scratch kept: {}'.format(session.scratch))


if __name__ == '__main__':
    main()
