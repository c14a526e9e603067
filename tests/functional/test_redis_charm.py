"""redis-k8s on the local model: real hooks, real redis-server and sentinel processes.

The tests of this module share one deployment and run in order: each leaves the cluster healthy.
"""

import shlex

import pytest
import redis
import yaml

from conftest import APP, CONSUMER
from redis_k8s import settings
from testbed import faults

SUBNET = '127.91'


def test_three_units_one_master_two_replicas_three_sentinels_agree(cluster):
    master = cluster.wait_healthy(3)
    assert master == 'redis-k8s-0'  # the bootstrap rule: pod 0 on first deploy
    roles = cluster.roles()
    assert sorted(info['role'] for info in roles.values()) == ['master', 'slave', 'slave']
    assert set(cluster.sentinel_masters().values()) == {
        ('redis-k8s-0.redis-k8s-endpoints.functional.svc.cluster.local', 6379)}
    for unit in cluster.units().values():
        assert unit['workload-status']['message'] == '3/3 pods, master redis-k8s-0'


def test_a_steady_hook_reads_the_pods_without_loading_redis_py(cluster):
    # Issue 11's hook time: redis-py (with the asyncio it imports) is 50-70 ms of a hook on the
    # operator's Python; a steady hook only reads, which redis_k8s.resp does over a socket.
    cluster.wait_healthy(3)
    report = ('import atexit, runpy, sys; atexit.register(lambda: print("LOADED", '
              '"redis" in sys.modules, "asyncio" in sys.modules)); '
              'sys.argv = ["hooks/update-status"]; '
              'runpy.run_path("hooks/update-status", run_name="__main__")')
    leader = cluster.leader()
    for unit in sorted(cluster.units(), key=lambda name: name != leader):
        rc, out, err = cluster.model.run(unit, 'python3 -c ' + shlex.quote(report), operator=True)
        assert rc == 0, err
        assert out.split()[-3:] == ['LOADED', 'False', 'False'], (unit, out, err)
        assert cluster.units()[unit]['workload-status']['message'] == \
            '3/3 pods, master redis-k8s-0'


def test_replicas_hold_what_the_master_acknowledged(cluster):
    master = cluster.client(cluster.master_pod())
    for index in range(100):
        master.set('sync:{}'.format(index), index)
    assert master.wait(2, 5000) == 2
    for pod in cluster.pods():
        assert cluster.client(pod).get('sync:99') == b'99'


def test_consumer_gets_current_master_with_password_and_sentinels(cluster):
    master = cluster.master_pod()

    def published_by_all(status):
        data = cluster.all_relation_data()
        return data if len(data) == 3 and all(unit.get('host') for unit in data) else None

    everyone = cluster.model.wait_for(published_by_all, timeout=60)
    for data in everyone:  # every unit publishes the same
        assert cluster.pod_of(data['host']) == master
        assert data['hostname'] == data['host']
        assert data['port'] == '6379'
        assert data['password'] == cluster.password()
        assert data['sentinel-port'] == '26379'
        assert data['master-name'] == APP
        assert [cluster.pod_of(host) for host in data['sentinel-hosts'].split(',')] == cluster.pods()
    status = cluster.model.unit_status(CONSUMER + '/0')
    assert status['workload-status']['current'] == 'active'
    assert 'redis-k8s-0' in status['workload-status']['message']
    # The key the legacy consumer wrote through the endpoint it was given is really there.
    assert cluster.client(master).get('redis-consumer:redis-consumer/0') == \
        b'written by redis-consumer/0'


def test_client_without_password_is_refused(cluster):
    master = cluster.master_pod()
    with pytest.raises(redis.AuthenticationError):
        cluster.client(master, password='').ping()
    with pytest.raises(redis.AuthenticationError):
        cluster.client(master, password='wrong-password').ping()
    sentinel = cluster.client(master, port=26379, password='')
    with pytest.raises(redis.AuthenticationError):
        sentinel.ping()


def test_password_is_in_a_secret_not_in_the_spec_or_config_maps(cluster):
    secret = cluster.password()
    assert len(secret) >= 16
    spec = cluster.model.pod_spec(APP)
    assert secret not in spec
    documents = [doc for doc in yaml.safe_load_all(cluster.model.manifests(APP)) if doc]
    for doc in documents:
        if doc['kind'] == 'ConfigMap':
            assert secret not in yaml.safe_dump(doc)
    assert any(doc['kind'] == 'Secret' for doc in documents)
    assert secret not in cluster.model.debug_log()


def pods_identity(cluster):
    status = cluster.model.status()['pods']
    return {name: (pod['address'], sum(c['restarts'] for c in pod['containers'].values()))
            for name, pod in status.items() if pod['application'] == APP}


@pytest.mark.parametrize('option, value', [
    ('port', '70000'),
    ('port', '26379'),  # the sentinel port
    ('down-after-milliseconds', '-5'),
    ('maxmemory-policy', 'sometimes'),
])
def test_invalid_config_blocks_naming_the_option_and_keeps_everything(cluster, option, value):
    spec_before = cluster.model.pod_spec(APP)
    pods_before = pods_identity(cluster)
    cluster.client(cluster.master_pod()).set('survives-bad-config', option)
    cluster.model.config(APP, {option: value})
    try:
        def blocked(status):
            units = status['applications'][APP]['units'].values()
            return all(unit['workload-status']['current'] == 'blocked' for unit in units)
        cluster.model.wait_for(blocked, timeout=60)
        for unit in cluster.units().values():
            assert option in unit['workload-status']['message']
        cluster.model.wait(timeout=60)
        assert cluster.model.pod_spec(APP) == spec_before
        assert pods_identity(cluster) == pods_before
    finally:
        cluster.model.config(APP, reset=[option])
    assert cluster.wait_healthy(3)
    assert cluster.client(cluster.master_pod()).get('survives-bad-config') == option.encode()


def test_port_change_moves_the_listener_end_to_end(cluster):
    cluster.client(cluster.master_pod()).set('before-port-change', 'kept')
    cluster.model.config(APP, {'port': '6380'})
    try:
        master = cluster.wait_healthy(3, timeout=240, port=6380)
        assert master
        assert cluster.model.wait_for(lambda status: cluster.relation_points_at(master, 6380),
                                      timeout=60)
        for pod in cluster.pods():
            with pytest.raises(redis.ConnectionError):
                cluster.client(pod, port=6379).ping()
            assert cluster.client(pod, port=6380).get('before-port-change') == b'kept'
        assert cluster.model.wait_for(
            lambda status: ':6380' in status['applications'][CONSUMER]['units'][CONSUMER + '/0']
            ['workload-status']['message'], timeout=60)
    finally:
        cluster.model.config(APP, reset=['port'])
    master = cluster.wait_healthy(3, timeout=240)
    assert master
    assert cluster.client(master).get('before-port-change') == b'kept'


def test_password_change_reaches_pods_and_consumers_without_losing_data(cluster):
    generated = cluster.password()
    cluster.client(cluster.master_pod()).set('before-password-change', 'kept')
    cluster.model.config(APP, {'password': 'Configured-Pass-42'})
    try:
        assert cluster.model.wait_for(lambda status: cluster.password() == 'Configured-Pass-42',
                                      timeout=120)
        master = cluster.wait_healthy(3, timeout=240)
        assert master
        assert cluster.model.wait_for(
            lambda status: cluster.relation_data().get('password') == 'Configured-Pass-42',
            timeout=60)
        assert cluster.client(master).get('before-password-change') == b'kept'
        # The old password stays accepted until every pod's Secret file has synced (live.SECRET_SYNC_S),
        # then the next leader hook refuses it (tests/functional/test_options.py pins the details).
        def old_refused(status):
            try:
                cluster.client(master, password=generated).ping()
            except redis.AuthenticationError:
                return True
            return False
        assert cluster.model.wait_for(old_refused, timeout=420)
        assert cluster.model.wait_for(
            lambda status: status['applications'][CONSUMER]['units'][CONSUMER + '/0']
            ['workload-status']['current'] == 'active', timeout=60)
    finally:
        cluster.model.config(APP, reset=['password'])
    assert cluster.model.wait_for(lambda status: cluster.password() == generated, timeout=120)
    assert cluster.wait_healthy(3, timeout=240)


def test_scaling_keeps_a_known_master_and_the_data(cluster):
    master = cluster.client(cluster.master_pod())
    for index in range(50):
        master.set('scale:{}'.format(index), index)
    for count in (5, 3, 1, 3):
        cluster.model.scale(APP, count)
        pod = cluster.wait_healthy(count, timeout=300)
        assert pod, 'not healthy at {} units: {}'.format(count, cluster.model.status())
        assert cluster.model.wait_for(lambda status: cluster.relation_points_at(pod), timeout=60)
        client = cluster.client(pod)
        assert [client.get('scale:{}'.format(i)) for i in (0, 49)] == [b'0', b'49']
        assert cluster.model.wait_for(lambda status: sentinels_know(cluster, count), timeout=90), \
            [cluster.client(p, port=26379).sentinel_master(APP) for p in cluster.pods()]


def sentinels_know(cluster, count):
    """Every sentinel has the quorum for ``count`` units and knows exactly the live pods."""
    try:
        quorums = {cluster.client(pod, port=26379).sentinel_master(APP)['quorum']
                   for pod in cluster.pods()}
    except redis.RedisError:
        return False
    return quorums == {settings.expected_quorum(count)} and \
        cluster.sentinels_know_just_the_pods(count)


def test_removing_the_leaders_unit_keeps_the_service_and_the_relation(cluster):
    # Unit numbers are never reused (the scaling above made new ones): the unit a scale-down
    # removes is the one on the highest ordinal, pod redis-k8s-2.
    units = cluster.model.status()['applications'][APP]['units']
    leaving = next(u for u, rec in units.items() if rec.get('provider-id') == APP + '-2')
    cluster.model.move_leader(APP, leaving)
    cluster.model.wait(timeout=120)
    assert cluster.leader() == leaving
    cluster.client(cluster.master_pod()).set('before-leader-removal', 'kept')
    cluster.model.scale(APP, 2)  # removes the leader's unit and its pod
    pod = cluster.wait_healthy(2, timeout=240)
    assert pod, cluster.model.status()
    assert cluster.leader() in set(units) - {leaving}
    assert cluster.model.wait_for(lambda status: cluster.relation_points_at(pod), timeout=60)
    assert cluster.client(pod).get('before-leader-removal') == b'kept'
    # The new leader follows failovers too: a forced failover, and the relation moves on. Once
    # the sentinels forgot the removed pod (the master watcher resets them one at a time); a
    # sentinel just reset knows its replica only after its first INFO: NOGOODSLAVE meanwhile.
    assert cluster.model.wait_for(lambda status: sentinels_know(cluster, 2), timeout=90)
    sentinel = cluster.client(pod, port=26379)
    assert cluster.model.wait_for(lambda status: faults.failover_started(sentinel, APP),
                                  timeout=30)
    other = [name for name in cluster.pods() if name != pod][0]
    assert cluster.model.wait_for(
        lambda status: cluster.healthy(2) == other and cluster.relation_points_at(other),
        timeout=120)
    assert cluster.client(other).get('before-leader-removal') == b'kept'
