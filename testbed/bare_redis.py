"""A bare redis-server on a loopback address, for tests and benchmarks that need a real Redis
without a local model (the watcher's and the demotion's tests, the woken-master bench)."""

import os
import signal
import subprocess
import time

import redis

START_WAIT_S = 5.0


def start(host, port, password, directory, extra=()):
    """Start redis-server on ``host:port`` (no persistence, its files in ``directory``, which
    must exist) in a process group of its own; return ``(process, client)`` once it answers PING.

    Raises RuntimeError (after stopping it) if it does not answer within ``START_WAIT_S``.
    """
    process = subprocess.Popen(
        ['redis-server', '--bind', host, '--port', str(port), '--requirepass', password,
         '--masterauth', password, '--save', '', '--appendonly', 'no', '--dir', str(directory)]
        + list(extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    client = redis.Redis(host=host, port=port, password=password, socket_timeout=2)
    deadline = time.monotonic() + START_WAIT_S
    while True:
        try:
            client.ping()
            return process, client
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError('redis-server on {}:{} did not start'.format(host, port))
            time.sleep(0.05)


def stop(process):
    """Kill the server's process group (it started it: nothing else is in it) and reap it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def start_sentinel(host, port, password, directory, master_port, options=(), master_host=None):
    """Start a sentinel on ``host:port`` monitoring master ``m`` at ``master_host:master_port``
    (default ``host``) with quorum 1 (its files in ``directory``, which must exist; ``options``:
    more ``sentinel <option> m <value>`` lines, as ``(option, value)``), in a process group of
    its own; return ``(process, client)`` once it answers PING (RuntimeError otherwise).

    It announces ``host`` to the other sentinels (its connections to other loopback addresses
    leave from 127.0.0.1, which every sentinel of this machine would announce)."""
    conf = os.path.join(str(directory), 'sentinel.conf')
    with open(conf, 'w') as handle:
        handle.write('\n'.join(
            ['port {}'.format(port), 'bind {}'.format(host), 'dir {}'.format(directory),
             'requirepass {}'.format(password), 'sentinel announce-ip {}'.format(host),
             'sentinel monitor m {} {} 1'.format(master_host or host, master_port),
             'sentinel auth-pass m {}'.format(password)]
            + ['sentinel {} m {}'.format(option, value) for option, value in options]) + '\n')
    process = subprocess.Popen(['redis-server', conf, '--sentinel'], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis(host=host, port=port, password=password, socket_timeout=2,
                         decode_responses=True)
    if not wait_for(client.ping, START_WAIT_S):
        stop(process)
        raise RuntimeError('the sentinel on {}:{} did not start'.format(host, port))
    return process, client


def wait_for(predicate, timeout):
    """Whether ``predicate()`` came true within ``timeout`` seconds (a redis error counts as
    not yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    return False
