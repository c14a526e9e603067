"""The backup, list-backups and restore actions on one deployed three-unit cluster (issue 13).

Real redis-server and sentinel processes; the actions run in the units' workload pods as on a
real Juju 2.9 Kubernetes model. The tests run in order on the same cluster: backups first, then
the restores and the refusals, then the cluster's health.
"""

import shlex

import pytest

from conftest import APP, CONSUMER
from testbed import faults

SUBNET = '127.88'
ACTION_WAIT = 180


def unit_of(cluster, pod):
    return next(name for name, unit in cluster.units().items() if unit.get('provider-id') == pod)


def run(cluster, unit, action, **params):
    return cluster.model.run_action(unit, action, params=params, wait=ACTION_WAIT)


def completed(record):
    assert record['status'] == 'completed', record
    return record['results']


def failed(record):
    assert record['status'] == 'failed', record
    return record['message']


def in_pod(cluster, pod, command):
    rc, out, err = cluster.model.exec(pod, command, container='redis')
    assert rc == 0, (command, out, err)
    return out


def dataset(cluster, pod):
    """``{key: value}`` of a pod's redis (string keys only: the tests write nothing else)."""
    client = cluster.client(pod)
    return {key.decode(): client.get(key).decode() for key in client.keys('*')}


def config_epoch(cluster, pod):
    reply = cluster.client(pod, 26379).execute_command('SENTINEL', 'MASTER', APP)
    fields = dict(zip(reply[::2], reply[1::2]))
    return int(fields[b'config-epoch'])


@pytest.fixture(scope='module')
def state(cluster):
    """What the tests pass on: the master, a replica, the backups taken, the sentinels' epoch."""
    master = faults.eventually(cluster, lambda: cluster.healthy(3), 120, 'not healthy')
    replica = next(pod for pod in cluster.pods() if pod != master)
    # The consumer writes a key of its own on its hooks (update-status too): without the relation
    # the dataset is the tests' alone.
    cluster.model.remove_relation(APP, CONSUMER)
    cluster.model.wait(timeout=180)
    client = cluster.client(master)
    client.flushall()
    for i in range(50):
        client.set('before:{}'.format(i), str(i))
    client.execute_command('WAIT', 2, 5000)
    return {'master': master, 'replica': replica, 'epoch': config_epoch(cluster, master),
            'backups': {}}


def check_stored(cluster, pod, results):
    """The backup's file is in the pod's storage, with the size and sha256 the results give."""
    path = results['path']
    assert path.startswith('/var/lib/redis/backups/') and path.endswith('/' + results['name'].split('/')[-1] + '.rdb')
    out = in_pod(cluster, pod, 'wc -c < {0}; sha256sum {0}'.format(shlex.quote(path)))
    size, sha = out.split()[0], out.split()[1]
    assert size == results['size'] and sha == results['sha256']
    assert int(results['offset']) > 0 and len(results['repl-id']) == 40
    assert results['keys'] == '50'


def test_backup_on_the_master_unit(cluster, state):
    results = completed(run(cluster, unit_of(cluster, state['master']), 'backup'))
    assert results['role'] == 'master'
    check_stored(cluster, state['master'], results)
    state['backups']['master'] = results


def test_backup_on_a_replica_unit_in_a_subdirectory(cluster, state):
    results = completed(run(cluster, unit_of(cluster, state['replica']), 'backup', path='nightly/one'))
    assert results['role'] == 'replica'
    assert results['name'].startswith('nightly/one/')
    assert results['path'].startswith('/var/lib/redis/backups/nightly/one/')
    check_stored(cluster, state['replica'], results)
    # The replica had caught up: its snapshot reflects the master's offset when the backup began.
    assert int(results['offset']) >= int(state['backups']['master']['offset'])
    state['backups']['replica'] = results


def test_list_backups_shows_each_units_own(cluster, state):
    for role in ('master', 'replica'):
        taken = state['backups'][role]
        results = completed(run(cluster, unit_of(cluster, state[role]), 'list-backups'))
        assert results['count'] == '1'
        listed = results['backups']['1']
        assert {k: listed[k] for k in ('name', 'size', 'sha256', 'offset', 'path')} == \
            {k: taken[k] for k in ('name', 'size', 'sha256', 'offset', 'path')}
        assert state[role] in results['storage']


@pytest.mark.parametrize('path, reason', [
    ('../elsewhere', "'..'"),
    ('/tmp/x', 'absolute'),
    ('a b', 'characters'),
    ('a//b', 'empty component'),
])
def test_backup_refuses_a_bad_path(cluster, state, path, reason):
    message = failed(run(cluster, unit_of(cluster, state['master']), 'backup', path=path))
    assert reason in message and path in message
    listed = in_pod(cluster, state['master'], 'find /var/lib/redis/backups -name "*.rdb" | wc -l')
    assert listed.strip() == '1'


def test_restore_brings_every_pod_to_the_backup(cluster, state):
    backup = state['backups']['replica']
    master = cluster.client(state['master'])
    for i in range(20):
        master.set('after:{}'.format(i), 'x')
    master.delete('before:0', 'before:1')
    master.set('before:2', 'changed')
    master.execute_command('WAIT', 2, 5000)
    # Run on the replica's unit: its storage holds the backup, the master is another pod.
    results = completed(run(cluster, unit_of(cluster, state['replica']), 'restore', name=backup['name']))
    assert results['master'] == state['master']
    assert results['keys'] == results['backup-keys'] == '50'
    expected = {'before:{}'.format(i): str(i) for i in range(50)}
    for pod in cluster.pods():
        assert dataset(cluster, pod) == expected, pod
    # Writes go on, and replicate, on the restored dataset.
    master.set('written-after-restore', 'yes')
    assert master.execute_command('WAIT', 2, 5000) == 2
    for pod in cluster.pods():
        assert cluster.client(pod).get('written-after-restore') == b'yes', pod


def test_restore_of_a_missing_backup_fails(cluster, state):
    message = failed(run(cluster, unit_of(cluster, state['master']), 'restore', name='no-such-backup'))
    assert 'no backup named "no-such-backup"' in message and 'nothing was changed' in message


def test_restore_refuses_a_bad_name(cluster, state):
    message = failed(run(cluster, unit_of(cluster, state['master']), 'restore', name='../redis'))
    assert "'..'" in message


def corrupt(cluster, pod, path):
    in_pod(cluster, pod, 'printf XXXX | dd of={} bs=1 seek=120 conv=notrunc 2>/dev/null'.format(
        shlex.quote(path)))


def test_restore_of_a_corrupted_backup_fails_and_changes_nothing(cluster, state):
    backup = state['backups']['master']
    master = cluster.client(state['master'])
    master.set('marker', 'kept')
    master.execute_command('WAIT', 2, 5000)
    before = {pod: dataset(cluster, pod) for pod in cluster.pods()}
    corrupt(cluster, state['master'], backup['path'])
    unit = unit_of(cluster, state['master'])
    message = failed(run(cluster, unit, 'restore', name=backup['name']))
    assert 'is corrupt' in message and 'sha256' in message and 'nothing was changed' in message
    # The metadata made to match the damaged file: redis-check-rdb still refuses it.
    sha = in_pod(cluster, state['master'], 'sha256sum {}'.format(shlex.quote(backup['path']))).split()[0]
    meta = backup['path'][:-len('.rdb')] + '.meta'
    in_pod(cluster, state['master'], "sed -i 's/^sha256=.*/sha256={}/' {}".format(sha, shlex.quote(meta)))
    message = failed(run(cluster, unit, 'restore', name=backup['name']))
    assert 'is corrupt' in message and 'redis-check-rdb' in message and 'nothing was changed' in message
    assert {pod: dataset(cluster, pod) for pod in cluster.pods()} == before


def test_the_cluster_is_healthy_and_no_failover_happened(cluster, state):
    assert faults.eventually(cluster, lambda: cluster.healthy(3), 60, 'not healthy') == state['master']
    assert all(cluster.pod_of(view[0]) == state['master'] for view in cluster.sentinel_masters().values())
    assert {config_epoch(cluster, pod) for pod in cluster.pods()} == {state['epoch']}
