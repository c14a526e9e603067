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
