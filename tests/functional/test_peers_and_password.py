"""The peer relation carries the master record, every unit follows it, and a password change
reaches consumers only once every pod accepts it: on the local model, real hooks and pods.

The tests share one deployment and run in order; each leaves the cluster healthy.
"""

import json
import os
import signal
import time

import redis

from conftest import APP, CONSUMER
from testbed import faults
from localmodel.runtime import linux

SUBNET = '127.90'  # 127.93 and 127.95 are bench's, 127.94 chaos'
NEW_PASSWORD = 'Pod-Down-Pass-0077'
# A frozen pod's liveness probe fails 6 times, 10 s apart plus a 5 s timeout each, before its
# containers are restarted: the freeze stays shorter, so the pod is unreachable, not replaced.
FREEZE_LIMIT_S = 55


def peer_record(cluster):
    """The leader's master record in the peer application data, as a non-leader reads it."""
    unit = next(name for name, unit in cluster.units().items() if not unit.get('leader'))
    command = ('relation-get --format=json --app -r $(relation-ids redis-peers | head -1) - '
               + APP)
    rc, out, err = cluster.model.run(unit, command, operator=True)
    assert rc == 0, err
    return json.loads(out)


def peer_views(cluster):
    """``{unit: its peer unit data}``: which master each unit last gave its consumers."""
    leader = cluster.leader()
    command = ('id=$(relation-ids redis-peers | head -1); for u in $(relation-list -r $id); do '
               'echo "$u $(relation-get --format=json -r $id - $u)"; done; '
               'echo "{} $(relation-get --format=json -r $id - {})"'.format(leader, leader))
    rc, out, err = cluster.model.run(leader, command, operator=True)
    assert rc == 0, err
    views = {}
    for line in out.splitlines():
        unit, _, data = line.partition(' ')
        views[unit] = json.loads(data)
    return views


def fqdn(pod):
    return '{}.{}-endpoints.functional.svc.cluster.local'.format(pod, APP)


def test_the_leader_records_the_master_with_an_epoch_and_every_unit_publishes_it(cluster):
    master = cluster.wait_healthy(3)
    record = peer_record(cluster)
    assert record['master-host'] == fqdn(master) and record['master-port'] == '6379'
    epoch = int(record['master-epoch'])
    assert epoch >= 1
    # Each unit publishes in its first redis relation hook; on a loaded machine the units' first
    # hooks take minutes to run through (one hook at a time per operator).
    assert cluster.model.wait_for(lambda status: len(peer_views(cluster)) == 3 and all(
        view.get('published-master') == '{}:6379'.format(fqdn(master))
        and view.get('published-epoch') == str(epoch) for view in peer_views(cluster).values()),
        timeout=300)


def test_every_unit_publishes_its_own_pod_and_the_role_of_its_redis(cluster):
    master = cluster.wait_healthy(3)

    def each_unit_names_its_pod(status):
        views = peer_views(cluster)
        # Juju links unit and pod by provider id (the unit numbers need not be the ordinals).
        linked = {name: unit.get('provider-id') for name, unit in cluster.units().items()}
        return len(views) == 3 and all(
            view.get('pod') == linked[unit]
            and view.get('role') == ('master' if view.get('pod') == master else 'replica')
            for unit, view in views.items())

    assert cluster.model.wait_for(each_unit_names_its_pod, timeout=300)


def test_after_a_failover_the_epoch_grows_and_every_unit_republishes_the_new_master(cluster):
    old = cluster.wait_healthy(3)
    epoch = int(peer_record(cluster)['master-epoch'])
    target = next(pod for pod in cluster.pods() if pod != old)
    faults.move_master(cluster, target)
    started = time.monotonic()

    def every_unit_publishes_it(status):
        data = cluster.all_relation_data()
        return len(data) == 3 and all(d.get('host') == fqdn(target) for d in data)

    assert cluster.model.wait_for(every_unit_publishes_it, timeout=60)
    print('\nevery unit published {} {:.1f}s after the failover'.format(
        target, time.monotonic() - started))
    record = peer_record(cluster)
    assert record['master-host'] == fqdn(target) and int(record['master-epoch']) > epoch
    assert cluster.wait_healthy(3)


def _processes(cluster, pod):
    """``[(pid, start time)]`` of the pod's redis-server and redis-sentinel, by process title."""
    address = cluster.model.pod_address(pod)
    wanted = ('{}:6379'.format(address), '{}:26379'.format(address))
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/{}/cmdline'.format(entry), 'rb') as handle:
                title = handle.read().replace(b'\0', b' ').decode(errors='replace').strip()
        except OSError:
            continue
        if title.split(' ')[0] in ('redis-server', 'redis-sentinel') and \
                any(title.split(' ')[1:2] == [w] for w in wanted):
            found.append((int(entry), linux.starttime(int(entry))))
    assert len(found) == 2, (pod, found)
    return found


def consumer_changes(cluster):
    """How many redis-relation-changed hooks the consumer has run."""
    return sum(1 for hook, unit, _ in cluster.model.hook_runs()
               if unit == CONSUMER + '/0' and hook == 'redis-relation-changed')


def accepts(cluster, pod, port, password):
    try:
        return cluster.client(pod, port, password=password).ping()
    except redis.AuthenticationError:
        return False
    except redis.ResponseError as error:
        if 'NOAUTH' in str(error) or 'WRONGPASS' in str(error):
            return False
        raise


def consumer_status_now(cluster):
    """The consumer's status after a hook of its own run now (update-status: it writes and reads
    in every hook), not whatever its last hook met: a write right after the previous test's
    failover meets NOREPLICAS until a replica has attached to the new master."""
    rc, _, err = cluster.model.run(CONSUMER + '/0', 'hooks/update-status', operator=True)
    assert rc == 0, err
    return cluster.model.unit_status(CONSUMER + '/0')['workload-status']


def test_a_password_change_with_a_pod_down_reaches_consumers_once_every_pod_accepts_it(cluster):
    cluster.wait_healthy(3)
    assert consumer_status_now(cluster)['current'] == 'active'
    old = cluster.password()
    down = next(pod for pod in reversed(cluster.pods()) if pod != cluster.master_pod())
    processes = _processes(cluster, down)
    for pid, _ in processes:
        os.kill(pid, signal.SIGSTOP)
    frozen_at = time.monotonic()
    try:
        cluster.model.config(APP, {'password': NEW_PASSWORD})
        assert cluster.model.wait_for(
            lambda status: cluster.leader_get('secret-password') == NEW_PASSWORD, timeout=30)
        assert time.monotonic() - frozen_at < FREEZE_LIMIT_S
        assert cluster.leader_get('active-password') == old
        assert {d.get('password') for d in cluster.all_relation_data()} == {old}
        for pod in cluster.pods():
            if pod != down:
                for port in (6379, 26379):
                    assert accepts(cluster, pod, port, old), (pod, port)
                    assert accepts(cluster, pod, port, NEW_PASSWORD), (pod, port)
        consumer = consumer_status_now(cluster)
        assert consumer['current'] == 'active', consumer
    finally:
        for pid, start in processes:
            faults.resume(pid, start)
    resumed = time.monotonic()
    changes_before = consumer_changes(cluster)

    # No one acts: a later leader hook (the watcher's, or update-status) finds every pod and
    # gives consumers the new password; the relation changes exactly then.
    def consumers_have_it(status):
        data = cluster.all_relation_data()
        return len(data) == 3 and all(d.get('password') == NEW_PASSWORD for d in data)

    assert cluster.model.wait_for(consumers_have_it, timeout=240)
    print('\nconsumers got the new password {:.0f}s after the pod came back'.format(
        time.monotonic() - resumed))
    for pod in cluster.pods():
        for port in (6379, 26379):
            assert accepts(cluster, pod, port, NEW_PASSWORD), (pod, port)
            # Clients still on the old one have SECRET_SYNC_S from now to follow.
            assert accepts(cluster, pod, port, old), (pod, port)

    # The consumer's relation-changed hook that brought it connected with it at once: the
    # consumer ran such a hook since the pod came back and is active, long before its next
    # update-status.
    def consumer_followed(status):
        unit = status['applications'][CONSUMER]['units'][CONSUMER + '/0']
        return consumer_changes(cluster) > changes_before and \
            unit['workload-status']['current'] == 'active'

    assert cluster.model.wait_for(consumer_followed, timeout=30)
    assert cluster.password() == NEW_PASSWORD
    assert cluster.wait_healthy(3)
