"""Every option reaches the running pods, on a model where Kubernetes rolls pods only for a new pod
template (ConfigMap and Secret contents change in place, after the kubelet's sync delay).

For each option: `juju config`, then the value is read back from every running redis
(``CONFIG GET``) and sentinel (``SENTINEL MASTER``), and the pods rolled or not, as designed:
options Redis applies live roll nothing (redis-config and sentinel-config lines too, which a
restarted container keeps, and which are undone when removed); the ports roll every pod; a
failover-timeout whose stop would outlast the pods' termination grace period (fixed when Juju
created them) is refused. The tests share one deployment and run in order.
"""

import threading
import time

import pytest
import redis

from conftest import APP
from testbed.load import WriteLoad

SUBNET = '127.98'
NEW_PASSWORD = 'Rotated-Pass-0042'


def pods_state(cluster):
    """What tells a roll or a restart: per pod, its address, pod template hash and restarts."""
    return {name: (pod['address'], pod['spec-hash'],
                   tuple(sorted((c, s.get('restarts', 0)) for c, s in pod['containers'].items())))
            for name, pod in cluster.model.status()['pods'].items() if pod['application'] == APP}


def redis_values(cluster, parameter, port=6379):
    return {pod: cluster.client(pod, port, decode_responses=True).config_get(parameter).get(parameter)
            for pod in cluster.pods()}


def sentinel_values(cluster, field, sentinel_port=26379):
    values = {}
    for pod in cluster.pods():
        state = cluster.client(pod, sentinel_port, decode_responses=True).execute_command(
            'SENTINEL', 'MASTER', APP)
        if isinstance(state, list):
            state = dict(zip(state[::2], state[1::2]))
        values[pod] = str(state.get(field))
    return values


def wait_everywhere(cluster, read, expected, timeout=90):
    """Wait until ``read()`` gives ``expected`` for each of the 3 pods; return the last reading."""
    seen = []

    def check(status):
        try:
            values = read()
        except (redis.RedisError, OSError) as error:
            seen.append(repr(error))
            return None
        seen.append(values)
        return values if len(values) == 3 and set(values.values()) == {expected} else None

    assert cluster.model.wait_for(check, timeout=timeout), 'last reading: {}'.format(seen[-1:])
    return seen[-1]


# option, value set, what to read back (redis CONFIG GET parameter or sentinel field), expected
LIVE = [
    ('maxmemory', '64mb', ('redis', 'maxmemory'), str(64 * 1024 * 1024)),
    ('maxmemory-policy', 'allkeys-lru', ('redis', 'maxmemory-policy'), 'allkeys-lru'),
    ('appendonly', False, ('redis', 'appendonly'), 'no'),
    ('min-replicas-to-write', 2, ('redis', 'min-replicas-to-write'), '2'),
    ('min-replicas-max-lag', 3, ('redis', 'min-replicas-max-lag'), '3'),
    ('down-after-milliseconds', 3000, ('sentinel', 'down-after-milliseconds'), '3000'),
    # A stop that still fits in the grace period the pods were created with: no roll.
    ('failover-timeout', 60000, ('sentinel', 'failover-timeout'), '60000'),
]


def reader(cluster, what, port=6379, sentinel_port=26379):
    kind, name = what
    if kind == 'redis':
        return lambda: redis_values(cluster, name, port)
    return lambda: sentinel_values(cluster, name, sentinel_port)


@pytest.mark.parametrize('option,value,what,expected', LIVE, ids=[option for option, *_ in LIVE])
def test_an_option_redis_applies_live_reaches_every_pod_and_rolls_none(cluster, option, value, what,
                                                                          expected):
    cluster.wait_healthy(3)
    before = pods_state(cluster)
    cluster.model.config(APP, {option: value})
    wait_everywhere(cluster, reader(cluster, what), expected)
    assert pods_state(cluster) == before  # no pod replaced, no container restarted
    assert cluster.wait_healthy(3)
    if option == 'min-replicas-to-write':  # writes need both replicas: back to automatic
        cluster.model.config(APP, reset=[option])
        wait_everywhere(cluster, reader(cluster, what), '1')


def units_blocked_with(cluster, text):
    """A predicate: every unit is blocked with ``text`` in its message."""
    def check(status):
        units = status['applications'][APP]['units'].values()
        return len(units) == 3 and all(unit['workload-status']['current'] == 'blocked'
                                       and text in unit['workload-status']['message'] for unit in units)
    return check


def pod_file_has(cluster, pod, container, path, line):
    """Whether ``path`` in ``pod``'s ``container`` has ``line`` (a ConfigMap file, once synced, or
    the configuration a start script wrote)."""
    rc, out, _ = cluster.model.exec(pod, ['cat', path], container=container)
    return rc == 0 and line in out.splitlines()


def test_custom_configuration_reaches_every_pod_live_survives_a_restart_refuses_a_bad_line_and_is_undone(
        cluster):
    cluster.wait_healthy(3)
    before = pods_state(cluster)
    cluster.model.config(APP, {'redis-config': 'hz 20\n# fewer evictions misjudged\nmaxmemory-samples 7',
                               'sentinel-config': 'parallel-syncs 2'})
    wait_everywhere(cluster, reader(cluster, ('redis', 'hz')), '20')
    wait_everywhere(cluster, reader(cluster, ('redis', 'maxmemory-samples')), '7')
    wait_everywhere(cluster, reader(cluster, ('sentinel', 'parallel-syncs')), '2')
    assert pods_state(cluster) == before  # applied live: no pod replaced, no container restarted
    assert cluster.wait_healthy(3)

    # Kept for restarts: once a replica's files have synced, its restarted containers start
    # with the lines (the start scripts write them into the configuration they run).
    replica = next(pod for pod in cluster.pods() if pod != cluster.master_pod())
    assert cluster.model.wait_for(lambda status: pod_file_has(
        cluster, replica, 'redis', '/etc/redis-k8s/redis.conf', 'hz 20') and pod_file_has(
        cluster, replica, 'sentinel', '/etc/redis-sentinel/sentinel-master.conf',
        'sentinel parallel-syncs {} 2'.format(APP)), timeout=120, interval=2)
    for container in ('redis', 'sentinel'):
        restarts = pods_state(cluster)[replica][2]
        cluster.model.kill(replica, container)
        assert cluster.model.wait_for(lambda status: pods_state(cluster)[replica][2] != restarts,
                                      timeout=60)
    assert cluster.wait_healthy(3)
    assert pod_file_has(cluster, replica, 'redis', '/var/lib/redis/redis.conf', 'maxmemory-samples 7')
    assert pod_file_has(cluster, replica, 'sentinel', '/run/redis-k8s/sentinel/sentinel.conf',
                        'sentinel parallel-syncs {} 2'.format(APP))
    before = pods_state(cluster)

    # An unusable line: every unit blocked naming it; nothing changes on the pods.
    spec = cluster.model.pod_spec(APP)
    cluster.model.config(APP, {'redis-config': 'hz 30\nport 6390'})
    assert cluster.model.wait_for(units_blocked_with(cluster, 'redis-config: line 2 "port 6390"'),
                                  timeout=60)
    cluster.model.wait(timeout=60)
    assert cluster.model.pod_spec(APP) == spec
    assert set(redis_values(cluster, 'hz').values()) == {'20'}
    assert set(sentinel_values(cluster, 'parallel-syncs').values()) == {'2'}
    assert pods_state(cluster) == before

    # The lines removed: Redis' defaults are back everywhere, live.
    cluster.model.config(APP, reset=['redis-config', 'sentinel-config'])
    wait_everywhere(cluster, reader(cluster, ('redis', 'hz')), '10')
    wait_everywhere(cluster, reader(cluster, ('redis', 'maxmemory-samples')), '5')
    wait_everywhere(cluster, reader(cluster, ('sentinel', 'parallel-syncs')), '1')
    assert pods_state(cluster) == before
    assert cluster.wait_healthy(3)


class ReadinessWatch:
    """Samples the model's pods in the background; remembers every sample with a pod not ready."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.not_ready = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.5):
            pods = {name: pod for name, pod in self.cluster.model.status()['pods'].items()
                    if pod['application'] == APP}
            self.samples += 1
            late = sorted(name for name, pod in pods.items() if not pod['ready'])
            if late or len(pods) != 3:
                self.not_ready.append((time.monotonic(), late, len(pods)))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def accepts(cluster, pod, port, password):
    try:
        return cluster.client(pod, port, password=password).ping()
    except redis.AuthenticationError:
        return False
    except redis.ResponseError as error:
        if 'NOAUTH' in str(error) or 'WRONGPASS' in str(error):
            return False
        raise


def test_password_rotation_under_load_keeps_every_probe_green_rolls_no_pod_and_retires_the_old(cluster):
    cluster.wait_healthy(3)
    old = cluster.password()
    before = pods_state(cluster)
    with ReadinessWatch(cluster) as watch:
        with WriteLoad(cluster, prefix='rotation') as load:
            cluster.model.config(APP, {'password': NEW_PASSWORD})

            def consumers_have_it(status):
                data = cluster.all_relation_data()
                return len(data) == 3 and all(d.get('password') == NEW_PASSWORD for d in data)

            assert cluster.model.wait_for(consumers_have_it, timeout=120)
            for pod in cluster.pods():
                for port in (6379, 26379):
                    assert accepts(cluster, pod, port, NEW_PASSWORD), (pod, port)
            written = len(load.acknowledged)
            cluster.model.wait_for(lambda status: len(load.acknowledged) > written + 200, timeout=30)
        # The load's clients kept the old password all along: it stays accepted until every pod's
        # Secret file has synced, then the leader refuses it everywhere. Writes never stopped (single
        # failures are the load's 0.25 s timeouts on this shared machine, not refusals: a refused
        # password would fail every write from then on).
        times = [at for _, at in load.acknowledged]
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
        print('\nrotation under load: {} writes, {} failed, longest pause {:.1f}s'.format(
            len(times), len(load.failures), max(gaps)))
        assert max(gaps) < 10
        assert load.lost() == []

        def old_refused(status):
            return all(not accepts(cluster, pod, port, old)
                       for pod in cluster.pods() for port in (6379, 26379))

        started = time.monotonic()
        assert cluster.model.wait_for(old_refused, timeout=420)
        print('\nold password refused {:.0f}s after the consumers got the new one'.format(
            time.monotonic() - started))
    assert watch.samples > 100 and watch.not_ready == []
    assert pods_state(cluster) == before
    for pod in cluster.pods():
        for port in (6379, 26379):
            assert accepts(cluster, pod, port, NEW_PASSWORD)
    assert cluster.wait_healthy(3)
    master = cluster.master_pod()
    assert cluster.client(master).get('rotation:0') == b'0'


def test_a_failover_timeout_the_pods_grace_period_cannot_cover_is_refused_and_rolls_nothing(cluster):
    # The pods keep the grace period of the first spec (120 s for the default failover-timeout):
    # Juju never changes a StatefulSet's pod-level fields. A failover-timeout whose stop would
    # outlast it is refused with the largest value that fits; that one applies live.
    cluster.wait_healthy(3)
    before = pods_state(cluster)
    spec = cluster.model.pod_spec(APP)
    cluster.model.config(APP, {'failover-timeout': 200000})
    assert cluster.model.wait_for(units_blocked_with(
        cluster, 'failover-timeout: 200000 needs pods that may take 235 s to stop; these pods were '
                 'created with 120 s'), timeout=60)
    cluster.model.wait(timeout=60)
    assert cluster.model.pod_spec(APP) == spec
    assert pods_state(cluster) == before
    assert 'terminationGracePeriodSeconds: 120' in cluster.model.manifests(APP)

    cluster.model.config(APP, {'failover-timeout': 85000})  # the largest the message names
    wait_everywhere(cluster, reader(cluster, ('sentinel', 'failover-timeout')), '85000')
    assert cluster.model.wait_for(lambda status: all(
        unit['workload-status']['current'] == 'active'
        for unit in status['applications'][APP]['units'].values()), timeout=60)
    assert pods_state(cluster) == before
    cluster.model.config(APP, reset=['failover-timeout'])
    wait_everywhere(cluster, reader(cluster, ('sentinel', 'failover-timeout')), '30000')


@pytest.mark.parametrize('option,ports', [
    ('port', {'port': 6380, 'sentinel_port': 26379}),
    ('sentinel-port', {'port': 6380, 'sentinel_port': 26380}),
])
def test_a_port_change_rolls_every_pod_onto_the_new_port(cluster, option, ports):
    before = pods_state(cluster)
    value = ports['port'] if option == 'port' else ports['sentinel_port']
    cluster.model.config(APP, {option: value})

    def rolled(status):
        now = pods_state(cluster)
        return len(now) == 3 and all(now[pod][1] != before[pod][1] for pod in now)

    assert cluster.model.wait_for(rolled, timeout=600)
    assert cluster.wait_healthy(3, timeout=300, **ports)
    assert set(redis_values(cluster, 'port', ports['port']).values()) == {str(ports['port'])}
    assert set(sentinel_values(cluster, 'port', ports['sentinel_port']).values()) == {str(ports['port'])}
