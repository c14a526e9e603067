from redis_k8s import custom_config, live, settings


def test_memory_bytes_as_redis_counts_them():
    assert [live.memory_bytes(v) for v in ("", "0", "100", "1k", "1kb", "64mb", "2m", "1gb", "3g")] == [
        0, 0, 100, 1000, 1024, 64 * 1024 ** 2, 2 * 1000 ** 2, 1024 ** 3, 3 * 1000 ** 3]


def test_what_every_redis_and_sentinel_must_report_follows_options_and_unit_count():
    s = settings.parse({"maxmemory": "64mb", "appendonly": False, "min-replicas-max-lag": 3,
                        "down-after-milliseconds": 1500, "failover-timeout": 9000}, 5)
    wanted = live.redis_settings(s)
    assert {name: wanted[name] for name in (
        "maxmemory", "maxmemory-policy", "appendonly", "min-replicas-to-write", "min-replicas-max-lag",
        "repl-diskless-sync-max-replicas")} == {
        "maxmemory": str(64 * 1024 ** 2), "maxmemory-policy": "noeviction", "appendonly": "no",
        "min-replicas-to-write": "1", "min-replicas-max-lag": "3", "repl-diskless-sync-max-replicas": "4"}
    assert live.sentinel_settings(s) == {"quorum": "3", "down-after-milliseconds": "1500",
                                         "failover-timeout": "9000", "parallel-syncs": "1"}
    assert live.redis_settings(settings.parse({}, 1))["min-replicas-to-write"] == "0"


def test_the_automatic_max_lag_is_set_live_and_follows_down_after():
    assert live.redis_settings(settings.parse({"down-after-milliseconds": 2000}, 3))[
        "min-replicas-max-lag"] == "1"
    assert live.redis_settings(settings.parse({"down-after-milliseconds": 9000}, 3))[
        "min-replicas-max-lag"] == "7"


def test_every_directive_redis_config_accepts_is_wanted_at_its_line_or_at_redis_default():
    # A removed line is undone by wanting the default of every table directive, always.
    plain = live.redis_settings(settings.parse({}, 3))
    assert {name: plain[name] for name in custom_config.REDIS} == {
        name: directive.default for name, directive in custom_config.REDIS.items()}
    custom = live.redis_settings(settings.parse({"redis-config": "hz 20\nrepl-backlog-size 2mb"}, 3))
    assert (custom["hz"], custom["repl-backlog-size"], custom["maxmemory-samples"]) == (
        "20", str(2 * 1024 ** 2), "5")
    assert live.sentinel_settings(settings.parse({"sentinel-config": "parallel-syncs 2"}, 3))[
        "parallel-syncs"] == "2"


def test_only_what_differs_is_set():
    assert live._differences({"a": "1", "b": 2}, {"a": "1", "b": "3", "c": "x"}) == ["b", "3", "c", "x"]


def test_values_compare_as_redis_reports_them():
    table = custom_config.REDIS
    # notify-keyspace-events is reported in Redis' own order, and "A" hides "n".
    assert live._differences({"notify-keyspace-events": "xE"}, {"notify-keyspace-events": "Ex"}, table) == []
    assert live._differences({"notify-keyspace-events": "A"}, {"notify-keyspace-events": "An"}, table) == []
    assert live._differences({"notify-keyspace-events": "xE"}, {"notify-keyspace-events": "E"}, table) == [
        "notify-keyspace-events", "E"]


class FakeInstance:
    """A redis (``CONFIG GET/SET``) or sentinel (``SENTINEL MASTER/SET``) that applies what it is
    told and records every command that changes something."""

    def __init__(self, reported):
        self.reported = dict(reported)
        self.changes = []

    def config_get(self, pattern):
        assert pattern == "*"
        return dict(self.reported)

    def execute_command(self, *args):
        if args[:2] == ("CONFIG", "SET"):
            self.changes.append(args[2:])
            self.reported.update(zip(args[2::2], args[3::2]))
            return "OK"
        if args[:2] == ("SENTINEL", "MASTER"):
            return dict(self.reported)
        if args[:2] == ("SENTINEL", "GET-MASTER-ADDR-BY-NAME"):
            return ["a", "6379"]
        if args[:2] == ("SENTINEL", "REPLICAS"):  # the snapshot reads its down flags
            return []
        if args[:2] == ("SENTINEL", "SET"):
            self.changes.append(args[3:])
            self.reported.update(zip(args[3::2], args[4::2]))
            return "OK"
        raise AssertionError("unexpected command {}".format(args))

    def close(self):
        pass


def a_pod(parsed):
    """A redis and a sentinel that report exactly what ``parsed`` wants (as Redis would)."""
    return {parsed.port: FakeInstance(live.redis_settings(parsed)),
            parsed.sentinel_port: FakeInstance(live.sentinel_settings(parsed))}


def apply(pods, parsed):
    def connect(host, port, password):
        return pods[host][port]
    return live.apply_settings(sorted(pods), parsed, "pw", connect=connect)


def changes(pods, port):
    return {host: pod[port].changes for host, pod in pods.items()}


def test_custom_lines_are_set_live_everywhere_only_where_they_differ_and_removed_lines_undone():
    plain = settings.parse({}, 3)
    pods = {host: a_pod(plain) for host in ("a", "b", "c")}
    assert apply(pods, plain) == []
    assert changes(pods, 6379) == changes(pods, 26379) == {"a": [], "b": [], "c": []}

    custom = settings.parse({"redis-config": "hz 20\nmaxmemory-samples 7\n# a comment\n\nloglevel notice",
                             "sentinel-config": "parallel-syncs 2"}, 3)
    pods["c"][6379].reported["hz"] = "20"  # set on one pod already (a hook that missed the others)
    assert apply(pods, custom) == []
    assert changes(pods, 6379) == {"a": [("hz", "20", "maxmemory-samples", "7")],
                                   "b": [("hz", "20", "maxmemory-samples", "7")],
                                   "c": [("maxmemory-samples", "7")]}
    assert changes(pods, 26379) == {host: [("parallel-syncs", "2")] for host in pods}

    for pod in pods.values():
        pod[6379].changes.clear()
        pod[26379].changes.clear()
    assert apply(pods, custom) == []  # nothing left to do
    assert changes(pods, 6379) == changes(pods, 26379) == {"a": [], "b": [], "c": []}

    assert apply(pods, plain) == []  # the lines are gone: Redis' defaults are back
    assert changes(pods, 6379) == {host: [("hz", "10", "maxmemory-samples", "5")] for host in pods}
    assert changes(pods, 26379) == {host: [("parallel-syncs", "1")] for host in pods}


def test_an_instance_not_reached_is_reported_and_the_others_still_get_the_lines():
    plain = settings.parse({}, 3)
    pods = {host: a_pod(plain) for host in ("a", "b")}
    custom = settings.parse({"redis-config": "hz 20"}, 3)

    def connect(host, port, password):
        if (host, port) == ("a", 6379):
            raise ConnectionRefusedError("down")
        return pods[host][port]

    assert live.apply_settings(["a", "b"], custom, "pw", connect=connect) == [("a", 6379)]
    assert pods["b"][6379].changes == [("hz", "20")]


def test_with_the_hooks_snapshot_no_instance_is_connected_to_or_asked_again():
    from redis_k8s import observation
    plain = settings.parse({}, 3)
    instances = {host: a_pod(plain) for host in ("a", "b")}
    connected, asked = [], []

    class Counting:
        def __init__(self, instance):
            self.instance = instance

        def __getattr__(self, name):
            return getattr(self.instance, name)

        def execute_command(self, *args):
            asked.append(args[:2])
            return self.instance.execute_command(*args)

    def connect(host, port, password):
        connected.append((host, port))
        return Counting(instances[host][port])

    snapshot = observation.observe(["a", "b"], plain, "pw", connect)
    assert snapshot.sentinel_state("a")  # the heal check read it already
    custom = settings.parse({"redis-config": "hz 20", "sentinel-config": "parallel-syncs 2"}, 3)
    assert live.apply_settings(["a", "b"], custom, "pw", snapshot=snapshot) == []
    assert sorted(connected) == [("a", 6379), ("a", 26379), ("b", 6379), ("b", 26379)]
    assert [instances[h][6379].changes for h in "ab"] == [[("hz", "20")]] * 2
    assert [instances[h][26379].changes for h in "ab"] == [[("parallel-syncs", "2")]] * 2
    assert asked.count(("SENTINEL", "MASTER")) == 2  # a's once, before; b's once
    # What was changed is read afresh by the steps after; the rest stays read.
    assert snapshot.sentinel_state("a")["parallel-syncs"] == "2"
    assert asked.count(("SENTINEL", "MASTER")) == 3
    assert live.apply_settings(["a", "b"], custom, "pw", snapshot=snapshot) == []
    assert len(connected) == 4  # the second pass reused all four clients


def test_a_redis_the_sentinels_see_down_is_not_asked_and_retried_later():
    # A frozen master would cost every leader hook a timeout until the failover ends.
    from redis_k8s import observation
    plain = settings.parse({}, 3)
    pods = {host: a_pod(plain) for host in ("a", "b")}
    for host in "ab":
        pods[host][plain.sentinel_port].reported.update(
            {"ip": "a", "port": "6379", "flags": "master,s_down,o_down"})

    def frozen(client):
        raise AssertionError("the frozen master was asked")
    pods["a"][plain.port].config_get = frozen

    def connect(host, port, password):
        return pods[host][port]
    snapshot = observation.observe(["a", "b"], plain, "pw", connect)
    custom = settings.parse({"redis-config": "hz 20"}, 3)
    assert live.apply_settings(["a", "b"], custom, "pw", snapshot=snapshot) == [("a", 6379)]
    assert pods["b"][plain.port].changes == [("hz", "20")]
