"""The write fence (templates/fence.sh): a master whose replicas stop answering holds writes
well before Redis' own ``min-replicas-max-lag`` would refuse them, and lets them through again
once the replicas answer."""

import signal

import pytest
import redis

from checks import wait_healthy
from harness import wait_for

HOLDING = "holding writes"
RELEASED = "writes no longer held"


def test_a_master_whose_replicas_fall_silent_holds_writes_redis_would_still_take(make_cluster):
    # down-after 30 s: the derived min-replicas-max-lag is 28 s, so Redis counts a silent replica
    # for half a minute; the fence holds writes after an eighth of down-after (3.75 s).
    cluster = make_cluster(3, down_after_milliseconds=30000)
    master = cluster.pods[0]
    wait_healthy(cluster, master)
    assert master.client().config_get("min-replicas-max-lag")["min-replicas-max-lag"] == "28"
    master.client().set("before", "silence")
    assert HOLDING not in master.redis.log_text(), "held writes on a healthy cluster"
    replicas = cluster.pods[1:]
    for pod in replicas:
        pod.redis.kill_group(signal.SIGSTOP)
    try:
        wait_for(lambda: HOLDING in master.redis.log_text(), 30, what="the master holding writes")
        # Redis itself still counts both replicas (their last ACK is younger than 28 s): the
        # write would be acknowledged; it is held instead.
        assert master.client().info("replication")["min_slaves_good_slaves"] == 2
        with pytest.raises(redis.TimeoutError):
            master.client(socket_timeout=1.5).set("held", "silence")
        assert master.client().info("replication")["role"] == "master"
    finally:
        for pod in replicas:
            pod.redis.kill_group(signal.SIGCONT)
    wait_for(lambda: RELEASED in master.redis.log_text(), 30, what="the hold ending")
    wait_for(lambda: master.client(socket_timeout=1).set("after", "silence"), 30,
             what="a write acknowledged again")
    assert master.client().wait(2, 5000) == 2
    for pod in replicas:
        assert pod.client().get("before") == "silence"
