"""The promoted replica a snapshot finds, and the memory of instances that timed out, against
fake clients."""

import redis

from redis_k8s import connection, observation, settings

PARSED = settings.parse({}, 3, app_name="mymaster")


def promoted(hosts, connect, parsed=PARSED):
    return observation.observe(hosts, parsed, "pw", connect).promoted


class Redis:
    def __init__(self, role):
        self.role = role

    def info(self, section=None):
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
        # RESP2 shape: flat key/value lists.
        if args == ("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"):
            return ["old-master", "6379"]
        if args == ("SENTINEL", "MASTER", "mymaster"):
            state = {"ip": "old-master", "port": "6379", "flags": "master,failover_in_progress"}
            return [item for pair in state.items() for item in pair]
        assert args == ("SENTINEL", "REPLICAS", "mymaster"), args
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


def test_a_selected_replica_that_answers_master_is_promoted_the_failover_can_only_time_out():
    # The leading sentinel sent SLAVEOF NO ONE and waits for its next INFO (WAIT_PROMOTION):
    # from there only failover-timeout aborts, and the replica has already taken the role.
    nodes = {"a": Sentinel([replica("b", "slave,promoted", "slave")]), "b": Redis("master")}
    assert promoted(["a"], connect_to(nodes)) == ("b", 6379)


def test_a_selected_replica_is_not_taken_on_its_own_word_when_the_timeout_is_short():
    # failover-timeout 2 s leaves the sentinel two INFO tries: it may still abort.
    nodes = {"a": Sentinel([replica("b", "slave,promoted", "slave")]), "b": Redis("master")}
    short = settings.parse({"failover-timeout": 2000}, 3, app_name="mymaster")
    assert promoted(["a"], connect_to(nodes), short) is None


def test_a_selected_replica_that_does_not_answer_is_not_promoted():
    nodes = {"a": Sentinel([replica("b", "slave,promoted", "slave")])}
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
    clock = [connection.time.time() + connection.UNANSWERED_S + 1]
    monkeypatch.setattr(connection.time, "time", lambda: clock[0])
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
