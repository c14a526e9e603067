"""The master watcher resets the sentinels the leader's hook found remembering removed pods,
against a real sentinel, master and replicas (redis-server --sentinel): a sentinel keeps a
removed replica in its tables until SENTINEL RESET, and the hook must not wait for the reset."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'lib'))
sys.path.insert(0, ROOT)

from redis_k8s import sentinel_reset  # noqa: E402
from testbed import bare_redis  # noqa: E402

HOST = '127.82.0.2'
MASTER_PORT, KEPT_PORT, REMOVED_PORT, SENTINEL_PORT = 26411, 26412, 26413, 26414
PASSWORD = 'reset-test-password'


def start_sentinel(directory):
    return bare_redis.start_sentinel(HOST, SENTINEL_PORT, PASSWORD, directory, MASTER_PORT,
                                     [('down-after-milliseconds', 1000)])


def replica_ports(sentinel):
    replies = sentinel.execute_command('SENTINEL', 'REPLICAS', 'm')
    return sorted(int(dict(zip(reply[::2], reply[1::2]))['port']) for reply in replies)


def write_settings(path, resets):
    path.write_text(json.dumps({
        'sentinels': [HOST], 'port': SENTINEL_PORT, 'redis_port': MASTER_PORT,
        'password': PASSWORD, 'master_name': 'm', 'down_after_ms': 1000,
        'failover_timeout_ms': 10000, 'trigger': ['true'], 'settle': [],
        'sentinel_resets': resets}))


@contextlib.contextmanager
def removed_replica_remembered(tmp_path, priority=100):
    """A master, a kept replica and a sentinel that still remembers a replica that was stopped
    (its pod removed), both replicas with ``replica-priority`` ``priority``; yields
    ``(started processes, sentinel client)`` and stops them all."""
    started = []
    try:
        for name in ('master', 'kept', 'removed', 'sentinel'):
            (tmp_path / name).mkdir()
        master, _ = bare_redis.start(HOST, MASTER_PORT, PASSWORD, tmp_path / 'master')
        started.append(master)
        replicas = {}
        for name, port in (('kept', KEPT_PORT), ('removed', REMOVED_PORT)):
            replicas[name], _ = bare_redis.start(HOST, port, PASSWORD, tmp_path / name,
                                                 ['--replicaof', HOST, str(MASTER_PORT),
                                                  '--replica-announce-ip', HOST,
                                                  '--replica-priority', str(priority)])
            started.append(replicas[name])
        sentinel_process, sentinel = start_sentinel(tmp_path / 'sentinel')
        started.append(sentinel_process)
        assert bare_redis.wait_for(lambda: replica_ports(sentinel) == [KEPT_PORT, REMOVED_PORT], 20)
        started.remove(replicas['removed'])
        bare_redis.stop(replicas['removed'])  # its pod is gone
        time.sleep(2)
        assert replica_ports(sentinel) == [KEPT_PORT, REMOVED_PORT]  # remembered, down
        yield started, sentinel
    finally:
        for process in reversed(started):
            bare_redis.stop(process)


def test_the_watcher_resets_the_sentinels_a_hook_asked_it_to(tmp_path):
    with removed_replica_remembered(tmp_path) as (started, sentinel):
        settings = tmp_path / 'watcher.json'
        write_settings(settings, None)
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'lib'))
        watcher = subprocess.Popen(
            [sys.executable, '-m', 'redis_k8s.master_watcher', str(settings)], env=env,
            stdout=open(tmp_path / 'watcher.log', 'w'), stderr=subprocess.STDOUT,
            start_new_session=True)
        started.append(watcher)
        time.sleep(1.5)
        assert replica_ports(sentinel) == [KEPT_PORT, REMOVED_PORT]  # nothing asked yet

        write_settings(settings, {'hosts': [HOST], 'at': time.time()})
        assert bare_redis.wait_for(lambda: replica_ports(sentinel) == [KEPT_PORT], 15), \
            (tmp_path / 'watcher.log').read_text()
        assert 'sentinel {} reset'.format(HOST) in (tmp_path / 'watcher.log').read_text()


def test_a_sentinel_is_not_reset_while_its_master_does_not_answer_it(tmp_path):
    """Reset then, it would know no replica to promote (the master's INFO is where it learns
    them): the failover it may lead would abort with no good replica."""
    data = {'sentinels': [HOST], 'port': SENTINEL_PORT, 'password': PASSWORD,
            'master_name': 'm'}
    logs = []
    # The kept replica is never promoted: this lone sentinel (quorum 1) would fail over to it.
    with removed_replica_remembered(tmp_path, priority=0) as (started, sentinel):
        master = started[0]
        os.killpg(master.pid, signal.SIGSTOP)  # a partition, as the sentinel sees it
        try:
            assert bare_redis.wait_for(
                lambda: 's_down' in sentinel_reset.master_state(HOST, data)['flags'], 10)
            assert sentinel_reset.reset_in_turn([HOST], data, ready_s=2, log=logs.append) == []
            assert replica_ports(sentinel) == [KEPT_PORT, REMOVED_PORT]
            assert 'its master does not answer it' in logs[-1], logs
        finally:
            os.killpg(master.pid, signal.SIGCONT)
        # The master answers again: the reset waits for the sentinel to see it, then goes on.
        assert sentinel_reset.reset_in_turn([HOST], data, log=logs.append) == [HOST]
        assert bare_redis.wait_for(lambda: replica_ports(sentinel) == [KEPT_PORT], 10), logs

