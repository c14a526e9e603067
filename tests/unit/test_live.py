from redis_k8s import live, settings


def test_memory_bytes_as_redis_counts_them():
    assert [live.memory_bytes(v) for v in ("", "0", "100", "1k", "1kb", "64mb", "2m", "1gb", "3g")] == [
        0, 0, 100, 1000, 1024, 64 * 1024 ** 2, 2 * 1000 ** 2, 1024 ** 3, 3 * 1000 ** 3]


def test_what_every_redis_and_sentinel_must_report_follows_options_and_unit_count():
    s = settings.parse({"maxmemory": "64mb", "appendonly": False, "min-replicas-max-lag": 3,
                        "down-after-milliseconds": 1500, "failover-timeout": 9000}, 5)
    assert live.redis_settings(s) == {
        "maxmemory": str(64 * 1024 ** 2), "maxmemory-policy": "noeviction", "appendonly": "no",
        "min-replicas-to-write": "1", "min-replicas-max-lag": "3", "repl-diskless-sync-max-replicas": "4"}
    assert live.sentinel_settings(s) == {"quorum": "3", "down-after-milliseconds": "1500",
                                         "failover-timeout": "9000", "parallel-syncs": "1"}
    assert live.redis_settings(settings.parse({}, 1))["min-replicas-to-write"] == "0"


def test_only_what_differs_is_set():
    assert live._differences({"a": "1", "b": 2}, {"a": "1", "b": "3", "c": "x"}) == ["b", "3", "c", "x"]
