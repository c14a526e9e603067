"""The write fence (templates/fence.sh): a master whose replicas stop answering closes their
links, so that Redis refuses writes well before its own ``min-replicas-max-lag`` would, and takes
writes again once the replicas answer and reconnect; the sentinels, which still reach it, see
nothing wrong with it."""

import signal
import time

import redis

from checks import wait_healthy
from harness import wait_for

FENCED = "closed the replicas' links"


def _noreplicas(client):
    """True once a write is refused with NOREPLICAS; a write acknowledged fails the test."""
    try:
        client.set("refused", "silence")
    except redis.ResponseError as error:
        return str(error).startswith("NOREPLICAS")
    raise AssertionError("a master whose replicas were silent acknowledged a write")


def test_a_master_whose_replicas_fall_silent_refuses_writes_redis_would_still_take(make_cluster):
    # down-after 30 s: the derived min-replicas-max-lag is 28 s, so Redis alone would count a
    # silent replica for half a minute; the fence closes the links after an eighth of down-after.
    cluster = make_cluster(3, down_after_milliseconds=30000)
    master = cluster.pods[0]
    wait_healthy(cluster, master)
    assert master.client().config_get("min-replicas-max-lag")["min-replicas-max-lag"] == "28"
    master.client().set("before", "silence")
    assert FENCED not in master.redis.log_text(), "fenced a healthy cluster"
    replicas = cluster.pods[1:]
    for pod in replicas:
        pod.redis.kill_group(signal.SIGSTOP)
    try:
        wait_for(lambda: FENCED in master.redis.log_text(), 30, what="the fence closing the links")
        assert master.client().info("replication")["connected_slaves"] == 0
        assert _noreplicas(master.client())
    finally:
        for pod in replicas:
            pod.redis.kill_group(signal.SIGCONT)
    wait_for(lambda: master.client().info("replication")["connected_slaves"] == 2, 30,
             what="the replicas linked again")
    wait_for(lambda: master.client().set("after", "silence"), 30, what="a write acknowledged again")
    assert master.client().wait(2, 5000) == 2
    for pod in replicas:
        assert pod.client().get("before") == "silence"


def test_replicas_silent_for_longer_than_down_after_cost_the_master_nothing(make_cluster):
    # down-after 1 s, replicas frozen for 5 s while every sentinel still reaches the master: the
    # fence refuses writes and the sentinels keep it (a pause of its writes would hold their
    # hello and PINGs, and they would fail it over).
    cluster = make_cluster(3)
    master = cluster.pods[0]
    wait_healthy(cluster, master)
    replicas = cluster.pods[1:]
    for pod in replicas:
        pod.redis.kill_group(signal.SIGSTOP)
    try:
        wait_for(lambda: FENCED in master.redis.log_text(), 30, what="the fence closing the links")
        wait_for(lambda: _noreplicas(master.client(socket_timeout=1)), 10,
                 what="a write refused with NOREPLICAS")
        time.sleep(5)
    finally:
        for pod in replicas:
            pod.redis.kill_group(signal.SIGCONT)
    wait_for(lambda: master.client(socket_timeout=1).set("after", "silence"), 30,
             what="a write acknowledged again")
    assert master.client().info("replication")["role"] == "master"
    assert cluster.master_from_sentinels() is master
    assert "+switch-master" not in "".join(pod.sentinel.log_text() for pod in cluster.pods)
