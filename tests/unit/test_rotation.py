"""Password rotation against fake redis and sentinel instances that keep an ACL (the real thing
is exercised in tests/functional/test_options.py)."""

import hashlib

import pytest
import redis

from redis_k8s import live, rotation, settings

HOSTS = ["p0", "p1", "p2"]


def digest(password):
    return hashlib.sha256(password.encode()).hexdigest()


class Instance:
    """One redis or sentinel: the passwords its default user accepts, what it authenticates with."""

    def __init__(self, accepted):
        self.accepted = {digest(p): p for p in accepted}
        self.auth_with = None
        self.down = False


class FakeClient:
    def __init__(self, instance, password, sentinel):
        self.instance = instance
        self.password = password
        self.sentinel = sentinel

    def ping(self):
        if self.instance.down:
            raise redis.ConnectionError("down")
        if digest(self.password) not in self.instance.accepted:
            raise redis.AuthenticationError("WRONGPASS")
        return True

    def execute_command(self, *args):
        words = [str(a) for a in args]
        if words[:3] == ["ACL", "GETUSER", "default"]:
            return ["flags", ["on"], "passwords", sorted(self.instance.accepted)]
        if words[:3] == ["ACL", "SETUSER", "default"]:
            for rule in words[4:]:
                if rule.startswith(">"):
                    self.instance.accepted[digest(rule[1:])] = rule[1:]
                elif rule.startswith("!"):
                    self.instance.accepted.pop(rule[1:], None)
            return b"OK"
        if words[:4] == ["SENTINEL", "CONFIG", "GET", "sentinel-pass"]:
            return {"sentinel-pass": self.instance.auth_with}
        if words[:2] == ["SENTINEL", "SET"] or words[:4] == ["SENTINEL", "CONFIG", "SET",
                                                               "sentinel-pass"]:
            self.instance.auth_with = words[-1]
            return b"OK"
        raise AssertionError("unexpected command {}".format(words))

    def config_get(self, name):
        return {name: self.instance.auth_with}

    def config_set(self, name, value):
        self.instance.auth_with = value

    def close(self):
        pass


class FakeCluster:
    def __init__(self, password, hosts=HOSTS, ports=(6379, 26379)):
        self.instances = {(h, p): Instance([password]) for h in hosts for p in ports}

    def connect(self, host, port, password):
        return FakeClient(self.instances[(host, port)], password, port == 26379)

    def accepts(self, password):
        """The endpoints that accept ``password``."""
        return sorted(key for key, inst in self.instances.items() if digest(password) in inst.accepted)

    def set_down(self, host, down=True):
        for (h, _), inst in self.instances.items():
            if h == host:
                inst.down = down


SETTINGS = settings.parse({}, 3, "redis-k8s")
ALL = sorted((h, p) for h in HOSTS for p in (6379, 26379))


def test_the_first_password_needs_no_rotation():
    assert rotation.change(rotation.Passwords(), "first", 10.0) == rotation.Passwords("first", "first")


def test_a_new_password_retires_the_secrets_and_the_consumers_and_keeps_earlier_retired_ones():
    start = rotation.Passwords("b", "a", ("a",), 5.0)  # a -> b under way, consumers still on a
    assert rotation.change(start, "c", 9.0) == rotation.Passwords("c", "a", ("a", "b"), 9.0)
    # Back to the consumers' password: only the one in the Secret meanwhile is retired.
    assert rotation.change(start, "a", 9.0) == rotation.Passwords("a", "a", ("b",), 9.0)
    assert rotation.change(start, "b", 9.0) is start


def test_leader_data_round_trip_and_the_key_of_older_charms():
    state = rotation.Passwords("new", "old", ("old",), 12.5)
    data = rotation.leader_data(state)
    assert rotation.from_leader_data(data.get) == state
    done = rotation.leader_data(rotation.Passwords("new", "new"))
    assert done["retired-passwords"] == "" and done["retired-since"] == ""
    # Before secret-password existed, active-password was the Secret's and the consumers'.
    assert rotation.from_leader_data({"active-password": "p"}.get) == rotation.Passwords("p", "p")


def test_with_every_pod_up_consumers_switch_at_once_and_the_old_one_goes_after_the_sync_delay():
    cluster = FakeCluster("old")
    state = rotation.change(rotation.Passwords("old", "old"), "new", 100.0)
    state = rotation.advance(state, HOSTS, SETTINGS, 100.0, cluster.connect)
    assert state.consumers == "new" and state.rotating
    assert cluster.accepts("old") == ALL and cluster.accepts("new") == ALL
    assert all(inst.auth_with == "new" for inst in cluster.instances.values())
    state = rotation.advance(state, HOSTS, SETTINGS, 100.0 + live.SECRET_SYNC_S - 1, cluster.connect)
    assert state.rotating and cluster.accepts("old") == ALL
    state = rotation.advance(state, HOSTS, SETTINGS, 100.0 + live.SECRET_SYNC_S, cluster.connect)
    assert state == rotation.Passwords("new", "new")
    assert cluster.accepts("old") == [] and cluster.accepts("new") == ALL


def test_a_pod_down_keeps_consumers_on_the_old_password_which_stays_valid_until_it_is_back():
    cluster = FakeCluster("old")
    cluster.set_down("p2")
    state = rotation.change(rotation.Passwords("old", "old"), "new", 100.0)
    for now in (100.0, 400.0, 900.0):  # hooks while p2 is down, long past the sync delay
        state = rotation.advance(state, HOSTS, SETTINGS, now, cluster.connect)
        assert state.consumers == "old" and state.rotating
        assert cluster.accepts("old") == ALL  # nothing refuses what consumers were given
    cluster.set_down("p2", False)
    state = rotation.advance(state, HOSTS, SETTINGS, 1000.0, cluster.connect)
    assert state.consumers == "new"
    # The consumers just got the new password: the old one stays accepted for them to follow.
    assert cluster.accepts("old") == ALL and state.since == 1000.0
    state = rotation.advance(state, HOSTS, SETTINGS, 1000.0 + live.SECRET_SYNC_S, cluster.connect)
    assert state == rotation.Passwords("new", "new") and cluster.accepts("old") == []


def test_a_pod_lost_after_the_consumers_switched_delays_only_the_end():
    cluster = FakeCluster("old")
    state = rotation.change(rotation.Passwords("old", "old"), "new", 0.0)
    state = rotation.advance(state, HOSTS, SETTINGS, 0.0, cluster.connect)
    assert state.consumers == "new"
    cluster.set_down("p1")
    state = rotation.advance(state, HOSTS, SETTINGS, live.SECRET_SYNC_S + 1.0, cluster.connect)
    assert state.rotating and state.consumers == "new"  # p1 not reached: retried
    cluster.set_down("p1", False)
    state = rotation.advance(state, HOSTS, SETTINGS, live.SECRET_SYNC_S + 2.0, cluster.connect)
    assert state == rotation.Passwords("new", "new") and cluster.accepts("old") == []


def test_nothing_to_do_without_a_rotation():
    cluster = FakeCluster("p")
    state = rotation.Passwords("p", "p")
    assert rotation.advance(state, HOSTS, SETTINGS, 0.0, lambda *a: pytest.fail("connected")) is state
    assert cluster.accepts("p") == ALL
