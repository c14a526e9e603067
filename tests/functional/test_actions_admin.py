"""The actions get-password and failover (issue 13), on one deployed cluster of three units.

get-password answers on the leader only, with a password redis accepts; failover switches the
master under a write load with no acknowledged write lost, to the replica the sentinels choose or
to the unit named, refuses every bad target with a message, and the consumer's relation data
follows the new master.
"""

import time

import pytest
import redis

from conftest import APP, CONSUMER
from localmodel.client import ModelError
from testbed import deploy, faults
from testbed.load import WriteLoad

SUBNET = '127.87'
CONFIG = deploy.FAST_FAILOVER
ACTION_WAIT_S = 300  # an action waits behind the hooks the operator is running


def run_action(cluster, unit, name, **params):
    return cluster.model.run_action(unit, name, params=params, wait=ACTION_WAIT_S)


def unit_pods(cluster):
    """``{unit: pod}`` as Juju links them (its provider id: `juju status` shows it)."""
    return {name: unit['provider-id'] for name, unit in cluster.units().items()}


def unit_of(cluster, pod):
    return next(unit for unit, name in unit_pods(cluster).items() if name == pod)


def settled(cluster):
    """The master, once the cluster is healthy, the relation names it and every unit knows its
    peers' pods (the failover action maps units to pods from the peer data)."""
    master = faults.eventually(cluster, lambda: cluster.healthy(3), 180, 'not healthy')
    faults.every_entry_names(cluster, master, 180)
    faults.eventually(cluster, lambda: peers_know_pods(cluster), 180,
                      'the units do not know their peers\' pods')
    return master


def peers_know_pods(cluster):
    """Every unit sees each peer's pod in the peer relation, as Juju links them."""
    pods = unit_pods(cluster)
    command = ('id=$(relation-ids redis-peers); for u in $(relation-list -r $id); do '
               'echo $u $(relation-get -r $id pod $u); done')
    for unit in pods:
        rc, out, err = cluster.model.run(unit, command, operator=True)
        seen = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
        if rc != 0 or seen != {peer: pod for peer, pod in pods.items() if peer != unit}:
            return False
    return True


def longest_gap_s(writer, since):
    """The longest time between two acknowledged writes after ``since`` (monotonic)."""
    times = [since] + [at for _, at in writer.acknowledged if at > since]
    return max((b - a for a, b in zip(times, times[1:])), default=0.0)


def no_traceback(record):
    text = repr(record)
    assert 'Traceback' not in text and 'exit status' not in text, record


@pytest.fixture(scope='module')
def admin(cluster):
    settled(cluster)
    return cluster


def test_get_password_on_the_leader_returns_the_password_redis_accepts(admin):
    leader = admin.leader()
    record = run_action(admin, leader, 'get-password')
    assert record['status'] == 'completed', record
    password = record['results']['password']
    assert password == admin.password()
    master = admin.master_pod()
    assert admin.client(master, password=password).ping()
    with pytest.raises(redis.AuthenticationError):
        admin.client(master, password=password + 'x').ping()
    # The result is the only place it shows: not in the action's log, nor in the model's logs.
    assert password not in repr(record.get('log'))
    assert password not in admin.model.debug_log()


def test_get_password_on_a_non_leader_fails_naming_the_leader(admin):
    leader = admin.leader()
    other = next(unit for unit in sorted(admin.units()) if unit != leader)
    record = run_action(admin, other, 'get-password')
    assert record['status'] == 'failed'
    assert record['message'] == (
        'this unit is not the leader: run get-password on the leader unit ({})'.format(leader))
    assert 'password' not in (record.get('results') or {})
    # It runs in the operator (it reads leader data there); the workload pod is refused.
    with pytest.raises(ModelError, match='workload-context'):
        admin.model.run_action(leader, 'get-password', params={'workload-context': True})


def test_bad_targets_fail_with_a_message_and_change_nothing(admin):
    master = settled(admin)
    master_unit = unit_of(admin, master)
    units = sorted(admin.units())
    expected = {
        APP + '/9': '{}/9 is not a unit of {} (its units: {})'.format(APP, APP, ' '.join(units)),
        CONSUMER + '/0': 'target {}/0 is not a unit of {}'.format(CONSUMER, APP),
        master_unit: '{} (pod {}) is the master already'.format(master_unit, master),
        APP: 'target "{}" is not a unit name: give one like {}/1'.format(APP, APP),
        APP + '/one': 'target "{}/one" is not a unit name: give one like {}/1'.format(APP, APP),
    }
    for target, message in expected.items():
        record = run_action(admin, units[0], 'failover', target=target)
        assert record['status'] == 'failed', record
        assert record['message'] == message
        no_traceback(record)
    with pytest.raises(ModelError, match=r'\(root\).target : must be of type string, given 2'):
        admin.model.run_action(units[0], 'failover', params={'target': 2})
    assert admin.healthy(3) == master


def test_failover_without_target_moves_the_master_under_load_losing_no_acknowledged_write(admin):
    old = settled(admin)
    writer = WriteLoad(admin, prefix='failover-any').start()
    try:
        faults.eventually(admin, lambda: len(writer.acknowledged) >= 50, 30, 'writes do not succeed')
        started = time.monotonic()
        record = run_action(admin, admin.leader(), 'failover')
        assert record['status'] == 'completed', record
        results = record['results']
        assert not results.get('Stderr'), results
        assert results['old-master'] == {'pod': old, 'unit': unit_of(admin, old)}
        new = results['new-master']['pod']
        assert new != old and results['new-master']['unit'] == unit_of(admin, new)
        assert faults.eventually(admin, lambda: admin.healthy(3), 120, 'not healthy') == new
        faults.every_entry_names(admin, new, 180)
        count = len(writer.acknowledged)
        faults.eventually(admin, lambda: len(writer.acknowledged) > count + 50, 60,
                          'writes do not resume on the new master')
    finally:
        writer.stop()
    print('\nfailover (no target): action {:.1f} s (queued to done), longest write gap {:.2f} s, '
          '{} writes acknowledged, {} failed'.format(
              record['completed'] - record['enqueued'], longest_gap_s(writer, started),
              len(writer.acknowledged), len(writer.failures)))
    assert writer.lost(new) == []
    assert admin.client(old).info('replication')['role'] == 'slave'


def test_failover_to_a_target_makes_exactly_that_unit_master(admin):
    old = settled(admin)
    pods = unit_pods(admin)
    # The replica the sentinels would not pick by themselves as readily: the highest unit.
    target = max((unit for unit, pod in pods.items() if pod != old),
                 key=lambda unit: int(unit.split('/')[1]))
    writer = WriteLoad(admin, prefix='failover-target').start()
    try:
        faults.eventually(admin, lambda: len(writer.acknowledged) >= 50, 30, 'writes do not succeed')
        runner = next(unit for unit in pods if unit != target)
        started = time.monotonic()
        record = run_action(admin, runner, 'failover', target=target)
        assert record['status'] == 'completed', record
        assert not record['results'].get('Stderr'), record['results']
        assert record['results']['new-master'] == {'pod': pods[target], 'unit': target}
        assert record['results']['old-master'] == {'pod': old, 'unit': unit_of(admin, old)}
        assert faults.eventually(admin, lambda: admin.healthy(3), 120, 'not healthy') == pods[target]
        faults.every_entry_names(admin, pods[target], 180)
    finally:
        writer.stop()
    print('\nfailover target={}: action {:.1f} s (queued to done), longest write gap {:.2f} s, '
          '{} writes acknowledged, {} failed'.format(
              target, record['completed'] - record['enqueued'], longest_gap_s(writer, started),
              len(writer.acknowledged), len(writer.failures)))
    assert writer.lost(pods[target]) == []
    # Every replica-priority is the charm's again (the target's was lowered for the switch).
    for pod in pods.values():
        assert admin.client(pod).config_get('replica-priority') == {'replica-priority': '100'}


def test_when_no_sentinel_can_promote_the_action_says_so_and_writes_go_on(admin):
    master = settled(admin)
    replicas = [pod for pod in admin.pods() if pod != master]

    def sentinels_see(priority):
        # Every sentinel, not one: the action asks each in turn, and one that still holds the
        # old priority accepts the failover, then aborts it once its replicas' INFO is fresh.
        for pod in admin.pods():
            replies = admin.client(pod, port=26379).execute_command('SENTINEL', 'REPLICAS', APP)
            seen = [dict(zip(reply[::2], reply[1::2])) for reply in replies]
            if len(seen) != 2 or any(entry[b'slave-priority'] != priority for entry in seen):
                return False
        return True

    for pod in replicas:  # what a stopping pod does: never promoted
        admin.client(pod).config_set('replica-priority', 0)
    try:
        faults.eventually(admin, lambda: sentinels_see(b'0'), 60, 'sentinels keep old priorities')
        record = run_action(admin, admin.leader(), 'failover')
        assert record['status'] == 'failed', record
        assert record['message'] == (
            'no sentinel accepted a failover (last reply: NOGOODSLAVE No suitable replica to '
            'promote); {} stays master'.format(master))
        assert record['results']['old-master']['pod'] == master
        assert 'new-master' not in record['results']
        # The pause ended with the action: a write goes through at once (the pause would hold it
        # far longer than the client's timeout).
        assert admin.client(master).set('after-nogoodslave', 1)
        assert admin.healthy(3) == master
    finally:
        for pod in replicas:
            admin.client(pod).config_set('replica-priority', 100)
    faults.eventually(admin, lambda: sentinels_see(b'100'), 60, 'sentinels keep priority 0')
