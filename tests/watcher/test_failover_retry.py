"""The watcher starts a failover again when the leading sentinel found no replica to promote,
against a real sentinel, master and replica (redis-server --sentinel): Sentinel itself would
try again only after twice failover-timeout, the master down all along."""

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'lib'))
sys.path.insert(0, ROOT)

from testbed import bare_redis  # noqa: E402

HOST = '127.82.0.1'
MASTER_PORT, REPLICA_PORT, SENTINEL_PORT = 26401, 26402, 26403
PASSWORD = 'retry-test-password'
FAILOVER_TIMEOUT_MS = 20000  # Sentinel's own next try: 40 s after the first


def start_sentinel(directory):
    return bare_redis.start_sentinel(HOST, SENTINEL_PORT, PASSWORD, directory, MASTER_PORT,
                                     [('down-after-milliseconds', 500), ('failover-timeout', FAILOVER_TIMEOUT_MS)])


def start_watcher(directory):
    settings = directory / 'watcher.json'
    settings.write_text(json.dumps({
        'sentinels': [HOST], 'port': SENTINEL_PORT, 'redis_port': MASTER_PORT,
        'password': PASSWORD, 'master_name': 'm', 'down_after_ms': 500,
        'failover_timeout_ms': FAILOVER_TIMEOUT_MS, 'trigger': ['true'], 'settle': []}))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'lib'))
    return subprocess.Popen([sys.executable, '-m', 'redis_k8s.master_watcher', str(settings)],
                            env=env, stdout=open(directory / 'watcher.log', 'w'),
                            stderr=subprocess.STDOUT, start_new_session=True)


def test_a_failover_aborted_for_want_of_a_replica_is_started_again_once_one_is_fit(tmp_path):
    started = []
    try:
        for name in ('master', 'replica', 'sentinel'):
            (tmp_path / name).mkdir()
        master, _ = bare_redis.start(HOST, MASTER_PORT, PASSWORD, tmp_path / 'master')
        started.append(master)
        # Priority 0: the sentinel finds no replica to promote, as with an INFO too old.
        replica_process, replica = bare_redis.start(
            HOST, REPLICA_PORT, PASSWORD, tmp_path / 'replica',
            ['--replicaof', HOST, str(MASTER_PORT), '--replica-priority', '0',
             '--replica-announce-ip', HOST])
        started.append(replica_process)
        sentinel_process, sentinel = start_sentinel(tmp_path / 'sentinel')
        started.append(sentinel_process)
        assert bare_redis.wait_for(lambda: sentinel.execute_command('SENTINEL', 'REPLICAS', 'm'), 15)
        watcher = start_watcher(tmp_path)
        started.append(watcher)
        events = sentinel.pubsub(ignore_subscribe_messages=True)
        events.subscribe('-failover-abort-no-good-slave')
        time.sleep(1.5)  # the watcher subscribes too

        bare_redis.stop(master)
        aborted = None
        deadline = time.monotonic() + 15
        while aborted is None and time.monotonic() < deadline:
            aborted = events.get_message(timeout=0.5)
        assert aborted is not None, 'the sentinel did not abort for want of a replica'
        replica.config_set('replica-priority', 100)

        # Well before Sentinel's own next try (2 x failover-timeout).
        assert bare_redis.wait_for(lambda: sentinel.execute_command(
            'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'm') == [HOST, str(REPLICA_PORT)], 15), \
            (tmp_path / 'watcher.log').read_text()
        assert 'failover started again' in (tmp_path / 'watcher.log').read_text()
    finally:
        for process in reversed(started):
            bare_redis.stop(process)
