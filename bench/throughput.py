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
REPLICATED_PORTS = (7094, 7095, 7096)  # the bare replicated reference: master, two replicas
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


def start_bare(session, host, port=BARE_PORT, name='bare-redis', options=()):
    """A redis-server with default settings (only where it listens and keeps its files, and
    ``options``: more ``--name value`` arguments)."""
    data = os.path.join(session.scratch, name)
    os.makedirs(data, exist_ok=True)
    process = session.spawn(['redis-server', '--bind', host, '--port', str(port),
                             '--dir', data] + list(options), name + '.log')
    client = redis.Redis(host=host, port=port, socket_timeout=2)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('{} did not start'.format(name))
            time.sleep(0.1)


def start_bare_replicated(session, host):
    """The deployment's topology and persistence without the charm: a redis-server and two
    replicas of it on this machine, each with ``appendonly yes`` (the charm's default) and
    otherwise default settings; returns the three processes, the master's first."""
    processes = []
    try:
        for index, port in enumerate(REPLICATED_PORTS):
            options = ['--appendonly', 'yes']
            if index:
                options += ['--replicaof', host, str(REPLICATED_PORTS[0])]
            processes.append(start_bare(session, host, port, 'bare-replicated-{}'.format(index),
                                        options))
        master = redis.Redis(host=host, port=REPLICATED_PORTS[0], socket_timeout=2)
        deadline = time.monotonic() + 30
        while master.info('replication').get('connected_slaves', 0) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError('the bare replicas did not connect')
            time.sleep(0.1)
    except Exception:
        for process in processes:
            session.stop(process)
        raise
    return processes


def measure(session, cluster):
    """Interleaved rounds against the deployed master and two references run by the bench: a
    bare redis-server (the target's figure) and a bare master with two replicas, each with
    appendonly (the deployment's topology and persistence without the charm: on one machine the
    replicas share its CPUs with the master and redis-benchmark, which a bare server does not).
    Each round runs one benchmark against each, back to back, the order rotating from round to
    round, so that none always runs in another's wake. A figure is the median of the rounds'
    ratios (SET+GET requests/s): the runs of a round share the machine's load of that moment,
    and the median drops a round whose load changed between its runs (the best round of each,
    taken apart, can pair a quiet moment of one with a busy moment of the other)."""
    master = cluster.master_pod()
    host = cluster.model.pod_address(master)
    bare_host = BARE_HOST_OF_SUBNET.format('.'.join(host.split('.')[:2]))
    password = cluster.password()
    deployed_runs, bare_runs, replicated_runs = [], [], []
    started = [start_bare(session, bare_host)]
    try:
        started += start_bare_replicated(session, bare_host)
        targets = [(bare_runs, (bare_host, BARE_PORT)),
                   (deployed_runs, (host, 6379, password)),
                   (replicated_runs, (bare_host, REPLICATED_PORTS[0]))]
        for index in range(ROUNDS):
            for runs, target in targets[index % 3:] + targets[:index % 3]:
                runs.append(benchmark(*target))
    finally:
        for process in started:
            session.stop(process)

    def total(run):
        return sum(run.values())

    def ratios(runs, references):
        return [total(run) / total(reference) for run, reference in zip(runs, references)]

    def median(runs, test=None):
        return statistics.median(total(run) if test is None else run[test] for run in runs)

    def best(runs):
        return max(total(run) for run in runs)
    return {
        'throughput_ratio': round(statistics.median(ratios(deployed_runs, bare_runs)), 3),
        'detail': {
            'figure': 'median of the rounds\' ratios, SET+GET requests/s',
            'ratio_of_best_rounds': round(best(deployed_runs) / best(bare_runs), 3),
            'ratio_of_medians': round(median(deployed_runs) / median(bare_runs), 3),
            'deployed_master': master,
            'round_ratios': [round(ratio, 3) for ratio in ratios(deployed_runs, bare_runs)],
            'median_of_round_ratios': round(statistics.median(
                ratios(deployed_runs, bare_runs)), 3),
            'per_command_ratio_of_medians': {
                test: round(median(deployed_runs, test) / median(bare_runs, test), 3)
                for test in ('SET', 'GET')},
            # What the topology costs on this machine, and what the charm costs beside it.
            'bare_replicated_to_bare': round(statistics.median(
                ratios(replicated_runs, bare_runs)), 3),
            'deployed_to_bare_replicated': round(statistics.median(
                ratios(deployed_runs, replicated_runs)), 3),
            'deployed_rps': deployed_runs,
            'bare_rps': bare_runs,
            'bare_replicated_rps': replicated_runs,
            'command': 'redis-benchmark -t set,get -n {} --csv (-a for the deployed master), '
                       '{} interleaved rounds, order rotating'.format(REQUESTS, ROUNDS),
            'bare': 'redis-server --bind {} --port {} --dir <scratch> (otherwise default '
                    'settings)'.format(bare_host, BARE_PORT),
            'bare_replicated': 'redis-server --bind {0} --port {1} --appendonly yes, and two '
                               'more with --replicaof {0} {1} (ports {2}, {3})'.format(
                                   bare_host, *REPLICATED_PORTS),
            'target': TARGET,
        },
    }
