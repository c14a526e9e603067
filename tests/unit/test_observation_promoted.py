"""The promoted replica a snapshot finds, and the memory of instances that timed out, against
fake clients."""

import redis

from redis_k8s import connection, observation, settings

PARSED = settings.parse({}, 3, app_name="mymaster")


def promoted(hosts, connect):
    return observation.observe(hosts, PARSED, "pw", connect).promoted


class Redis:
    def __init__(self, role):
        self.role = role

    def info(self, section):
        assert section == "replication"
        return {"role": self.role}

    def close(self):
        pass


class Sentinel:
    def __init__(self, replicas=(), timeout=False):
        self.replicas = [dict(entry) for entry in replicas]
        self.timeout = timeout
        self.asked = 0

    def execute_command(self, *args):
        self.asked += 1
        if self.timeout:
            raise redis.TimeoutError("Timeout reading from socket")
        assert args == ("SENTINEL", "REPLICAS", "mymaster"), args
        # RESP2 shape: flat key/value lists.
        return [[item for pair in entry.items() for item in pair] for entry in self.replicas]

    def close(self):
        pass


def connect_to(nodes):
    def connect(host, port, password):
        node = nodes.get(host)
        if node is None:
            raise redis.ConnectionError("connection refused")
        return node
    return connect


def replica(host, flags="slave", role="slave"):
    return {"ip": host, "port": "6379", "flags": flags, "role-reported": role}


def test_the_leading_sentinels_promoted_replica_is_the_master_once_it_reports_master():
    nodes = {"a": Sentinel([replica("b"), replica("c")]),
             "b": Sentinel([replica("b"), replica("c", "slave,promoted", "master")])}
    assert promoted(["a", "b", "gone"], connect_to(nodes)) == ("c", 6379)


def test_a_replica_selected_but_not_yet_master_is_not_promoted():
    nodes = {"a": Sentinel([replica("b", "slave,promoted", "slave")]), "b": Redis("slave")}
    assert promoted(["a"], connect_to(nodes)) is None


def test_a_selected_replica_is_not_published_on_its_own_word_the_failover_may_still_abort():
    nodes = {"a": Sentinel([replica("b", "slave,promoted", "slave")]), "b": Redis("master")}
    assert promoted(["a"], connect_to(nodes)) is None


def test_no_failover_means_no_promoted_replica():
    nodes = {"a": Sentinel([replica("b")]), "b": Sentinel([])}
    assert promoted(["a", "b"], connect_to(nodes)) is None


def test_an_instance_that_timed_out_is_not_asked_again_for_a_while(monkeypatch):
    frozen = Sentinel(timeout=True)
    nodes = {"frozen-host": frozen}
    for _ in range(3):
        assert promoted(["frozen-host"], connect_to(nodes)) is None
    assert frozen.asked == 1
    clock = [connection.time.monotonic() + connection.UNANSWERED_S + 1]
    monkeypatch.setattr(connection.time, "monotonic", lambda: clock[0])
    frozen.timeout = False
    promoted(["frozen-host"], connect_to(nodes))
    assert frozen.asked == 2
    assert ("frozen-host", 26379) not in connection._unanswered


def test_a_refused_connection_is_asked_again_at_once():
    calls = []

    def connect(host, port, password):
        calls.append(host)
        raise redis.ConnectionError("connection refused")
    for _ in range(2):
        promoted(["restarting"], connect)
    assert calls == ["restarting", "restarting"]
