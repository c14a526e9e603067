"""A master cut off from the other pods (issue 11): what it may acknowledge, what survives, and
the failover after a scale-down.

The partition (``localmodel partition``) drops the master pod's traffic to and from every other
pod; this test process is not a pod and still reaches it, as a consumer that keeps its
connection would. With ``min-replicas-to-write`` 1 the isolated master must refuse writes
(``NOREPLICAS``) once its replicas' last acknowledgement is older than ``min-replicas-max-lag``,
and once the sentinels on the other side have promoted a replica the leader's operator, which
still reaches it, demotes it (``READONLY``); after the heal the cluster has that one master,
holding every write it acknowledged.
"""

import time

import redis

from testbed import deploy, faults
from testbed.cluster import APP

SUBNET = '127.86'
MAX_LAG_S = 3
CONFIG = dict(deploy.FAST_FAILOVER, **{'min-replicas-max-lag': str(MAX_LAG_S)})


REFUSALS = ('NOREPLICAS', "You can't write against a read only replica")


def _refused_by(client, prefix, until):
    """Write to ``client`` until it refuses (NOREPLICAS, or READONLY once demoted: True) or
    ``until`` passes (False)."""
    index = 0
    while time.monotonic() < until:
        try:
            client.set('{}:{}'.format(prefix, index), index)
        except redis.ResponseError as error:
            if str(error).startswith(REFUSALS):
                return True
            raise
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        index += 1
        time.sleep(0.05)
    return False


def test_isolated_master_refuses_writes_and_the_new_master_keeps_its_own(model, cluster):
    master = faults.eventually(cluster, lambda: cluster.healthy(3), 240, 'not healthy')
    _sentinels_know_every_pod(cluster)
    isolated = cluster.client(master)
    assert isolated.config_get('min-replicas-max-lag')['min-replicas-max-lag'] == str(MAX_LAG_S)
    acknowledged = []
    model.partition(master)
    try:
        at = time.monotonic()
        assert _refused_by(isolated, 'isolated', at + MAX_LAG_S + 20), \
            'the isolated master still acknowledged writes {} s after the partition'.format(
                MAX_LAG_S + 20)
        # The sentinels on the other side promote a replica; this client writes to it there.
        new_master = faults.eventually(cluster, lambda: _promoted(cluster, master), 60,
                                       'no replica promoted while {} was cut off'.format(master))
        writer = cluster.client(new_master)
        deadline = time.monotonic() + 30
        while len(acknowledged) < 200 and time.monotonic() < deadline:
            key = 'promoted:{}'.format(len(acknowledged))
            try:
                writer.set(key, 1)
                acknowledged.append(key)
            except redis.RedisError:  # READONLY until the promotion is done
                time.sleep(0.05)
        # Still refusing: its replicas are gone for good on its side, or it is one of them now.
        assert not _write_accepted(isolated)
    finally:
        model.heal(master)
    after = _one_master_after_the_heal(cluster, master, new_master)
    assert acknowledged, 'the promoted master acknowledged nothing'
    assert cluster.client(after).wait(2, 10000) == 2
    for pod in cluster.pods():
        values = cluster.client(pod).mget(acknowledged)
        missing = [key for key, value in zip(acknowledged, values) if value is None]
        assert missing == [], '{} lacks {} writes the new master acknowledged'.format(
            pod, len(missing))


def test_after_a_scale_down_the_reset_sentinels_fail_over_a_master_cut_off(model, cluster):
    """Until the master watcher resets them, the sentinels count the removed pod's sentinel as a
    voter (3 of 4 votes needed, out of reach across a partition). Reset only while their master
    answers them and just before its INFO, they know the replicas and each other again, and
    then a master cut off with its pod's sentinel is failed over."""
    model.scale(APP, 4)
    assert cluster.wait_healthy(4, timeout=300), model.status()
    model.scale(APP, 3)
    master = cluster.wait_healthy(3, timeout=300)
    assert master, model.status()
    _sentinels_know_every_pod(cluster)
    model.partition(master)
    try:
        new_master = faults.eventually(cluster, lambda: _promoted(cluster, master), 60,
                                       'no replica promoted while {} was cut off'.format(master))
    finally:
        model.heal(master)
    _one_master_after_the_heal(cluster, master, new_master)


def _sentinels_know_every_pod(cluster):
    """Wait until every sentinel knows the other two pods, and no more: a partition before then
    tests the seconds after a deploy or a scale-down (see ``sentinels_know_just_the_pods``)."""
    faults.eventually(cluster, lambda: cluster.sentinels_know_just_the_pods(3),
                      120, 'the sentinels do not know just the pods there are')


def _one_master_after_the_heal(cluster, isolated, promoted):
    """Wait for a healthy cluster under ``promoted``, ``isolated`` its replica; returns it."""
    after = faults.eventually(cluster, lambda: cluster.healthy(3), 240,
                              'not healthy after the heal')
    assert after == promoted
    assert cluster.client(isolated).info('replication')['role'] == 'slave'
    return after


def _promoted(cluster, isolated):
    """The pod a majority of the sentinels names instead of ``isolated``, else None."""
    views = [cluster.pod_of(view[0]) for view in cluster.sentinel_masters().values() if view]
    moved = [pod for pod in views if pod != isolated]
    return moved[0] if len(moved) > len(views) // 2 and len(set(moved)) == 1 else None


def _write_accepted(client):
    try:
        client.set('isolated:last', 1)
        return True
    except redis.ResponseError as error:
        assert str(error).startswith(REFUSALS), error
        return False
