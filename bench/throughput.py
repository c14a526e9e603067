"""redis-benchmark against the deployed master, relative to a bare redis-server run by the bench."""

import csv
import io
import os
import statistics
import subprocess
import time

import redis

# An address of the model's own subnet no pod gets (pods of a model on 127.93 get
# 127.93.1-250.x), so that two benches on one machine never share it.
BARE_HOST_OF_SUBNET = '{}.254.1'
BARE_PORT = 7093
REQUESTS = 100000
ROUNDS = 6
TARGET = 0.95


def benchmark(host, port, password=None, ca_path=None):
    """Requests/s of ``SET`` and ``GET`` (``redis-benchmark -t set,get -n 100000 --csv``), over
    TLS verified against the CA file ``ca_path`` when one is given."""
    argv = ['redis-benchmark', '-h', host, '-p', str(port), '-t', 'set,get',
            '-n', str(REQUESTS), '--csv']
    if ca_path:
        argv += ['--tls', '--cacert', ca_path]
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


def start_bare(session, host):
    """A redis-server with default settings (only where it listens and keeps its files)."""
    data = os.path.join(session.scratch, 'bare-redis')
    os.makedirs(data, exist_ok=True)
    process = session.spawn(['redis-server', '--bind', host, '--port', str(BARE_PORT),
                             '--dir', data], 'bare-redis.log')
    client = redis.Redis(host=host, port=BARE_PORT, socket_timeout=2)
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
    alike: each round runs one benchmark against each, back to back, the order alternating from
    round to round (bare first, then deployed first...), so that neither always runs in the
    other's wake. The figure is the median of the rounds' ratios (SET+GET requests/s): the two
    runs of a round share the machine's load of that moment, and the median drops a round whose
    load changed between its two runs (the best round of each, taken apart, can pair a quiet
    moment of one with a busy moment of the other)."""
    master = cluster.master_pod()
    host = cluster.model.pod_address(master)
    bare_host = BARE_HOST_OF_SUBNET.format('.'.join(host.split('.')[:2]))
    password = cluster.password()
    bare = start_bare(session, bare_host)
    deployed_runs, bare_runs = [], []
    try:
        for index in range(ROUNDS):
            pair = [(bare_runs, (bare_host, BARE_PORT)), (deployed_runs, (host, 6379, password))]
            for runs, target in (pair if index % 2 == 0 else pair[::-1]):
                runs.append(benchmark(*target))
    finally:
        session.stop(bare)

    def median(runs, test=None):
        return statistics.median(sum(run.values()) if test is None else run[test] for run in runs)

    def best(runs):
        return max(sum(run.values()) for run in runs)
    return {
        'throughput_ratio': round(statistics.median(
            sum(d.values()) / sum(b.values()) for d, b in zip(deployed_runs, bare_runs)), 3),
        'detail': {
            'figure': 'median of the rounds\' ratios, SET+GET requests/s',
            'ratio_of_best_rounds': round(best(deployed_runs) / best(bare_runs), 3),
            'ratio_of_medians': round(median(deployed_runs) / median(bare_runs), 3),
            'deployed_master': master,
            'round_ratios': [round(sum(d.values()) / sum(b.values()), 3)
                             for d, b in zip(deployed_runs, bare_runs)],
            'median_of_round_ratios': round(statistics.median(
                sum(d.values()) / sum(b.values()) for d, b in zip(deployed_runs, bare_runs)), 3),
            'per_command_ratio_of_medians': {
                test: round(median(deployed_runs, test) / median(bare_runs, test), 3)
                for test in ('SET', 'GET')},
            'deployed_rps': deployed_runs,
            'bare_rps': bare_runs,
            'command': 'redis-benchmark -t set,get -n {} --csv (-a for the deployed master), '
                       '{} interleaved rounds, order alternating'.format(REQUESTS, ROUNDS),
            'bare': 'redis-server --bind {} --port {} --dir <scratch> (otherwise default '
                    'settings)'.format(bare_host, BARE_PORT),
            'target': TARGET,
        },
    }
