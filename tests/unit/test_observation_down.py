"""A redis the sentinels flag down is not asked: a frozen or cut-off pod would cost the hook a
timeout, and every hook queued behind it (the new master's among them) would wait too."""

import redis

from redis_k8s import observation, rules, settings

PARSED = settings.parse({}, 3, app_name="mymaster")
HOSTS = ["a", "b", "c"]


def entry(host, flags):
    return {"ip": host, "port": "6379", "flags": flags}


class Sentinel:
    """A sentinel that names ``a`` master and flags what it is given."""

    def __init__(self, master_flags="master", replicas=()):
        self.master = entry("a", master_flags)
        self.replicas = list(replicas)

    def execute_command(self, *args):
        if args[:2] == ("SENTINEL", "GET-MASTER-ADDR-BY-NAME"):
            return ["a", "6379"]
        if args[:2] == ("SENTINEL", "MASTER"):
            return self.master
        if args[:2] == ("SENTINEL", "REPLICAS"):
            return self.replicas
        raise AssertionError(args)

    def close(self):
        pass


class Redis:
    def __init__(self, role, frozen=False):
        self.role = role
        self.frozen = frozen
        self.asked = 0

    def info(self, section=None):
        self.asked += 1
        if self.frozen:
            raise redis.TimeoutError("Timeout reading from socket")
        return {"role": self.role, "master_host": "a", "master_port": 6379,
                "master_link_status": "up"}

    def close(self):
        pass


def connect_to(sentinels, servers):
    def connect(host, port, password):
        node = (sentinels if int(port) == 26379 else servers).get(host)
        if node is None:
            raise redis.ConnectionError("connection refused")
        return node
    return connect


def test_a_master_most_sentinels_flag_down_is_not_asked():
    down = [entry("b", "slave"), entry("c", "slave")]
    sentinels = {host: Sentinel("master,s_down,o_down", down) for host in HOSTS}
    servers = {"a": Redis("master", frozen=True), "b": Redis("slave"), "c": Redis("slave")}
    snapshot = observation.observe(HOSTS, PARSED, "pw", connect_to(sentinels, servers))
    health = snapshot.health()
    assert servers["a"].asked == 0
    assert health.ready == 2 and health.roles["a"] is None
    assert servers["b"].asked == 1


def test_a_pod_flagged_down_by_its_own_partitioned_sentinel_only_is_still_asked():
    # The sentinel of a cut-off pod sees everybody else down; the majority does not.
    sentinels = {"a": Sentinel("master", [entry("b", "slave,s_down"), entry("c", "slave,s_down")]),
                 "b": Sentinel("master", [entry("b", "slave"), entry("c", "slave")]),
                 "c": Sentinel("master", [entry("b", "slave"), entry("c", "slave")])}
    servers = {host: Redis("master" if host == "a" else "slave") for host in HOSTS}
    snapshot = observation.observe(HOSTS, PARSED, "pw", connect_to(sentinels, servers))
    assert snapshot.health().ready == 3
    assert all(server.asked == 1 for server in servers.values())


def test_a_master_flagged_down_is_still_pinged_by_the_safety_checks():
    sentinels = {host: Sentinel("master,s_down") for host in HOSTS}
    pinged = []

    class Answering(Redis):
        def ping(self):
            pinged.append(True)
            return True
    servers = {"a": Answering("master")}
    snapshot = observation.observe(HOSTS, PARSED, "pw", connect_to(sentinels, servers))
    assert snapshot.answers("a", 6379) and pinged


def test_flagged_down_counts_the_sentinels_that_answered():
    states = {"a": entry("a", "master,s_down"), "b": entry("a", "master,s_down"), "c": {}}
    assert rules.flagged_down(states, {"a": [], "b": None}) == {("a", 6379)}
    states["c"] = entry("a", "master")
    assert rules.flagged_down(states, {}) == {("a", 6379)}
    states["b"] = entry("a", "master")
    assert rules.flagged_down(states, {}) == set()


def test_a_replica_flag_that_merely_contains_the_letters_is_not_down():
    states = {"a": entry("a", "master")}
    assert rules.flagged_down(states, {"a": [entry("b", "slave,disconnected")]}) == set()
    assert rules.flagged_down(states, {"a": [entry("b", "slave,s_down")]}) == {("b", 6379)}


def test_an_old_master_the_sentinels_watch_afresh_is_down_by_its_unanswered_ping():
    # Right after a failover the old master is a new replica entry: no s_down flag yet.
    old = dict(entry("a", "slave"), **{"last-ping-sent": "900"})
    fresh = dict(entry("a", "slave"), **{"last-ping-sent": "40"})
    states = {host: entry("b", "master") for host in HOSTS}
    assert rules.flagged_down(states, {host: [old] for host in HOSTS}) == {("a", 6379)}
    assert rules.flagged_down(states, {host: [fresh] for host in HOSTS}) == set()
    assert rules.flagged_down(states, {"a": [old], "b": [fresh], "c": [fresh]}) == set()
