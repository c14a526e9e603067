"""The watcher starts a failover again when the leading sentinel found no replica to promote, or
no sentinel was elected, against real sentinels, master and replica (redis-server --sentinel):
Sentinel itself would try again only after twice failover-timeout, the master down all along."""

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


def start_watcher(directory, sentinels=(HOST,), port=SENTINEL_PORT, redis_port=MASTER_PORT,
                  failover_timeout_ms=FAILOVER_TIMEOUT_MS):
    settings = directory / 'watcher.json'
    settings.write_text(json.dumps({
        'sentinels': list(sentinels), 'port': port, 'redis_port': redis_port,
        'password': PASSWORD, 'master_name': 'm', 'down_after_ms': 500,
        'failover_timeout_ms': failover_timeout_ms, 'trigger': ['true'], 'settle': []}))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'lib'))
    return subprocess.Popen([sys.executable, '-m', 'redis_k8s.master_watcher', str(settings)],
                            env=env, stdout=open(directory / 'watcher.log', 'w'),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_master_until(sentinel, master, event, timeout=20):
    """Stop the master once the watcher had time to subscribe; whether ``sentinel`` then
    announced ``event`` within ``timeout`` seconds."""
    events = sentinel.pubsub(ignore_subscribe_messages=True)
    events.subscribe(event)
    time.sleep(1.5)  # the watcher subscribes too
    bare_redis.stop(master)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if events.get_message(timeout=0.5) is not None:
            return True
    return False


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
        started.append(start_watcher(tmp_path))
        assert stop_master_until(sentinel, master, '-failover-abort-no-good-slave'), \
            'the sentinel did not abort for want of a replica'
        replica.config_set('replica-priority', 100)

        # Well before Sentinel's own next try (2 x failover-timeout).
        assert bare_redis.wait_for(lambda: sentinel.execute_command(
            'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'm') == [HOST, str(REPLICA_PORT)], 15), \
            (tmp_path / 'watcher.log').read_text()
        assert 'failover started again' in (tmp_path / 'watcher.log').read_text()
    finally:
        for process in reversed(started):
            bare_redis.stop(process)


# A split vote, made certain: the sentinel that sees the master down counts two more sentinels
# it met (three voters: it needs two votes) which are gone, as sentinels of removed pods are
# until a reset. Alone it is never elected: ``-failover-abort-not-elected`` after the election
# timeout (failover-timeout, when shorter than 10 s), again and again.
VOTER_HOSTS = ('127.82.0.11', '127.82.0.12', '127.82.0.13')
SPLIT_MASTER_PORT, SPLIT_REPLICA_PORT, SPLIT_SENTINEL_PORT = 26411, 26412, 26413
SPLIT_FAILOVER_TIMEOUT_MS = 4000


def start_split_vote(tmp_path, started):
    """Master and replica on the first voter host, a sentinel on each host; the other two
    sentinels are stopped once the first knows them. Returns the first sentinel's client."""
    host = VOTER_HOSTS[0]
    for name in ('master', 'replica') + VOTER_HOSTS:
        (tmp_path / name).mkdir()
    master, _ = bare_redis.start(host, SPLIT_MASTER_PORT, PASSWORD, tmp_path / 'master')
    started.append(master)
    replica_process, replica = bare_redis.start(
        host, SPLIT_REPLICA_PORT, PASSWORD, tmp_path / 'replica',
        ['--replicaof', host, str(SPLIT_MASTER_PORT), '--replica-announce-ip', host])
    started.append(replica_process)
    sentinels = []
    for voter in VOTER_HOSTS:
        process, client = bare_redis.start_sentinel(
            voter, SPLIT_SENTINEL_PORT, PASSWORD, tmp_path / voter, SPLIT_MASTER_PORT,
            [('down-after-milliseconds', 500), ('failover-timeout', SPLIT_FAILOVER_TIMEOUT_MS)],
            master_host=host)
        started.append(process)
        sentinels.append((process, client))
    first = sentinels[0][1]
    assert bare_redis.wait_for(lambda: int(connection_dict(
        first.execute_command('SENTINEL', 'MASTER', 'm'))['num-other-sentinels']) == 2, 20)
    assert bare_redis.wait_for(lambda: first.execute_command('SENTINEL', 'REPLICAS', 'm'), 15)
    for process, _ in sentinels[1:]:
        bare_redis.stop(process)
    return master, first


def connection_dict(reply):
    from redis_k8s.connection import as_dict
    return as_dict(reply)


def split_vote_aborted(tmp_path, started, pods_sentinels):
    """The split vote with a watcher whose pods' sentinels are ``pods_sentinels``, its master
    stopped until the first sentinel gave up its election; returns that sentinel's client."""
    master, sentinel = start_split_vote(tmp_path, started)
    started.append(start_watcher(tmp_path, pods_sentinels, SPLIT_SENTINEL_PORT, SPLIT_MASTER_PORT,
                                 SPLIT_FAILOVER_TIMEOUT_MS))
    assert stop_master_until(sentinel, master, '-failover-abort-not-elected'), \
        'the sentinel was elected after all'
    return sentinel


def test_a_failover_no_sentinel_was_elected_for_is_forced_when_the_pods_majority_sees_it_down(
        tmp_path):
    # The application has one pod now (the watcher's sentinels): its sentinel is the majority.
    started = []
    try:
        sentinel = split_vote_aborted(tmp_path, started, VOTER_HOSTS[:1])
        # Sentinel alone would never fail over here: every try is a lost election.
        assert bare_redis.wait_for(lambda: sentinel.execute_command(
            'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'm') == [VOTER_HOSTS[0], str(SPLIT_REPLICA_PORT)],
            15), (tmp_path / 'watcher.log').read_text()
        log = (tmp_path / 'watcher.log').read_text()
        assert 'failover started again on {} after -failover-abort-not-elected'.format(
            VOTER_HOSTS[0]) in log
    finally:
        for process in reversed(started):
            bare_redis.stop(process)


def test_no_failover_is_forced_while_most_of_the_pods_sentinels_do_not_answer(tmp_path):
    # The application has three pods: two sentinels do not answer, so the one that sees the
    # master down is no majority, and a forced failover could be a minority's.
    started = []
    try:
        sentinel = split_vote_aborted(tmp_path, started, VOTER_HOSTS)
        log_file = tmp_path / 'watcher.log'
        assert bare_redis.wait_for(lambda: 'no failover retried on {}'.format(VOTER_HOSTS[0])
                                   in log_file.read_text(), 20), log_file.read_text()
        assert 'too few sentinels see the master down' in log_file.read_text()
        assert sentinel.execute_command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'm') == [
            VOTER_HOSTS[0], str(SPLIT_MASTER_PORT)]
    finally:
        for process in reversed(started):
            bare_redis.stop(process)
