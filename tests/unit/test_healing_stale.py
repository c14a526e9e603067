"""Which sentinels remember instances that are gone (removed pods, an old port)."""

import pytest
import redis

from redis_k8s import healing, observation
from redis_k8s import settings as settings_mod

HOSTS = ['r-0.r-endpoints.m.svc.cluster.local', 'r-1.r-endpoints.m.svc.cluster.local']


def flat(**fields):
    """A sentinel reply entry as RESP2 gives it: a flat name/value list."""
    out = []
    for name, value in fields.items():
        out += [name, str(value)]
    return out


class FakeSentinel:
    def __init__(self, replicas, sentinels, master=HOSTS[0]):
        self.replicas, self.sentinels, self.master = replicas, sentinels, master

    def execute_command(self, *args):
        assert args[0] == 'SENTINEL' and args[2] == 'r'
        if args[1] == 'GET-MASTER-ADDR-BY-NAME':
            return [self.master, '6379']
        return {'REPLICAS': self.replicas, 'SENTINELS': self.sentinels,
                'MASTER': ['ip', self.master, 'port', '6379', 'flags', 'master']}[args[1]]

    def close(self):
        pass


@pytest.fixture
def parsed():
    return settings_mod.parse({}, 2, app_name='r')


class Answering:
    def ping(self):
        return True

    def info(self, section=None):
        return {'role': 'master', 'loading': 0}

    def close(self):
        pass


def stale(parsed, connect):
    return healing.stale_sentinels(observation.observe(HOSTS, parsed, 'pw', connect))


def views(per_host, answering=()):
    """Sentinels per host on 26379; ``answering`` (host, port) pairs answer PING; nothing else does."""
    def connect(host, port, password):
        if port == 26379 and host in per_host:
            return per_host[host]
        if port == 6379 and host in per_host:
            return Answering()  # every pod's redis is up on the configured port
        if (host, port) in answering:
            return Answering()
        raise redis.ConnectionError('connection refused')
    return connect


def test_current_pods_on_current_ports_are_not_stale(parsed):
    fresh = {
        HOSTS[0]: FakeSentinel([flat(ip=HOSTS[1], port=6379)], [flat(ip=HOSTS[1], port=26379)]),
        HOSTS[1]: FakeSentinel([], [flat(ip=HOSTS[0], port=26379)]),
    }
    assert stale(parsed, views(fresh)) == []


def test_old_port_and_removed_pods_are_stale(parsed):
    gone = 'r-2.r-endpoints.m.svc.cluster.local'
    remembered = {
        HOSTS[0]: FakeSentinel([flat(ip=HOSTS[1], port=6380)], []),   # replica on an old port
        HOSTS[1]: FakeSentinel([], [flat(ip=gone, port=26379)]),      # sentinel of a removed pod
    }
    assert stale(parsed, views(remembered)) == HOSTS


def test_an_old_port_still_served_mid_roll_is_not_stale(parsed):
    remembered = {
        HOSTS[0]: FakeSentinel([flat(ip=HOSTS[1], port=6380)], []),
        HOSTS[1]: FakeSentinel([], []),
    }
    connect = views(remembered, answering={(HOSTS[1], 6380)})
    assert stale(parsed, connect) == []


def test_nothing_is_stale_while_a_pod_does_not_answer_on_the_configured_port(parsed):
    remembered = {
        HOSTS[0]: FakeSentinel([flat(ip=HOSTS[1], port=6380)], []),
        HOSTS[1]: FakeSentinel([], []),
    }
    connect = views(remembered)

    def restarting(host, port, password):
        if host == HOSTS[1] and port == 6379:
            raise redis.ConnectionError('connection refused')
        return connect(host, port, password)
    assert stale(parsed, connect) == [HOSTS[0]]
    assert stale(parsed, restarting) == []


def test_nothing_is_stale_while_the_sentinels_follow_a_departed_master(parsed):
    gone = 'r-2.r-endpoints.m.svc.cluster.local'
    remembered = {
        HOSTS[0]: FakeSentinel([flat(ip=HOSTS[1], port=6379)], [flat(ip=gone, port=26379)], master=gone),
        HOSTS[1]: FakeSentinel([flat(ip=HOSTS[0], port=6379)], [flat(ip=gone, port=26379)], master=gone),
    }
    assert stale(parsed, views(remembered)) == []


def test_nothing_is_stale_while_a_pod_is_still_loading_its_dataset(parsed):
    remembered = {
        HOSTS[0]: FakeSentinel([flat(ip=HOSTS[1], port=6380)], []),
        HOSTS[1]: FakeSentinel([], []),
    }
    connect = views(remembered)

    class Loading(Answering):
        def info(self, section=None):
            return {'role': 'slave', 'loading': 1}

    def loading(host, port, password):
        if host == HOSTS[1] and port == 6379:
            return Loading()
        return connect(host, port, password)
    assert stale(parsed, loading) == []
