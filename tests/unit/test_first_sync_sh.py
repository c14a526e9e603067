"""When a replica that started empty may be promoted (lib.sh ``first_sync_done``, as rendered for
the pods), read from a real replica's INFO: before its first sync, once synced, and once its
master died right after the sync. The start script holds such a replica at replica-priority 0
until then; a master that dies a moment after the sync must not leave every replica held for good
(seen in the pods suite: 60 s of ``-failover-abort-no-good-slave`` after a SIGKILL)."""

import signal
import subprocess
import time

import pytest
import redis

from redis_k8s import podspec, settings
from tls_tools import start_plain_redis, stop, wait_for

MASTER, REPLICA = '127.42.8.1', '127.42.8.2'
PORT = 27341
# The first sync starts at once (the default waits 5 s for more replicas).
FAST_SYNC = ('--repl-diskless-sync-delay', '0')


@pytest.fixture
def first_sync_done(tmp_path):
    """``first_sync_done(host)``: whether the rendered function says yes to ``host``'s INFO."""
    lib = tmp_path / 'lib.sh'
    lib.write_text(podspec.volume_files('r', settings.parse({}, 3, app_name='r'))
                   [podspec.REDIS_SCRIPTS_VOLUME]['lib.sh'])

    def ask(host):
        info = subprocess.run(['redis-cli', '-h', host, '-p', str(PORT), 'INFO', 'replication'],
                              capture_output=True, text=True, check=True).stdout
        done = subprocess.run(['/bin/sh', '-c', '. ./lib.sh; first_sync_done "$1"', 'sh', info],
                              cwd=str(tmp_path), capture_output=True, text=True)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode == 0
    return ask


def link(host):
    return redis.Redis(host=host, port=PORT, socket_timeout=2, decode_responses=True,
                       lib_name=None, lib_version=None).info('replication')


def test_a_replica_is_held_until_its_first_sync_and_not_after_its_master_died(tmp_path, first_sync_done):
    processes = [start_plain_redis(tmp_path, host, PORT, FAST_SYNC) for host in (MASTER, REPLICA)]
    master = processes[0]
    try:
        assert first_sync_done(MASTER)
        client = redis.Redis(host=REPLICA, port=PORT, socket_timeout=2)
        client.replicaof('127.42.8.9', PORT)  # nobody there: it never syncs
        time.sleep(0.5)
        assert link(REPLICA)['master_link_down_since_seconds'] == -1
        assert not first_sync_done(REPLICA)

        client.replicaof(MASTER, PORT)
        wait_for(lambda: link(REPLICA)['master_link_status'] == 'up')
        assert first_sync_done(REPLICA)

        master.send_signal(signal.SIGKILL)
        master.wait(10)
        wait_for(lambda: link(REPLICA)['master_link_status'] == 'down')
        assert link(REPLICA)['master_link_down_since_seconds'] >= 0
        assert first_sync_done(REPLICA)
    finally:
        for process in processes:
            stop(process)
