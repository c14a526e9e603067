"""redis-benchmark against the deployed master, relative to a bare redis-server run by the bench."""

import csv
import io
import os
import statistics
import subprocess
import time

import redis

# Our own loopback address and port: pods of a model on 127.93 get 127.93.1-250.x.
BARE_HOST = '127.93.254.1'
BARE_PORT = 7093
REQUESTS = 100000
ROUNDS = 5
TARGET = 0.95


def benchmark(host, port, password=None):
    """Requests/s of ``SET`` and ``GET`` (``redis-benchmark -t set,get -n 100000 --csv``)."""
    argv = ['redis-benchmark', '-h', host, '-p', str(port), '-t', 'set,get',
            '-n', str(REQUESTS), '--csv']
    if password:
        # redis-benchmark has no REDISCLI_AUTH; its warning about -a goes nowhere.
        argv += ['-a', password]
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            timeout=180)
    rows = {row['test']: float(row['rps']) for row in csv.DictReader(io.StringIO(result.stdout))
            if row.get('rps')}
    if result.returncode != 0 or set(rows) != {'SET', 'GET'}:
        raise RuntimeError('redis-benchmark against {}:{} failed (exit {})'.format(
            host, port, result.returncode))
    return rows


def start_bare(session):
    """A redis-server with default settings (only where it listens and keeps its files)."""
    data = os.path.join(session.scratch, 'bare-redis')
    os.makedirs(data)
    process = session.spawn(['redis-server', '--bind', BARE_HOST, '--port', str(BARE_PORT),
                             '--dir', data], 'bare-redis.log')
    client = redis.Redis(host=BARE_HOST, port=BARE_PORT, socket_timeout=2)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('the bare redis-server did not start')
            time.sleep(0.1)


def measure(session, cluster):
    """Interleaved rounds against both servers, so that other load on the machine hits both
    alike. The figure is the ratio of the best rounds' SET+GET requests/s: other processes only
    ever slow a round down, so the best round is the closest to what each server can do."""
    master = cluster.master_pod()
    host = cluster.model.pod_address(master)
    password = cluster.password()
    bare = start_bare(session)
    deployed_runs, bare_runs = [], []
    try:
        for _ in range(ROUNDS):
            bare_runs.append(benchmark(BARE_HOST, BARE_PORT))
            deployed_runs.append(benchmark(host, 6379, password))
    finally:
        session.stop(bare)

    def median(runs, test=None):
        return statistics.median(sum(run.values()) if test is None else run[test] for run in runs)

    def best(runs):
        return max(sum(run.values()) for run in runs)
    return {
        'throughput_ratio': round(best(deployed_runs) / best(bare_runs), 3),
        'detail': {
            'figure': 'best round / best round, SET+GET requests/s',
            'ratio_of_medians': round(median(deployed_runs) / median(bare_runs), 3),
            'deployed_master': master,
            'median_of_round_ratios': round(statistics.median(
                sum(d.values()) / sum(b.values()) for d, b in zip(deployed_runs, bare_runs)), 3),
            'per_command_ratio_of_medians': {
                test: round(median(deployed_runs, test) / median(bare_runs, test), 3)
                for test in ('SET', 'GET')},
            'deployed_rps': deployed_runs,
            'bare_rps': bare_runs,
            'command': 'redis-benchmark -t set,get -n {} --csv (-a for the deployed master), '
                       '{} interleaved rounds'.format(REQUESTS, ROUNDS),
            'bare': 'redis-server --bind {} --port {} --dir <scratch> (otherwise default '
                    'settings)'.format(BARE_HOST, BARE_PORT),
            'target': TARGET,
        },
    }
