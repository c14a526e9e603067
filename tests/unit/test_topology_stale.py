"""Which sentinels remember instances that are gone (removed pods, an old port)."""

import pytest

from redis_k8s import settings as settings_mod
from redis_k8s import topology

HOSTS = ['r-0.r-endpoints.m.svc.cluster.local', 'r-1.r-endpoints.m.svc.cluster.local']


def flat(**fields):
    """A sentinel reply entry as RESP2 gives it: a flat name/value list."""
    out = []
    for name, value in fields.items():
        out += [name, str(value)]
    return out


class FakeSentinel:
    def __init__(self, replicas, sentinels):
        self.replicas, self.sentinels = replicas, sentinels

    def execute_command(self, *args):
        assert args[0] == 'SENTINEL' and args[2] == 'r'
        return {'REPLICAS': self.replicas, 'SENTINELS': self.sentinels}[args[1]]

    def close(self):
        pass


@pytest.fixture
def parsed():
    return settings_mod.parse({}, 2, app_name='r')


def views(per_host):
    def connect(host, port, password):
        return per_host[host]
    return connect


def test_current_pods_on_current_ports_are_not_stale(parsed):
    fresh = {
        HOSTS[0]: FakeSentinel([flat(ip=HOSTS[1], port=6379)], [flat(ip=HOSTS[1], port=26379)]),
        HOSTS[1]: FakeSentinel([], [flat(ip=HOSTS[0], port=26379)]),
    }
    assert topology.stale_sentinels(HOSTS, parsed, 'pw', connect=views(fresh)) == []


def test_old_port_and_removed_pods_are_stale(parsed):
    gone = 'r-2.r-endpoints.m.svc.cluster.local'
    remembered = {
        HOSTS[0]: FakeSentinel([flat(ip=HOSTS[1], port=6380)], []),   # replica on an old port
        HOSTS[1]: FakeSentinel([], [flat(ip=gone, port=26379)]),      # sentinel of a removed pod
    }
    assert topology.stale_sentinels(HOSTS, parsed, 'pw', connect=views(remembered)) == HOSTS
