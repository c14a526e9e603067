"""What a woken master acknowledges, on bare Redis: where ``min-replicas-max-lag`` helps and where
it cannot (``docs/write-safety.md``).

    python -m bench.woken_master

A master and two replicas (``min-replicas-to-write 1``) under two writers (one keeps its
connection with a 10 s timeout, one reconnects with 0.25 s, as ``testbed.load``); the master is
frozen 4 s, with its replicas re-pointed meanwhile (what a completed failover does) or left
linked (a master woken before the sentinels re-point them), then woken. Prints the writes it
acknowledged in the 3 s after waking, per case, as JSON. Addresses ``127.<BENCH_SUBNET_BASE+3>.0.x``.
"""

import json
import os
import shutil
import signal
import tempfile
import threading
import time

import redis

from testbed import bare_redis

BASE = int(os.environ.get('BENCH_SUBNET_BASE', '93')) + 3
HOSTS = ['127.{}.0.{}'.format(BASE, n) for n in (1, 2, 3)]
PORT = 26500
PASSWORD = 'woken-master-bench'
FREEZE_S = 4.0
AFTER_S = 3.0


def start(host, directory, extra=()):
    os.makedirs(directory)
    return bare_redis.start(host, PORT, PASSWORD, directory, extra)


def writer(name, timeout, acknowledged, stop):
    client, index = None, 0
    while not stop.is_set():
        try:
            if client is None:
                client = redis.Redis(host=HOSTS[0], port=PORT, password=PASSWORD,
                                     socket_timeout=timeout, socket_connect_timeout=timeout)
            client.set('{}:{}'.format(name, index), index)
            acknowledged.append((name, time.monotonic()))
        except redis.RedisError:
            client = None
            time.sleep(0.05)
        index += 1
        time.sleep(0.005)


def one_case(lag, repoint):
    scratch = tempfile.mkdtemp(prefix='woken-master-')
    processes = []
    stop = threading.Event()
    threads = []
    try:
        master, _ = start(HOSTS[0], os.path.join(scratch, '0'),
                          ['--min-replicas-to-write', '1', '--min-replicas-max-lag', str(lag)])
        processes.append(master)
        replicas = []
        for n in (1, 2):
            process, client = start(HOSTS[n], os.path.join(scratch, str(n)),
                                    ['--replicaof', HOSTS[0], str(PORT)])
            processes.append(process)
            replicas.append(client)
        time.sleep(2)
        acknowledged = []
        threads = [threading.Thread(target=writer, args=(name, timeout, acknowledged, stop))
                   for name, timeout in (('long', 10), ('short', 0.25))]
        for thread in threads:
            thread.start()
        time.sleep(1)
        os.kill(master.pid, signal.SIGSTOP)
        time.sleep(0.5)
        if repoint:
            replicas[0].execute_command('REPLICAOF', 'NO', 'ONE')
            replicas[1].execute_command('REPLICAOF', HOSTS[1], PORT)
        time.sleep(FREEZE_S - 0.5)
        os.kill(master.pid, signal.SIGCONT)
        woken = time.monotonic()
        time.sleep(AFTER_S)
        stop.set()
        for thread in threads:
            thread.join()
        after = [at - woken for _, at in acknowledged if at > woken]
        return {'min_replicas_max_lag': lag, 'replicas_repointed': repoint,
                'acknowledged_after_wake': len(after),
                'first_s': round(min(after), 3) if after else None}
    finally:
        stop.set()
        for process in processes:
            bare_redis.stop(process)  # SIGKILL ends a stopped process too
        shutil.rmtree(scratch, ignore_errors=True)


def measure():
    return [one_case(lag, repoint) for repoint in (True, False) for lag in (1, 10)]


if __name__ == '__main__':
    print(json.dumps(measure(), indent=1))
