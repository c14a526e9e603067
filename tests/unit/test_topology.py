"""topology against fake redis clients (the real thing is exercised in tests/pods)."""

import pytest
import redis

from redis_k8s import settings, topology


class FakeNode:
    """A redis or sentinel answering the commands topology uses."""

    def __init__(self, master=None, role="master", replicas=()):
        self.master = master
        self.role = role
        self.replicas = list(replicas)
        self.calls = []
        self.config = {}
        self.failover_reply = "OK"
        self.offset = 100
        self.state = {"num-slaves": 2, "num-other-sentinels": 2, "flags": "master"}


class FakeClient:
    def __init__(self, node):
        self.node = node

    def execute_command(self, *args):
        node = self.node
        node.calls.append(args)
        cmd = " ".join(str(a) for a in args[:2]).upper()
        if cmd == "SENTINEL GET-MASTER-ADDR-BY-NAME":
            return list(node.master) if node.master else None
        if cmd == "SENTINEL FAILOVER":
            if isinstance(node.failover_reply, Exception):
                raise node.failover_reply
            return node.failover_reply
        if cmd in ("SENTINEL SET", "SENTINEL RESET", "SENTINEL REMOVE", "SENTINEL MONITOR", "CLIENT PAUSE",
                   "CLIENT UNPAUSE") or args[0] == "REPLICAOF":
            return True
        if cmd == "SENTINEL MASTER":
            return dict(node.state)
        raise AssertionError("unexpected command {}".format(args))

    def ping(self):
        return True

    def info(self, section=None):
        assert section in (None, "replication")
        info = {"role": self.node.role, "master_repl_offset": self.node.offset,
                "connected_slaves": len(self.node.replicas), "redis_version": "7.0.15",
                "master_link_status": getattr(self.node, "link", "up")}
        if self.node.role == "slave":
            info.update(master_host=getattr(self.node, "follows", "a"), master_port=getattr(self.node, "port", 6379))
        for i, r in enumerate(self.node.replicas):
            info["slave{}".format(i)] = {"ip": r, "port": 6379, "offset": self.node.offset}
        return info

    def config_set(self, name, value):
        self.node.config[name] = value
        return True

    def close(self):
        pass


class FakeNet:
    def __init__(self, nodes):
        self.nodes = nodes

    def connect(self, host, port, password):
        assert password == "pw"
        node = self.nodes.get((host, port))
        if node is None:
            raise redis.ConnectionError("connection refused")
        return FakeClient(node)


def sentinels(views):
    return {(h, 26379): FakeNode(master=m) for h, m in views.items()}


def test_master_from_sentinels_takes_the_majority():
    net = FakeNet(sentinels({"a": ("b", 6379), "b": ("c", 6379), "c": ("c", 6379)}))
    assert topology.master_from_sentinels(["a", "b", "c"], 26379, "m", "pw", connect=net.connect) == ("c", 6379)


def test_master_from_sentinels_skips_unreachable_and_unknowing_sentinels():
    net = FakeNet(sentinels({"b": ("a", 6379), "c": None}))
    assert topology.master_from_sentinels(["a", "b", "c"], 26379, "m", "pw", connect=net.connect) == ("a", 6379)
    assert topology.master_from_sentinels(["x"], 26379, "m", "pw", connect=net.connect) is None


def test_master_from_sentinels_tie_goes_to_the_first_listed():
    net = FakeNet(sentinels({"a": ("b", 6379), "b": ("c", 6379)}))
    assert topology.master_from_sentinels(["b", "a"], 26379, "m", "pw", connect=net.connect) == ("c", 6379)


def test_expected_quorum():
    assert [topology.expected_quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_set_quorum_and_min_replicas_report_what_they_reached():
    net = FakeNet(sentinels({"a": ("a", 6379), "b": ("a", 6379)}))
    assert topology.set_quorum(["a", "b", "gone"], 26379, "m", "pw", 2, connect=net.connect) == ["a", "b"]
    assert ("SENTINEL", "SET", "m", "quorum", "2") in net.nodes[("a", 26379)].calls
    redises = FakeNet({("a", 6379): FakeNode(), ("b", 6379): FakeNode()})
    assert topology.set_min_replicas(["a", "b", "c"], 6379, "pw", 1, 10, 2, connect=redises.connect) == ["a", "b"]
    assert redises.nodes[("a", 6379)].config == {"min-replicas-to-write": 1, "min-replicas-max-lag": 10,
                                                 "repl-diskless-sync-max-replicas": 2}


def test_replication_info_raises_when_unreachable():
    net = FakeNet({("a", 6379): FakeNode(role="slave")})
    assert topology.replication_info("a", 6379, "pw", connect=net.connect)["role"] == "slave"
    with pytest.raises(redis.ConnectionError):
        topology.replication_info("b", 6379, "pw", connect=net.connect)


def test_failover_if_master_does_nothing_for_a_replica():
    net = FakeNet(sentinels({"a": ("b", 6379)}))
    assert topology.failover_if_master("a", 6379, ["a"], 26379, "m", "pw", connect=net.connect) is False


def test_failover_if_master_pauses_asks_a_peer_sentinel_and_waits():
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379)})
    nodes[("a", 6379)] = old = FakeNode(replicas=["b"])
    net = FakeNet(nodes)

    def failover(*args):
        for key in (("a", 26379), ("b", 26379)):
            nodes[key].master = ("b", 6379)
        return "OK"

    peer = nodes[("b", 26379)]
    original = FakeClient.execute_command

    def execute(self, *args):
        if self.node is peer and args[:2] == ("SENTINEL", "FAILOVER"):
            self.node.calls.append(args)
            return failover()
        return original(self, *args)

    FakeClient.execute_command = execute
    try:
        assert topology.failover_if_master("a", 6379, ["a", "b"], 26379, "m", "pw", timeout=5,
                                           connect=net.connect) is True
    finally:
        FakeClient.execute_command = original
    assert old.calls[0][:2] == ("CLIENT", "PAUSE") and old.calls[0][-1] == "WRITE"
    assert ("REPLICAOF", "b", "6379") in old.calls
    assert old.calls[-1] == ("CLIENT", "UNPAUSE")
    # This pod's own sentinel is not asked when a peer's answers.
    assert not any(c[:2] == ("SENTINEL", "FAILOVER") for c in nodes[("a", 26379)].calls)


def test_failover_if_master_resumes_writes_when_no_sentinel_accepts():
    nodes = sentinels({"a": ("a", 6379)})
    nodes[("a", 26379)].failover_reply = redis.ResponseError("NOGOODSLAVE No suitable replica to promote")
    nodes[("a", 6379)] = old = FakeNode(replicas=[])
    net = FakeNet(nodes)
    with pytest.raises(RuntimeError):
        topology.failover_if_master("a", 6379, ["a"], 26379, "m", "pw", timeout=1, connect=net.connect)
    assert old.calls[-1] == ("CLIENT", "UNPAUSE")


def test_reset_sentinels_one_at_a_time_skipping_the_unreachable():
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379)})
    net = FakeNet(nodes)
    for node in nodes.values():
        node.state = {"num-slaves": 1, "num-other-sentinels": 1, "flags": "master"}
    done = topology.reset_sentinels(["a", "gone", "b"], 26379, "m", "pw", expected_replicas=1, timeout=2,
                                    connect=net.connect)
    assert done == ["a", "b"]
    for node in nodes.values():
        assert ("SENTINEL", "RESET", "m") in node.calls


def test_reset_sentinels_leaves_a_sentinel_in_failover_alone():
    nodes = sentinels({"a": ("a", 6379)})
    nodes[("a", 26379)].state["flags"] = "master,failover_in_progress"
    net = FakeNet(nodes)
    assert topology.reset_sentinels(["a"], 26379, "m", "pw", expected_replicas=0, timeout=1,
                                    connect=net.connect) == []
    assert not any(c[:2] == ("SENTINEL", "RESET") for c in nodes[("a", 26379)].calls)


def test_apply_live_settings_uses_the_unit_count_of_the_settings():
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379), "c": ("a", 6379)})
    for h in "abc":
        nodes[(h, 6379)] = FakeNode()
    net = FakeNet(nodes)
    s = settings.parse({}, 3, app_name="m")
    assert topology.apply_live_settings(["a", "b", "c"], s, "pw", connect=net.connect) is True
    assert ("SENTINEL", "SET", "m", "quorum", "2") in nodes[("c", 26379)].calls
    assert nodes[("b", 6379)].config == {"min-replicas-to-write": 1, "min-replicas-max-lag": 10,
                                         "repl-diskless-sync-max-replicas": 2}
    del nodes[("c", 6379)]
    assert topology.apply_live_settings(["a", "b", "c"], s, "pw", connect=net.connect) is False


def test_health_counts_serving_pods_and_reports_the_master_version():
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379)})
    nodes[("a", 6379)] = FakeNode(role="master", replicas=["b"])
    nodes[("b", 6379)] = FakeNode(role="slave")
    nodes[("c", 6379)] = lagging = FakeNode(role="slave")
    lagging.link = "down"
    nodes[("e", 6379)] = FakeNode(role="master")  # a second master: not serving, named
    nodes[("f", 6379)] = astray = FakeNode(role="slave")
    astray.follows = "e"
    net = FakeNet(nodes)
    h = topology.health(["a", "b", "c", "d", "e", "f"], settings.parse({}, 6, app_name="m"), "pw",
                        connect=net.connect)
    assert h.master == ("a", 6379)
    assert h.ready == 2
    assert h.version == "7.0.15"
    assert h.roles == {"a": "master", "b": "slave", "c": "slave", "d": None, "e": "master", "f": "slave"}
    assert h.other_masters == ["e"]


class AclNode:
    """A redis or sentinel whose default user holds a set of passwords (as SHA-256 digests)."""

    def __init__(self):
        self.passwords = {"old-password"}
        self.outgoing = {}


class AclClient:
    def __init__(self, node, password):
        self.node = node
        self.password = password

    def ping(self):
        if self.password not in self.node.passwords:
            raise redis.AuthenticationError("invalid username-password pair")
        return True

    def execute_command(self, *args):
        import hashlib
        if args[:2] == ("ACL", "SETUSER"):
            for rule in args[3:]:
                if rule.startswith(">"):
                    self.node.passwords.add(rule[1:])
                elif rule.startswith("<"):
                    assert rule[1:] in self.node.passwords, "removing an absent password is an error"
                    self.node.passwords.discard(rule[1:])
            return "OK"
        if args[:2] == ("ACL", "GETUSER"):
            return {"passwords": [hashlib.sha256(p.encode()).hexdigest() for p in sorted(self.node.passwords)]}
        if args[:2] == ("SENTINEL", "SET"):
            self.node.outgoing["auth-pass"] = args[4]
            return "OK"
        if args[:3] == ("SENTINEL", "CONFIG", "SET"):
            self.node.outgoing[args[3]] = args[4]
            return "OK"
        if args[:2] == ("SENTINEL", "MASTER"):
            return {"flags": "master"}
        raise AssertionError(args)

    def config_set(self, name, value):
        self.node.outgoing[name] = value
        return True

    def close(self):
        pass


def test_rotate_password_adds_switches_and_drops_and_is_idempotent():
    s = settings.parse({}, 2, app_name="m")
    nodes = {(h, p): AclNode() for h in ("a", "b") for p in (s.port, s.sentinel_port)}

    def connect(host, port, password):
        if (host, port) not in nodes:
            raise redis.ConnectionError("refused")
        return AclClient(nodes[(host, port)], password)

    assert topology.rotate_password(["a", "b"], s, "old-password", "new-password", connect=connect) is True
    for (host, port), node in nodes.items():
        assert node.passwords == {"new-password"}
        if port == s.port:
            assert node.outgoing == {"masterauth": "new-password"}
        else:
            assert node.outgoing == {"auth-pass": "new-password", "sentinel-pass": "new-password"}
    assert topology.rotate_password(["a", "b"], s, "old-password", "new-password", connect=connect) is True
    assert topology.rotate_password(["a", "b", "gone"], s, "old-password", "new-password",
                                    connect=connect) is False
    assert topology.rotate_password(["a"], s, "same", "same", connect=connect) is True


def stray_cluster():
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379), "c": ("a", 6379)})
    nodes[("a", 6379)] = FakeNode(role="master", replicas=["b"])
    nodes[("b", 6379)] = FakeNode(role="slave")
    nodes[("c", 6379)] = FakeNode(role="master")  # forgotten by the sentinels, still a master
    nodes[("d", 26379)] = FakeNode(master=("a", 6379))
    nodes[("d", 6379)] = old_port = FakeNode(role="slave")  # follows the master at its old port
    old_port.port = 6380
    return nodes


def test_stray_masters_and_replicas_of_another_address_follow_the_named_master():
    nodes = stray_cluster()
    s = settings.parse({}, 3, app_name="m")
    assert topology.repoint_strays(["a", "b", "c", "d"], s, "pw", connect=FakeNet(nodes).connect) == ["c", "d"]
    assert ("REPLICAOF", "a", 6379) in nodes[("c", 6379)].calls
    assert ("REPLICAOF", "a", 6379) in nodes[("d", 6379)].calls
    assert not any(call[0] == "REPLICAOF" for call in nodes[("b", 6379)].calls + nodes[("a", 6379)].calls)


@pytest.mark.parametrize("unsettled", ["views differ", "failover running", "master down", "no majority"])
def test_no_stray_is_touched_while_the_sentinels_are_not_settled(unsettled):
    nodes = stray_cluster()
    if unsettled == "views differ":
        nodes[("b", 26379)].master = ("c", 6379)
    elif unsettled == "failover running":
        nodes[("b", 26379)].state["flags"] = "master,failover_in_progress"
    elif unsettled == "master down":
        nodes[("a", 26379)].state["flags"] = "master,s_down"
        del nodes[("a", 6379)]
    else:
        del nodes[("b", 26379)], nodes[("c", 26379)], nodes[("d", 26379)]
    s = settings.parse({}, 3, app_name="m")
    assert topology.repoint_strays(["a", "b", "c", "d"], s, "pw", connect=FakeNet(nodes).connect) == []
    assert not any(call[0] == "REPLICAOF" for node in nodes.values() for call in node.calls)


def straggler_cluster():
    """b's sentinel still names a's redis at its old port, where nothing listens any more."""
    nodes = sentinels({"a": ("c", 6380), "b": ("a", 6379), "c": ("c", 6380)})
    nodes[("b", 26379)].state["flags"] = "master,s_down"
    nodes[("c", 6380)] = FakeNode(role="master", replicas=["a"])
    return nodes


def test_a_sentinel_following_a_gone_master_monitors_the_majoritys_master_afresh():
    nodes = straggler_cluster()
    s = settings.parse({"port": 6380}, 3, app_name="m")
    assert topology.realign_sentinels(["a", "b", "c"], s, "pw", connect=FakeNet(nodes).connect) == ["b"]
    calls = nodes[("b", 26379)].calls
    assert ("SENTINEL", "MONITOR", "m", "c", 6380, 2) in calls
    assert not any("MONITOR" in call for host in "ac" for call in nodes[(host, 26379)].calls)


@pytest.mark.parametrize("case", ["unanimous", "majority failing over", "old master alive", "no majority"])
def test_sentinels_are_left_alone_unless_a_straggler_follows_a_gone_master(case):
    nodes = straggler_cluster()
    if case == "unanimous":
        nodes[("b", 26379)].master = ("c", 6380)
    elif case == "majority failing over":
        nodes[("a", 26379)].state["flags"] = "master,failover_in_progress"
    elif case == "old master alive":
        nodes[("a", 6379)] = FakeNode(role="master")
    else:
        nodes[("c", 26379)].master = ("b", 6380)
    s = settings.parse({"port": 6380}, 3, app_name="m")
    assert topology.realign_sentinels(["a", "b", "c"], s, "pw", connect=FakeNet(nodes).connect) == []
    assert not any("MONITOR" in call for node in nodes.values() for call in node.calls)


def test_sentinels_follow_a_master_that_came_back_on_the_new_port():
    nodes = sentinels({"a": ("a", 6380), "b": ("a", 6380), "c": ("a", 6380)})
    nodes[("a", 6379)] = FakeNode(role="master")
    s = settings.parse({}, 3, app_name="m")
    assert topology.follow_moved_master(["a", "b", "c"], s, "pw", connect=FakeNet(nodes).connect) == "a"
    for host in "abc":
        assert ("SENTINEL", "MONITOR", "m", "a", 6379, 2) in nodes[(host, 26379)].calls


@pytest.mark.parametrize("case", ["same port", "old port still master", "not master on the new port"])
def test_sentinels_stay_unless_their_master_moved_port(case):
    nodes = sentinels({"a": ("a", 6380), "b": ("a", 6380), "c": ("a", 6380)})
    nodes[("a", 6379)] = FakeNode(role="master")
    if case == "same port":
        for host in "abc":
            nodes[(host, 26379)].master = ("a", 6379)
    elif case == "old port still master":
        nodes[("a", 6380)] = FakeNode(role="master")
    else:
        nodes[("a", 6379)].role = "slave"
    s = settings.parse({}, 3, app_name="m")
    assert topology.follow_moved_master(["a", "b", "c"], s, "pw", connect=FakeNet(nodes).connect) is None
    assert not any("MONITOR" in call for node in nodes.values() for call in node.calls)
