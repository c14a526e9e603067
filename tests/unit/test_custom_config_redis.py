"""The directive tables against the Redis 7.0 of this machine (``make test`` installs
redis-server and redis-sentinel): the defaults are what Redis reports, every accepted value is
taken at start (the rendered files) and live (``CONFIG SET`` / ``SENTINEL SET``) and read back as
the charm expects, so the leader sets nothing twice."""

import os
import signal
import subprocess
import time

import pytest
import redis

from redis_k8s import custom_config, live, podspec, settings, templating

# 127.82.<n>.1, n varying with the pid so that runs in parallel (other worktrees) do not collide.
HOST = "127.82.{}.1".format(os.getpid() % 250 + 1)
REDIS_PORT = 7379
SENTINEL_PORT = 27379
APP = "redis-k8s"

# A value other than the default for every directive redis-config accepts, as a user writes it.
REDIS_SAMPLES = {
    "hz": "20", "dynamic-hz": "no", "loglevel": "verbose", "timeout": "300", "tcp-keepalive": "60",
    "client-output-buffer-limit": "replica 512mb 128mb 120 pubsub 64mb 16mb 30",
    "client-query-buffer-limit": "2gb", "proto-max-bulk-len": "1gb", "busy-reply-threshold": "3000",
    "notify-keyspace-events": "KEx", "tracking-table-max-keys": "5000", "acllog-max-len": "64",
    "slowlog-log-slower-than": "-1", "slowlog-max-len": "256", "latency-monitor-threshold": "100",
    "latency-tracking": "no", "maxmemory-samples": "7", "maxmemory-eviction-tenacity": "20",
    "lfu-log-factor": "20", "lfu-decay-time": "2", "active-expire-effort": "3",
    "activerehashing": "no", "jemalloc-bg-thread": "no", "lazyfree-lazy-eviction": "yes",
    "lazyfree-lazy-expire": "yes", "lazyfree-lazy-server-del": "yes", "lazyfree-lazy-user-del": "yes",
    "lazyfree-lazy-user-flush": "yes", "replica-lazy-flush": "yes",
    "hash-max-listpack-entries": "256", "hash-max-listpack-value": "128",
    "list-max-listpack-size": "-3", "list-compress-depth": "1", "set-max-intset-entries": "1024",
    "zset-max-listpack-entries": "256", "zset-max-listpack-value": "32",
    "hll-sparse-max-bytes": "4000", "stream-node-max-bytes": "8kb", "stream-node-max-entries": "200",
    "save": "900 1 300 10", "stop-writes-on-bgsave-error": "no", "rdbcompression": "no",
    "rdb-save-incremental-fsync": "no", "appendfsync": "always", "no-appendfsync-on-rewrite": "yes",
    "auto-aof-rewrite-percentage": "50", "auto-aof-rewrite-min-size": "128mb",
    "aof-use-rdb-preamble": "no", "aof-rewrite-incremental-fsync": "no", "aof-timestamp-enabled": "yes",
    "repl-backlog-size": "16mb", "repl-backlog-ttl": "600", "repl-timeout": "30",
    "repl-ping-replica-period": "5", "repl-disable-tcp-nodelay": "yes", "repl-diskless-load": "swapdb",
    "replica-serve-stale-data": "no", "replica-ignore-maxmemory": "no",
}
SENTINEL_SAMPLES = {"parallel-syncs": "2"}


def start(argv, port, tmp_path, name):
    log = open(os.path.join(str(tmp_path), name + ".log"), "wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = redis.Redis(host=HOST, port=port, socket_timeout=2, decode_responses=True)
    for _ in range(100):
        try:
            client.ping()
            return process, client
        except redis.ConnectionError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    stop(process)
    with open(log.name) as handle:
        pytest.fail("{} did not start: {}".format(name, handle.read()[-2000:]))


def stop(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def redis_conf(parsed, tmp_path):
    """The redis.conf a pod runs: the rendered base and lines, then (as the start script) the pod's."""
    text = templating.render("redis.conf", **podspec.template_context(APP, parsed))
    text = text.replace("dir " + podspec.DATA_DIR, "dir " + str(tmp_path))
    path = os.path.join(str(tmp_path), "redis.conf")
    with open(path, "w") as handle:
        handle.write(text + "bind {}\nport {}\n".format(HOST, REDIS_PORT))
    return path


@pytest.fixture
def running(tmp_path):
    processes = []

    def run_redis(parsed):
        process, client = start(["redis-server", redis_conf(parsed, tmp_path)], REDIS_PORT, tmp_path, "redis")
        processes.append(process)
        return client

    def run_sentinel(parsed):
        context = podspec.template_context(APP, parsed)
        text = templating.render("sentinel.conf", **context).replace(
            "dir {}/sentinel".format(podspec.SHARED_DIR), "dir " + str(tmp_path))
        text += "bind {}\nsentinel monitor {} {} {} 1\n".format(HOST, APP, HOST, REDIS_PORT)
        text += templating.render("sentinel-master.conf", **context)
        path = os.path.join(str(tmp_path), "sentinel.conf")
        with open(path, "w") as handle:
            handle.write(text.replace("port {}".format(parsed.sentinel_port), "port {}".format(SENTINEL_PORT)))
        process, client = start(["redis-server", path, "--sentinel"], SENTINEL_PORT, tmp_path, "sentinel")
        processes.append(process)
        return client

    yield run_redis, run_sentinel
    for process in processes:
        stop(process)


def sentinel_master(client):
    state = client.execute_command("SENTINEL", "MASTER", APP)
    return state if isinstance(state, dict) else dict(zip(state[::2], state[1::2]))


def test_every_accepted_directive_has_a_sample_that_is_not_its_default():
    assert set(REDIS_SAMPLES) == set(custom_config.REDIS)
    assert set(SENTINEL_SAMPLES) == set(custom_config.SENTINEL)
    for table, samples in ((custom_config.REDIS, REDIS_SAMPLES), (custom_config.SENTINEL, SENTINEL_SAMPLES)):
        for name, value in samples.items():
            assert table[name].check(value) != table[name].default, name


def test_defaults_are_what_a_pod_started_without_lines_reports(running):
    run_redis, run_sentinel = running
    parsed = settings.parse({}, 1, app_name=APP)
    reported = run_redis(parsed).config_get("*")
    assert {name: reported[name] for name in custom_config.REDIS} == {
        name: d.default for name, d in custom_config.REDIS.items()}
    state = sentinel_master(run_sentinel(parsed))
    assert {name: str(state[name]) for name in custom_config.SENTINEL} == {
        name: d.default for name, d in custom_config.SENTINEL.items()}


def test_lines_are_taken_at_start_and_read_back_as_set(running):
    run_redis, run_sentinel = running
    parsed = settings.parse({"redis-config": "\n".join(" ".join(item) for item in REDIS_SAMPLES.items()),
                             "sentinel-config": "\n".join(" ".join(item) for item in SENTINEL_SAMPLES.items())},
                            1, app_name=APP)
    reported = run_redis(parsed).config_get("*")
    for name, value in parsed.custom.redis_wanted().items():
        assert custom_config.same(custom_config.REDIS, name, reported[name], value), (name, reported[name])
    state = sentinel_master(run_sentinel(parsed))
    assert str(state["parallel-syncs"]) == "2"


def test_lines_are_applied_live_then_undone_and_nothing_is_set_twice(running):
    run_redis, run_sentinel = running
    plain = settings.parse({}, 1, app_name=APP)
    client, sentinel = run_redis(plain), run_sentinel(plain)
    custom = settings.parse({"redis-config": "\n".join(" ".join(item) for item in REDIS_SAMPLES.items()),
                             "sentinel-config": "parallel-syncs 2"}, 1, app_name=APP)

    def connect(host, port, password):
        return redis.Redis(host=HOST, port=SENTINEL_PORT if port == custom.sentinel_port else REDIS_PORT,
                           socket_timeout=2, decode_responses=True)

    for parsed in (custom, plain):
        assert live.apply_settings([HOST], parsed, None, connect=connect) == []
        reported = client.config_get("*")
        wanted = live.redis_settings(parsed)
        assert live._differences(reported, wanted, custom_config.REDIS) == []
        state = sentinel_master(sentinel)
        assert live._differences(state, live.sentinel_settings(parsed), custom_config.SENTINEL) == []
    assert client.config_get("hz")["hz"] == "10" and str(sentinel_master(sentinel)["parallel-syncs"]) == "1"
