"""redis-config and sentinel-config: parsing, checks, refusals, rendering."""

import pytest

from redis_k8s import custom_config, podspec, settings, templating
from redis_k8s.custom_config import REDIS, SENTINEL
from redis_k8s.settings import ConfigError, parse


def refusal(raw):
    with pytest.raises(ConfigError) as error:
        parse(raw, 3)
    return error.value


def test_empty_options_add_nothing():
    assert parse({}, 3).custom == custom_config.CustomConfig()
    assert parse({"redis-config": "", "sentinel-config": None}, 3).custom == custom_config.CustomConfig()


def test_lines_are_checked_and_kept_in_order_as_redis_takes_them():
    custom = parse({"redis-config": "\n".join([
        "# tuning",
        "HZ 020",
        "",
        "  maxmemory-samples   7  ",
        'save ""',
        "repl-backlog-size 64MB",
        "client-output-buffer-limit replica 512mb 128mb 60",
        "loglevel WARNING",
        "notify-keyspace-events Ex",
    ]), "sentinel-config": "parallel-syncs 2\n"}, 3).custom
    assert custom.redis == (
        ("hz", "20"), ("maxmemory-samples", "7"), ("save", ""), ("repl-backlog-size", str(64 * 1024 ** 2)),
        ("client-output-buffer-limit", "normal 0 0 0 slave 536870912 134217728 60 pubsub 33554432 8388608 60"),
        ("loglevel", "warning"), ("notify-keyspace-events", "Ex"))
    assert custom.sentinel == (("parallel-syncs", "2"),)
    wanted = custom.redis_wanted()
    assert set(wanted) == set(REDIS)
    assert (wanted["hz"], wanted["timeout"]) == ("20", "0")
    assert custom.sentinel_wanted() == {"parallel-syncs": "2"}


@pytest.mark.parametrize("option, text, number, reason", [
    # the charm's options: refused, pointing to the option
    ("redis-config", "port 6380", 1, "port is the charm's option port: set port instead"),
    ("redis-config", "hz 20\nmaxmemory 1gb", 2, "set maxmemory instead"),
    ("redis-config", "appendonly no", 1, "set appendonly instead"),
    ("redis-config", "min-replicas-to-write 2", 1, "set min-replicas-to-write instead"),
    ("redis-config", "min-slaves-max-lag 2", 1, "set min-replicas-max-lag instead"),
    ("sentinel-config", "down-after-milliseconds 1000", 1, "set down-after-milliseconds instead"),
    ("sentinel-config", "failover-timeout 1000", 1, "set failover-timeout instead"),
    # what the charm sets itself
    ("redis-config", "bind 0.0.0.0", 1, "set by the charm for each pod"),
    ("redis-config", "replicaof a 6379", 1, "the sentinels and the charm decide who replicates whom"),
    ("redis-config", "slaveof a 6379", 1, "who replicates whom"),
    ("redis-config", "replica-announce-ip x", 1, "who replicates whom"),
    ("redis-config", "dir /tmp", 1, "storage"),
    ("redis-config", "dbfilename x.rdb", 1, "storage"),
    ("redis-config", "appendfilename x.aof", 1, "storage"),
    ("redis-config", "appenddirname x", 1, "storage"),
    ("redis-config", "daemonize yes", 1, "foreground"),
    ("redis-config", "logfile /tmp/x", 1, "foreground"),
    ("redis-config", "protected-mode no", 1, "set by the charm"),
    ("redis-config", "include /etc/x.conf", 1, "only the charm's configuration"),
    ("redis-config", "rename-command CONFIG x", 1, "standard commands"),
    ("redis-config", "replica-priority 10", 1, "never promoted"),
    ("redis-config", "repl-diskless-sync-delay 5", 1, "resync at once"),
    ("redis-config", "shutdown-timeout 30", 1, "grace period"),
    ("redis-config", "cluster-enabled yes", 1, "not Redis Cluster"),
    ("redis-config", "tls-port 6380", 1, "TLS"),
    ("redis-config", "maxclients 100", 1, "open-file limit"),
    ("redis-config", "sentinel parallel-syncs 2", 1, "belongs in sentinel-config"),
    ("sentinel-config", "monitor m a 6379 2", 1, "follow the current master"),
    ("sentinel-config", "quorum 1", 1, "a majority of the units"),
    ("sentinel-config", "announce-ip x", 1, "pod's DNS name"),
    ("sentinel-config", "resolve-hostnames no", 1, "pod's DNS name"),
    ("sentinel-config", "notification-script /bin/true", 1, "deny-scripts-reconfig"),
    ("sentinel-config", "master-reboot-down-after-period 1000", 1, "do not report it"),
    ("sentinel-config", "sentinel parallel-syncs redis-k8s 2", 1, 'write the directive alone, e.g. "parallel-syncs 2"'),
])
def test_directives_the_charm_owns_are_refused_naming_the_line_and_the_reason(option, text, number, reason):
    error = refusal({option: text})
    line = text.splitlines()[number - 1]
    assert error.option == option
    assert str(error).startswith('{}: line {} "{}": '.format(option, number, line))
    assert reason in str(error)
    assert str(error).endswith("; remove that line")


@pytest.mark.parametrize("option, text, number, reason", [
    ("redis-config", "bogus 1", 1, "bogus is not a directive redis-config accepts (the README lists them)"),
    ("redis-config", "# fine\nhz", 2, 'hz has no value (write "" for an empty one)'),
    ("redis-config", "hz 0", 1, "hz '0' is not valid: out of range 1..500"),
    ("redis-config", "hz 501", 1, "out of range 1..500"),
    ("redis-config", "hz twenty", 1, "not a whole number"),
    ("redis-config", "hz 20\n\nhz 30", 3, "hz is already set on line 1"),
    ("redis-config", "maxmemory-samples 65", 1, "out of range 1..64"),
    ("redis-config", "dynamic-hz maybe", 1, "not one of yes, no"),
    ("redis-config", "appendfsync sometimes", 1, "not one of always, everysec, no"),
    ("redis-config", "repl-backlog-size lots", 1, "not a size"),
    ("redis-config", "repl-backlog-size 1kb", 1, "at least 16384 bytes"),
    ("redis-config", "save 900", 1, "not pairs"),
    ("redis-config", "save 0 1", 1, "seconds must be 1 or more"),
    ("redis-config", 'save "900 1"', 1, "quotes are not allowed"),
    ("redis-config", "notify-keyspace-events Exq", 1, "unknown event class 'q'"),
    ("redis-config", "client-output-buffer-limit replica 1mb 1mb", 1, "not groups of"),
    ("redis-config", "client-output-buffer-limit master 1mb 1mb 60", 1, "unknown client class 'master'"),
    ("redis-config", "slowlog-log-slower-than -2", 1, "out of range -1.."),
    ("sentinel-config", "parallel-syncs 0", 1, "out of range 1.."),
    ("sentinel-config", "bogus 1", 1, "bogus is not a directive sentinel-config accepts"),
])
def test_unknown_directives_and_malformed_values_are_refused_naming_the_line_and_the_reason(
        option, text, number, reason):
    error = refusal({option: text})
    line = text.splitlines()[number - 1].strip()
    assert error.option == option
    assert str(error).startswith('{}: line {} "{}": '.format(option, number, line))
    assert reason in str(error)
    assert str(error).endswith("; correct or remove that line")


@pytest.mark.parametrize("option, text", [
    ("redis-config", "requirepass hunter2hunter2"), ("redis-config", "masterauth hunter2hunter2"),
    ("redis-config", "user default on >hunter2hunter2"), ("sentinel-config", "auth-pass hunter2hunter2"),
    ("sentinel-config", "sentinel-pass hunter2hunter2"),
])
def test_a_refused_line_that_may_hold_a_password_is_not_repeated(option, text):
    error = refusal({option: text})
    assert "hunter2" not in str(error)
    assert str(error).startswith('{}: line 1 "{} ***": '.format(option, text.split()[0]))
    assert str(error).endswith("; remove that line")


def test_a_long_line_is_shortened_in_the_message():
    error = refusal({"redis-config": "bogus " + "x" * 200})
    assert 'line 1 "bogus xxx' in str(error) and '..."' in str(error)
    assert len(str(error)) < 200


def test_options_that_are_not_text_are_refused():
    assert refusal({"redis-config": 5}).option == "redis-config"
    assert refusal({"sentinel-config": True}).option == "sentinel-config"


def test_refused_and_accepted_directives_never_overlap():
    assert not set(REDIS) & set(custom_config.REDIS_REFUSED)
    assert not set(SENTINEL) & set(custom_config.SENTINEL_REFUSED)
    for name in REDIS:
        assert not any(name.startswith(p) for p in custom_config.REDIS_REFUSED_PREFIXES)


def test_each_default_passes_its_own_check_as_it_is():
    for table in (REDIS, SENTINEL):
        for name, directive in table.items():
            assert directive.check(directive.default) == directive.default, name


@pytest.mark.parametrize("value, reported", [
    ("", ""), ("Ex", "xE"), ("KEA", "AKE"), ("Kx$g", "g$xK"), ("AKEm", "AKEm"), ("An", "A"),
    ("gn", "gn"), ("KEg$lshzxetdn", "AKE"), ("m", "m"),
])
def test_keyspace_events_compare_as_redis_7_0_reports_them(value, reported):
    # Readings of a Redis 7.0.15 server after CONFIG SET notify-keyspace-events <value>.
    assert custom_config.keyspace_events_reported(value) == reported
    assert REDIS["notify-keyspace-events"].same(reported, value)


def template_context(raw):
    return podspec.template_context("redis-k8s", settings.parse(raw, 3))


def test_the_base_configuration_sets_none_of_the_directives_the_options_accept():
    # A removed line must leave Redis' default, which is what the leader applies live.
    redis_conf = templating.render("redis.conf", **template_context({}))
    sentinel_conf = (templating.render("sentinel.conf", **template_context({}))
                     + templating.render("sentinel-master.conf", **template_context({})))
    redis_names = {line.split()[0] for line in redis_conf.splitlines() if line and not line.startswith("#")}
    sentinel_names = {line.split()[1] for line in sentinel_conf.splitlines()
                      if line.startswith("sentinel ")}
    assert redis_names and not redis_names & set(REDIS)
    assert sentinel_names and not sentinel_names & set(SENTINEL)


def test_lines_are_rendered_into_the_files_a_restarted_pod_reads():
    context = template_context({"redis-config": "hz 20\nsave \"\"\nrepl-backlog-size 2mb",
                                "sentinel-config": "parallel-syncs 2"})
    redis_conf = templating.render("redis.conf", **context)
    assert redis_conf.endswith('# redis-config\nhz 20\nsave ""\nrepl-backlog-size 2097152\n')
    master_conf = templating.render("sentinel-master.conf", **context)
    assert master_conf.endswith("sentinel parallel-syncs redis-k8s 2\n")
    plain = template_context({})
    assert "# redis-config" not in templating.render("redis.conf", **plain)
    assert templating.render("sentinel-master.conf", **plain).endswith("30000\n")


def test_the_readme_lists_every_directive_the_options_accept():
    # An unknown directive's message sends the user to the README's list.
    import os
    readme = os.path.join(os.path.dirname(templating.TEMPLATES_DIR), "README.md")
    with open(readme) as handle:
        text = " ".join(handle.read().split())
    section = text[text.index("Accepted in `redis-config`"):text.index("Refused, with the reason")]
    for name in list(REDIS) + list(SENTINEL):
        assert "`{}`".format(name) in section, name
