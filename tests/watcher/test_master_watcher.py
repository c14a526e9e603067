"""The master watcher, against a real redis-server that publishes sentinel-shaped events."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'lib'))
sys.path.insert(0, ROOT)

from redis_k8s.master_watcher import concerns  # noqa: E402
from testbed import bare_redis  # noqa: E402

HOST = '127.81.0.1'
PORT = 26390
PASSWORD = 'watcher-test-password'


@pytest.mark.parametrize('message, expected', [
    ('mymaster a.example 6379 b.example 6379', True),
    ('other a.example 6379 b.example 6379', False),
    ('master mymaster a.example 6379', True),
    ('master other a.example 6379', False),
    ('slave b.example:6379 b.example 6379 @ mymaster a.example 6379', True),
    ('sentinel 1dd2 c.example 26379 @ other a.example 6379', False),
    ('', False),
])
def test_concerns_only_our_master_group(message, expected):
    assert concerns(message, 'mymaster') is expected


REDIS_PORT = 26391


def redis_server(port, directory):
    """A redis-server on HOST:port and a client to it; the process is returned for cleanup."""
    return bare_redis.start(HOST, port, PASSWORD, directory)


def stop(process):
    bare_redis.stop(process)


@pytest.fixture
def publisher(tmp_path):
    """Plays the pod's sentinel: publishes events and answers PING."""
    process, client = redis_server(PORT, tmp_path)
    yield client
    stop(process)


@pytest.fixture
def pod_redis(tmp_path):
    """Plays the pod's redis, whose replication state the watcher polls."""
    process, client = redis_server(REDIS_PORT, tmp_path)
    yield client
    stop(process)


def start_watcher(tmp_path, record, monkeypatch_env=None, settle_s=0, failover_timeout_ms=30000,
                  promotion_trigger=False):
    settings = tmp_path / 'watcher.json'
    write = [sys.executable, '-c', 'import sys; open(sys.argv[1], "a").write(sys.argv[2] + "\\n")']
    # A slow settle command records its end too, so a test can tell what ran meanwhile.
    slow = [sys.executable, '-c', 'import sys, time; open(sys.argv[1], "a").write(sys.argv[2] + '
            '"\\n"); time.sleep({0}); {0} and open(sys.argv[1], "a").write(sys.argv[2] + '
            '"-end\\n")'.format(settle_s)]
    data = {
        'sentinels': [HOST], 'port': PORT, 'redis_port': REDIS_PORT, 'password': PASSWORD,
        'master_name': 'mymaster', 'failover_timeout_ms': failover_timeout_ms,
        'trigger': write + [str(record), 'trigger'],
        'settle': [slow + [str(record), 'settle-a'], slow + [str(record), 'settle-b']],
    }
    if promotion_trigger:
        data['promotion_trigger'] = write + [str(record), 'promoted-{host}']
        data['publish_promoted'] = [write + [str(record), 'publish-{}-{{host}}'.format(unit)]
                                    for unit in 'ab']
    settings.write_text(json.dumps(data))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'lib'))
    return subprocess.Popen([sys.executable, '-m', 'redis_k8s.master_watcher', str(settings)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def lines(path):
    return path.read_text().split() if path.exists() else []


def wait_for(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def subscribed(client):
    return client.pubsub_numsub('+switch-master')[0][1] > 0


def test_switch_master_runs_trigger_once_per_burst_then_settles(tmp_path, publisher):
    record = tmp_path / 'record'
    watcher = start_watcher(tmp_path, record)
    try:
        assert wait_for(lambda: subscribed(publisher))
        publisher.publish('+switch-master', 'other a 6379 b 6379')
        for _ in range(3):  # every sentinel announces the same switch
            publisher.publish('+switch-master', 'mymaster a 6379 b 6379')
        assert wait_for(lambda: 'trigger' in lines(record))
        assert wait_for(lambda: 'settle-b' in lines(record))
        assert lines(record) == ['trigger', 'settle-a', 'settle-b']
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()


def test_a_promotion_during_the_settle_pass_is_not_kept_waiting_behind_it(tmp_path, publisher):
    record = tmp_path / 'record'
    watcher = start_watcher(tmp_path, record, settle_s=3)
    try:
        assert wait_for(lambda: subscribed(publisher))
        publisher.publish('+switch-master', 'mymaster a 6379 b 6379')
        assert wait_for(lambda: 'settle-a' in lines(record))
        publisher.publish('+promoted-slave', 'slave c:6379 c 6379 @ mymaster b 6379')
        assert wait_for(lambda: 'settle-a-end' in lines(record))
        # The new master's trigger ran without waiting for the settle command that was running
        # (left to end on its own); the pass comes again once things are quiet.
        assert lines(record) == ['trigger', 'settle-a', 'trigger', 'settle-a-end']
        assert wait_for(lambda: 'settle-b' in lines(record), timeout=30)
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()


def test_events_of_other_master_groups_are_ignored(tmp_path, publisher):
    record = tmp_path / 'record'
    watcher = start_watcher(tmp_path, record)
    try:
        assert wait_for(lambda: subscribed(publisher))
        publisher.publish('+switch-master', 'other a 6379 b 6379')
        publisher.publish('+sdown', 'master other a 6379')
        publisher.publish('-sdown', 'slave b:6379 b 6379 @ mymaster a 6379')
        assert wait_for(lambda: 'trigger' in lines(record))
        time.sleep(0.5)
        assert lines(record).count('trigger') == 1
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()


def test_reconnects_when_the_sentinel_restarts(tmp_path, publisher):
    record = tmp_path / 'record'
    watcher = start_watcher(tmp_path, record)
    try:
        assert wait_for(lambda: subscribed(publisher))
        publisher.client_kill_filter(_type='pubsub')
        assert wait_for(lambda: subscribed(publisher))
        publisher.publish('+switch-master', 'mymaster a 6379 b 6379')
        assert wait_for(lambda: 'trigger' in lines(record))
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()


def test_a_pod_state_change_without_any_sentinel_event_triggers(tmp_path, publisher, pod_redis):
    record = tmp_path / 'record'
    watcher = start_watcher(tmp_path, record)
    try:
        assert wait_for(lambda: subscribed(publisher))
        time.sleep(2.5)  # the first look is a baseline, never a trigger
        assert lines(record) == []
        pod_redis.execute_command('REPLICAOF', HOST, PORT)  # master -> replica, no event published
        assert wait_for(lambda: 'trigger' in lines(record))
        assert wait_for(lambda: 'settle-b' in lines(record))
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()


def test_settled_means_linked_replicas_and_agreeing_sentinels():
    from redis_k8s.master_watcher import settled
    master = ('a', '6379')
    good = {'a': ('master', None, None, master), 'b': ('slave', 'a', 'up', master)}
    assert settled(good)
    assert not settled(dict(good, b=('slave', 'a', 'down', master)))
    assert not settled(dict(good, b=('slave', 'a', 'up', ('a', '6380'))))
    assert not settled(dict(good, b=(None, None, None, None)))
    # No sentinel answering is no agreement either.
    assert not settled({'a': ('master', None, None, None), 'b': ('slave', 'a', 'up', None)})


def test_a_promotion_or_switch_is_urgent_and_a_master_down_holds():
    from redis_k8s.master_watcher import CHANGE, MASTER_DOWN, MASTER_UP, URGENT, kind_of
    assert kind_of('+promoted-slave', 'slave b:6379 b 6379 @ mymaster a 6379') == URGENT
    assert kind_of('+switch-master', 'mymaster a 6379 b 6379') == URGENT
    assert kind_of('+failover-state-wait-promotion', 'slave b:6379 b 6379 @ mymaster a 6379') \
        == CHANGE
    assert kind_of('+sdown', 'master mymaster a 6379') == MASTER_DOWN
    assert kind_of('+odown', 'master mymaster a 6379 #quorum 2/2') == MASTER_DOWN
    assert kind_of('-sdown', 'master mymaster a 6379') == MASTER_UP
    assert kind_of('+sdown', 'slave b:6379 b 6379 @ mymaster a 6379') == CHANGE


def test_a_poll_that_only_lost_the_named_master_is_a_master_down():
    from redis_k8s.master_watcher import CHANGE, MASTER_DOWN, MASTER_UP, poll_kind
    master = ('a', '6379')
    before = {'a': ('master', None, None, master), 'b': ('slave', 'a', 'up', master)}
    frozen = dict(before, a=(None, None, None, master))
    assert poll_kind(before, frozen) == MASTER_DOWN
    assert poll_kind(frozen, before) == MASTER_UP
    assert poll_kind(before, dict(before, b=(None, None, None, master))) == CHANGE
    assert poll_kind(before, dict(frozen, b=('master', None, None, ('b', '6379')))) == CHANGE


def test_the_hold_keeps_triggers_back_until_a_promotion_or_its_end():
    from redis_k8s.master_watcher import CHANGE, MASTER_DOWN, MASTER_UP, URGENT, Hold
    hold = Hold(7.0)
    assert hold.reason([(CHANGE, 'pods changed: a')], 0.0) == 'pods changed: a'
    assert hold.reason([(MASTER_DOWN, '+sdown master mymaster a 6379')], 1.0) is None
    assert hold.reason([(CHANGE, 'pods changed: a')], 2.0) is None
    assert hold.reason([], 3.0) is None
    promoted = '+promoted-slave slave b:6379 b 6379 @ mymaster a 6379'
    assert hold.reason([(URGENT, promoted)], 4.0) == promoted
    # The promotion is published; what follows it waits for the other units to follow it.
    assert hold.reason([(CHANGE, 'pods changed: b')], 5.0) is None
    assert hold.reason([], 7.0 + 0.1) == 'pods changed: b (held)'
    # No failover comes (no quorum): what was held runs when the hold ends, events or not.
    assert hold.reason([(MASTER_DOWN, '+sdown master mymaster b 6379')], 10.0) is None
    assert hold.reason([(CHANGE, 'pods still unsettled')], 16.0) is None
    assert hold.reason([(CHANGE, 'pods still unsettled')], 17.5) == \
        '+sdown master mymaster b 6379 (held)'
    # The master answers again before the sentinels act: no failover is coming.
    assert hold.reason([(MASTER_DOWN, '+sdown master mymaster b 6379')], 20.0) is None
    assert hold.reason([(MASTER_UP, '-sdown master mymaster b 6379')], 21.0) == \
        '-sdown master mymaster b 6379'


def test_the_new_master_an_urgent_event_names():
    from redis_k8s.master_watcher import promoted_to
    assert promoted_to('+switch-master', 'mymaster a.x 6379 b.x 6380') == ('b.x', '6380')
    assert promoted_to('+promoted-slave', 'slave b.x:6379 b.x 6379 @ mymaster a.x 6379') == \
        ('b.x', '6379')
    assert promoted_to('+failover-state-wait-promotion',
                       'slave b.x:6379 b.x 6379 @ mymaster a.x 6379') == ('b.x', '6379')
    assert promoted_to('+sdown', 'master mymaster a.x 6379') is None
    assert promoted_to('+switch-master', 'mymaster a.x') is None


def test_one_switch_announced_by_every_sentinel_triggers_once_and_a_new_one_at_once():
    from redis_k8s.master_watcher import CHANGE, URGENT, Hold
    hold = Hold(7.0, follow_s=3.0)
    promoted = '+promoted-slave slave b:6379 b 6379 @ mymaster a 6379'
    switched = '+switch-master mymaster a 6379 b 6379'
    assert hold.reason([(URGENT, promoted)], 0.0) == promoted
    # The other sentinels' switch to the same replica, and the role changes it brings, are not
    # a second hook while the other units publish it: they run once, after the window.
    assert hold.reason([(URGENT, switched), (URGENT, switched)], 0.1) is None
    assert hold.reason([(CHANGE, '+convert-to-slave slave a:6379 a 6379 @ mymaster b 6379')],
                       0.5) is None
    assert hold.reason([], 3.1) == '+convert-to-slave slave a:6379 a 6379 @ mymaster b 6379 (held)'
    # The leading sentinel's own switch, at the end of its failover, is no news either.
    assert hold.reason([(URGENT, switched)], 5.0) is None
    # A promotion of another replica is.
    promoted_c = '+promoted-slave slave c:6379 c 6379 @ mymaster b 6379'
    assert hold.reason([(URGENT, switched), (URGENT, promoted_c)], 5.5) == promoted_c
    assert hold.reason([(URGENT, '+switch-master mymaster c 6379 a 6379')], 5.6) == \
        '+switch-master mymaster c 6379 a 6379'


def test_a_promotion_triggers_once_though_every_sentinel_announces_its_switch(tmp_path,
                                                                               publisher):
    record = tmp_path / 'record'
    watcher = start_watcher(tmp_path, record)
    try:
        assert wait_for(lambda: subscribed(publisher))
        publisher.publish('+promoted-slave', 'slave b:6379 b 6379 @ mymaster a 6379')
        assert wait_for(lambda: 'trigger' in lines(record))
        for _ in range(3):
            publisher.publish('+switch-master', 'mymaster a 6379 b 6379')
        assert wait_for(lambda: 'settle-b' in lines(record), timeout=30)
        assert lines(record) == ['trigger', 'settle-a', 'settle-b']
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()


def test_a_new_master_runs_the_promotion_trigger_with_its_host(tmp_path, publisher):
    record = tmp_path / 'record'
    watcher = start_watcher(tmp_path, record, promotion_trigger=True)
    try:
        assert wait_for(lambda: subscribed(publisher))
        publisher.publish('+promoted-slave', 'slave b.pods.svc:6379 b.pods.svc 6379 @ mymaster a '
                          '6379')
        assert wait_for(lambda: 'settle-b' in lines(record), timeout=30)
        # Every unit's quick publishing first (started together: in either order), then the
        # trigger; the other units refresh as before.
        assert sorted(lines(record)[:2]) == ['publish-a-b.pods.svc', 'publish-b-b.pods.svc']
        assert lines(record)[2:] == ['promoted-b.pods.svc', 'settle-a', 'settle-b']
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()


@pytest.mark.parametrize('host', ['b;reboot', '$(reboot)', 'b c', '-b', ''])
def test_a_host_a_shell_would_read_as_more_than_a_name_gets_the_plain_trigger(host):
    from redis_k8s.master_watcher import with_host
    template = ['juju-run', 'u/0', 'bin/x {host}']
    assert with_host(template, (host, '6379')) is None
    assert with_host(template, ('r-1.r-endpoints.m.svc.cluster.local', '6379')) == \
        ['juju-run', 'u/0', 'bin/x r-1.r-endpoints.m.svc.cluster.local']
    assert with_host(template, ('fd00::1', '6379')) == ['juju-run', 'u/0', 'bin/x fd00::1']
    assert with_host(None, ('b', '6379')) is None
    assert with_host(template, None) is None


def test_the_follow_window_lasts_one_hook_per_other_unit_when_hooks_are_slow():
    from redis_k8s.master_watcher import CHANGE, URGENT, Hold
    hold = Hold(7.0, follow_s=3.0)
    promoted = '+promoted-slave slave b:6379 b 6379 @ mymaster a 6379'
    assert hold.reason([(URGENT, promoted)], 0.0) == promoted
    hold.follow_for(2 * 4.0, 4.0)  # the trigger's hook took 4 s; two other units follow
    assert hold.reason([(CHANGE, 'pods changed: a')], 5.0) is None
    assert hold.reason([], 11.9) is None
    assert hold.reason([], 12.0) == 'pods changed: a (held)'
    hold.follow_for(100.0, 13.0)  # no window open: nothing to extend
    assert hold.reason([(CHANGE, 'pods changed: b')], 13.5) == 'pods changed: b'


PROMOTED_PORT = 26392  # a replica the watcher does not poll: only the event leads to it
WAIT_PROMOTION = ('+failover-state-wait-promotion',
                  'slave {0}:{1} {0} {1} @ mymaster {0} 6379'.format(HOST, PROMOTED_PORT))


@pytest.fixture
def selected_replica(tmp_path):
    """The replica the leading sentinel selected: a replica of an address nobody serves."""
    directory = tmp_path / 'selected'
    directory.mkdir()
    process, client = redis_server(PROMOTED_PORT, directory)
    client.execute_command('REPLICAOF', HOST, '1')
    yield client
    stop(process)


def test_a_selected_replica_triggers_as_soon_as_it_answers_master(tmp_path, publisher,
                                                                  selected_replica):
    # The leading sentinel sent SLAVEOF NO ONE and waits up to a second for the replica's next
    # INFO; from there only failover-timeout aborts. The watcher asks the replica itself.
    record = tmp_path / 'record'
    watcher = start_watcher(tmp_path, record)
    try:
        assert wait_for(lambda: subscribed(publisher))
        publisher.publish(*WAIT_PROMOTION)
        time.sleep(0.5)
        assert lines(record) == []  # still a replica: nothing to publish yet
        selected_replica.execute_command('REPLICAOF', 'NO', 'ONE')
        assert wait_for(lambda: 'trigger' in lines(record), timeout=1.5)
        # The sentinel's own announcements of the same promotion are no news.
        publisher.publish('+promoted-slave', WAIT_PROMOTION[1])
        publisher.publish('+switch-master', 'mymaster {0} 6379 {0} {1}'.format(HOST, PROMOTED_PORT))
        assert wait_for(lambda: 'settle-b' in lines(record), timeout=30)
        assert lines(record) == ['trigger', 'settle-a', 'settle-b']
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()


def test_a_selected_replica_waits_for_the_sentinel_when_the_failover_timeout_is_short(
        tmp_path, publisher, selected_replica):
    # With failover-timeout 2 s the sentinel may still abort: the charm does not take the
    # replica's word, so the watcher does not trigger a hook for it.
    record = tmp_path / 'record'
    watcher = start_watcher(tmp_path, record, failover_timeout_ms=2000)
    try:
        assert wait_for(lambda: subscribed(publisher))
        selected_replica.execute_command('REPLICAOF', 'NO', 'ONE')
        publisher.publish(*WAIT_PROMOTION)
        time.sleep(1.5)
        assert lines(record) == []
        publisher.publish('+promoted-slave', WAIT_PROMOTION[1])
        assert wait_for(lambda: 'trigger' in lines(record), timeout=1.5)
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()
