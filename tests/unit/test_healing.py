"""The observation and the heal steps against fake redis clients (the real thing is exercised
in tests/pods)."""

import pytest
import redis

from redis_k8s import healing, observation, sentinel_reset, settings


class FakeNode:
    """A redis or sentinel answering the commands the charm uses."""

    def __init__(self, master=None, role="master", replicas=()):
        self.master = master
        self.state_master = None  # what SENTINEL MASTER names, when not ``master`` (a race)
        self.role = role
        self.replicas = list(replicas)
        self.calls = []
        self.config = {}
        self.offset = 100
        # The master answered the last ping; its next INFO is due (a reset goes ahead at once).
        self.state = {"num-slaves": 2, "num-other-sentinels": 2, "flags": "master",
                      "last-ok-ping-reply": 300, "info-refresh": 9500}


class FakeClient:
    def __init__(self, node):
        self.node = node

    def execute_command(self, *args):
        node = self.node
        node.calls.append(args)
        cmd = " ".join(str(a) for a in args[:2]).upper()
        if cmd == "SENTINEL GET-MASTER-ADDR-BY-NAME":
            return list(node.master) if node.master else None
        if cmd in ("SENTINEL SET", "SENTINEL RESET", "SENTINEL REMOVE", "SENTINEL MONITOR") or args[0] == "REPLICAOF":
            return True
        if cmd == "SENTINEL MASTER":
            master = node.state_master or node.master
            if master is None:
                return dict(node.state)
            return dict(node.state, ip=master[0], port=str(master[1]))
        if cmd == "SENTINEL REPLICAS":  # asked for the replicas' down flags only
            return []
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


def observe(hosts, nodes, units=3, **options):
    """A fresh snapshot of ``hosts`` over the fake ``nodes``."""
    parsed = settings.parse(options, units, app_name="m")
    return observation.observe(hosts, parsed, "pw", connect=FakeNet(nodes).connect)


def test_the_master_is_the_one_most_sentinels_name():
    nodes = sentinels({"a": ("b", 6379), "b": ("c", 6379), "c": ("c", 6379)})
    assert observe(["a", "b", "c"], nodes).master == ("c", 6379)


def test_unreachable_and_unknowing_sentinels_do_not_vote():
    nodes = sentinels({"b": ("a", 6379), "c": None})
    snapshot = observe(["a", "b", "c"], nodes)
    assert snapshot.master == ("a", 6379)
    assert snapshot.sentinels_up == {"b", "c"}
    assert observe(["x"], nodes).master is None


def test_a_tie_goes_to_the_smallest_address_as_in_the_pods_scripts():
    nodes = sentinels({"a": ("c", 6379), "b": ("b", 6379)})
    assert observe(["a", "b"], nodes).master == ("b", 6379)
    assert observe(["b", "a"], nodes).master == ("b", 6379)


def test_a_snapshot_asks_each_question_once():
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379)})
    nodes[("a", 6379)] = FakeNode(role="master", replicas=["b"])
    snapshot = observe(["a", "b"], nodes)
    for _ in range(3):
        assert snapshot.master == ("a", 6379)
        assert snapshot.sentinel_state("a")["flags"] == "master"
        assert snapshot.info("a")["role"] == "master"
    assert nodes[("a", 26379)].calls == [("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m"), ("SENTINEL", "MASTER", "m"),
                                         ("SENTINEL", "REPLICAS", "m")]


def test_replication_info_raises_when_unreachable():
    net = FakeNet({("a", 6379): FakeNode(role="slave")})
    assert observation.replication_info("a", 6379, "pw", connect=net.connect)["role"] == "slave"
    with pytest.raises(redis.ConnectionError):
        observation.replication_info("b", 6379, "pw", connect=net.connect)


def reset_in_turn(hosts, nodes, answering):
    """The master watcher's resets of ``hosts`` over the fake ``nodes``; returns (done, log)."""
    data = {"port": 26379, "password": "pw", "master_name": "m", "sentinels": answering}
    log = []
    done = sentinel_reset.reset_in_turn(hosts, data, timeout_s=2, log=log.append,
                                        connect=FakeNet(nodes).connect)
    return done, log


def test_sentinels_are_reset_one_at_a_time_skipping_the_unreachable():
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379)})
    for node in nodes.values():
        node.state.update({"num-slaves": 1, "num-other-sentinels": 1})
    done, log = reset_in_turn(["a", "gone", "b"], nodes, ["a", "gone", "b"])
    assert done == ["b", "a"]  # the sentinel in the master's pod (a) last
    assert log == ["sentinel gone not reset: it does not answer", "sentinel b reset",
                   "sentinel a reset"]
    for node in nodes.values():
        assert ("SENTINEL", "RESET", "m") in node.calls


def test_a_sentinel_in_a_failover_is_not_reset():
    nodes = sentinels({"a": ("a", 6379)})
    nodes[("a", 26379)].state["flags"] = "master,failover_in_progress"
    done, log = reset_in_turn(["a"], nodes, ["a"])
    assert done == [] and log == ["sentinel a not reset: a failover is under way"]
    assert not any(c[:2] == ("SENTINEL", "RESET") for c in nodes[("a", 26379)].calls)


def test_a_reset_sentinel_that_does_not_catch_up_is_not_counted_done():
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379)})
    nodes[("a", 26379)].state.update({"num-slaves": 1, "num-other-sentinels": 0})
    done, log = reset_in_turn(["a"], nodes, ["a", "b"])
    assert done == [] and log == ["sentinel a reset: not caught up after 2 s"]


def test_health_counts_serving_pods_and_reports_the_master_version():
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379)})
    nodes[("a", 6379)] = FakeNode(role="master", replicas=["b"])
    nodes[("b", 6379)] = FakeNode(role="slave")
    nodes[("c", 6379)] = lagging = FakeNode(role="slave")
    lagging.link = "down"
    nodes[("e", 6379)] = FakeNode(role="master")  # a second master: not serving, named
    nodes[("f", 6379)] = astray = FakeNode(role="slave")
    astray.follows = "e"
    h = observe(["a", "b", "c", "d", "e", "f"], nodes, units=6).health()
    assert h.master == ("a", 6379)
    assert h.ready == 2
    assert h.version == "7.0.15"
    assert h.roles == {"a": "master", "b": "slave", "c": "slave", "d": None, "e": "master", "f": "slave"}
    assert h.other_masters == ["e"]


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
    assert healing.repoint_strays(observe(["a", "b", "c", "d"], nodes)) == ["c", "d"]
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
    assert healing.repoint_strays(observe(["a", "b", "c", "d"], nodes)) == []
    assert not any(call[0] == "REPLICAOF" for node in nodes.values() for call in node.calls)


def straggler_cluster():
    """b's sentinel still names a's redis at its old port, where nothing listens any more."""
    nodes = sentinels({"a": ("c", 6380), "b": ("a", 6379), "c": ("c", 6380)})
    nodes[("b", 26379)].state["flags"] = "master,s_down"
    nodes[("c", 6380)] = FakeNode(role="master", replicas=["a"])
    return nodes


def test_a_sentinel_following_a_gone_master_monitors_the_majoritys_master_afresh():
    nodes = straggler_cluster()
    assert healing.realign_sentinels(observe(["a", "b", "c"], nodes, port=6380)) == ["b"]
    calls = nodes[("b", 26379)].calls
    assert ("SENTINEL", "MONITOR", "m", "c", 6380, 2) in calls
    assert not any("MONITOR" in call for host in "ac" for call in nodes[(host, 26379)].calls)


def test_a_sentinel_monitoring_afresh_gets_the_sentinel_config_at_once():
    nodes = straggler_cluster()
    healing.realign_sentinels(observe(["a", "b", "c"], nodes, port=6380,
                                      **{"sentinel-config": "parallel-syncs 2"}))
    (call,) = [c for c in nodes[("b", 26379)].calls if c[:2] == ("SENTINEL", "SET")]
    values = dict(zip(call[3::2], call[4::2]))
    assert values["parallel-syncs"] == "2"
    assert values["auth-pass"] == "pw"
    assert values["quorum"] == "2"


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
    assert healing.realign_sentinels(observe(["a", "b", "c"], nodes, port=6380)) == []
    assert not any("MONITOR" in call for node in nodes.values() for call in node.calls)


def test_sentinels_follow_a_master_that_came_back_on_the_new_port():
    nodes = sentinels({"a": ("a", 6380), "b": ("a", 6380), "c": ("a", 6380)})
    nodes[("a", 6379)] = FakeNode(role="master")
    assert healing.follow_moved_master(observe(["a", "b", "c"], nodes)) == "a"
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
    assert healing.follow_moved_master(observe(["a", "b", "c"], nodes)) is None
    assert not any("MONITOR" in call for node in nodes.values() for call in node.calls)


def switched_cluster():
    """The sentinels of a and b switched to b (promoted); c's sentinel has not heard yet and
    still names a, which woke up from a freeze still acting as master."""
    nodes = sentinels({"a": ("b", 6379), "b": ("b", 6379), "c": ("a", 6379)})
    nodes[("c", 26379)].state["flags"] = "master,s_down"  # the straggler saw a down
    nodes[("a", 6379)] = FakeNode(role="master", replicas=[])
    nodes[("b", 6379)] = FakeNode(role="master", replicas=["c"])
    nodes[("c", 6379)] = replica = FakeNode(role="slave")
    replica.follows = "b"
    return nodes


def test_a_second_master_is_demoted_as_soon_as_a_majority_of_sentinels_switched():
    nodes = switched_cluster()
    assert healing.demote_second_masters(observe(["a", "b", "c"], nodes)) == ["a"]
    assert ("REPLICAOF", "b", 6379) in nodes[("a", 6379)].calls
    # repoint_strays would still wait: the sentinels are not unanimous.
    assert healing.repoint_strays(observe(["a", "b", "c"], nodes)) == []


@pytest.mark.parametrize("case", [
    "no majority", "named master does not answer", "named master is a replica",
    "a sentinel is failing over", "a sentinel ended a failover since its view was read",
    "the majority sees its master down", "nothing else is master"])
def test_the_master_the_majority_names_is_never_demoted_nor_anything_while_unsure(case):
    nodes = switched_cluster()
    if case == "no majority":
        nodes[("b", 26379)].master = ("a", 6379)
        nodes[("a", 26379)].master = ("c", 6379)
    elif case == "named master does not answer":
        del nodes[("b", 6379)]
    elif case == "named master is a replica":
        nodes[("b", 6379)].role = "slave"
    elif case == "a sentinel is failing over":
        # A failover of b under way: the replica it promotes (a here) acts as master first.
        nodes[("c", 26379)].state["flags"] = "master,failover_in_progress"
    elif case == "a sentinel ended a failover since its view was read":
        # A planned handover from b to a (seen in a TLS roll, 54 acknowledged writes lost): the
        # views were read while a and b's sentinels still named b, a's INFO after its promotion,
        # and a's sentinel's state once it had switched to a, its failover over.
        nodes[("a", 26379)].state_master = ("a", 6379)
    elif case == "the majority sees its master down":
        nodes[("a", 26379)].state["flags"] = "master,s_down,o_down"
    else:
        nodes[("a", 6379)].role = "slave"
        nodes[("a", 6379)].follows = "b"
    assert healing.demote_second_masters(observe(["a", "b", "c"], nodes)) == []
    assert not any(call[0] == "REPLICAOF" for node in nodes.values() for call in node.calls)


def test_the_named_masters_pod_is_not_demoted_on_another_port():
    # Sentinels name b at its old port during a port change; b's redis on the new port is b.
    nodes = sentinels({"a": ("b", 6380), "b": ("b", 6380), "c": ("b", 6380)})
    nodes[("b", 6380)] = FakeNode(role="master")
    nodes[("b", 6379)] = FakeNode(role="master")
    nodes[("a", 6379)] = FakeNode(role="slave")
    nodes[("c", 6379)] = FakeNode(role="slave")
    assert healing.demote_second_masters(observe(["a", "b", "c"], nodes)) == []
    assert not any(call[0] == "REPLICAOF" for node in nodes.values() for call in node.calls)


def restarted_beside_a_failover():
    """b was promoted at epoch 3, and c's sentinel took part; the sentinels of a and b started
    meanwhile (a whole-application restart) and still name a, at epoch 0, until they hear of
    it; a's redis, starting, asked them and came up as master."""
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379), "c": ("b", 6379)})
    for host, epoch in (("a", 0), ("b", 0), ("c", 3)):
        nodes[(host, 26379)].state["config-epoch"] = str(epoch)
    nodes[("a", 6379)] = FakeNode(role="master", replicas=[])
    nodes[("b", 6379)] = FakeNode(role="master", replicas=["c"])
    nodes[("c", 6379)] = replica = FakeNode(role="slave")
    replica.follows = "b"
    return nodes


def test_the_sentinels_at_the_newest_epoch_name_the_master_however_many_name_the_old_one():
    snapshot = observe(["a", "b", "c"], restarted_beside_a_failover())
    assert snapshot.current_views == {"c": ("b", 6379)}
    assert snapshot.master == ("b", 6379)


def test_the_promoted_master_is_not_demoted_by_sentinels_that_missed_its_promotion():
    nodes = restarted_beside_a_failover()
    assert healing.demote_second_masters(observe(["a", "b", "c"], nodes)) == []
    assert not any(call[0] == "REPLICAOF" for node in nodes.values() for call in node.calls)


def test_epochs_are_asked_only_when_the_sentinels_disagree():
    nodes = sentinels({"a": ("a", 6379), "b": ("a", 6379)})
    assert observe(["a", "b"], nodes).master == ("a", 6379)
    assert not any(call[:2] == ("SENTINEL", "MASTER") for node in nodes.values()
                   for call in node.calls)


def test_each_sentinels_state_is_asked_once_per_snapshot():
    # Once for the down flags (which redis not to ask), and shared by the heal steps after.
    nodes = switched_cluster()
    nodes[("a", 6379)].role = "slave"
    snapshot = observe(["a", "b", "c"], nodes)
    healing.demote_second_masters(snapshot)
    snapshot.health()
    for host in "abc":
        calls = nodes[(host, 26379)].calls
        assert sum(call[:2] == ("SENTINEL", "MASTER") for call in calls) <= 1
