"""The fake cluster answers through redis-py's own parsers as real pods would."""

import pytest
import redis

from fake_cluster import FakeCluster, FakeRedis

HOST = 'app-{}.app-endpoints.model.svc.cluster.local'


@pytest.fixture
def cluster(monkeypatch):
    cluster = FakeCluster(size=3, master=0)
    monkeypatch.setattr(FakeRedis, 'cluster', cluster)
    return cluster


def client(ordinal, port=6379):
    return FakeRedis(host=HOST.format(ordinal), port=port, decode_responses=True)


def test_replies_are_parsed_by_redis_py(cluster):
    assert client(0).ping() is True
    assert client(0).info('replication')['role'] == 'master'
    replica = client(1).info('replication')
    assert (replica['role'], replica['master_host'], replica['master_link_status']) == (
        'slave', HOST.format(0), 'up')
    assert client(2).config_get('maxmemory*') == {'maxmemory': '0', 'maxmemory-policy': 'noeviction'}
    assert client(1, 26379).execute_command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'app') == [
        HOST.format(0), '6379']


def test_a_failover_moves_every_view_and_the_old_master_is_unreachable(cluster):
    cluster.fail_over(to=2)

    assert client(0, 26379).execute_command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'app')[0] == \
        HOST.format(2)
    assert client(1).info('replication')['master_host'] == HOST.format(2)
    with pytest.raises(redis.ConnectionError):
        client(0).ping()
    assert cluster.master() == 2


def test_writes_are_kept_and_recorded(cluster):
    client(1).config_set('maxmemory', '1048576')
    pipe = client(2, 26379).pipeline()
    pipe.execute_command('SENTINEL', 'SET', 'app', 'quorum', '3')
    assert pipe.execute() == ['OK']

    assert cluster.pods[1].config['maxmemory'] == '1048576'
    assert cluster.pods[2].sentinel_settings['quorum'] == '3'
    assert [c[0] for c in cluster.sent('SENTINEL', 'SET')] == [2]


def test_an_unknown_pod_or_no_cluster_does_not_answer(cluster, monkeypatch):
    with pytest.raises(redis.ConnectionError):
        FakeRedis(host='elsewhere.example', port=6379).ping()
    monkeypatch.setattr(FakeRedis, 'cluster', None)
    with pytest.raises(redis.ConnectionError):
        client(0).ping()
