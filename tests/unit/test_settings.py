import pytest

from redis_k8s import settings
from redis_k8s.settings import ConfigError, parse


def test_defaults_parse_to_the_documented_values():
    s = parse({}, 3)
    assert (s.port, s.sentinel_port, s.metrics_port, s.password) == (6379, 26379, 9121, "")
    assert (s.down_after_ms, s.failover_timeout_ms) == (5000, 30000)
    assert (s.min_replicas_to_write_option, s.min_replicas_max_lag_option) == (-1, -1)
    assert s.min_replicas_max_lag == 3  # automatic, from down-after-milliseconds 5000
    assert s.appendonly is True and s.maxmemory == "" and s.maxmemory_policy == "noeviction"


def test_null_values_take_defaults_and_unknown_options_are_ignored():
    s = parse({"port": None, "some-layer-option": "x"}, 1)
    assert s.port == 6379


@pytest.mark.parametrize("raw, option, hint", [
    ({"port": 0}, "port", "1-65535"),
    ({"port": 70000}, "port", "set port to 1-65535"),
    ({"port": "6379"}, "port", "not an integer"),
    ({"port": True}, "port", "not an integer"),
    ({"port": 6379.5}, "port", "not an integer"),
    ({"sentinel-port": 65536}, "sentinel-port", "1-65535"),
    ({"port": 7000, "sentinel-port": 7000}, "sentinel-port", "different values"),
    ({"metrics-port": 0}, "metrics-port", "1-65535"),
    ({"metrics-port": 65536}, "metrics-port", "1-65535"),
    ({"metrics-port": "9121"}, "metrics-port", "not an integer"),
    ({"metrics-port": 6379}, "metrics-port", "also the port"),
    ({"metrics-port": 26379}, "metrics-port", "also the sentinel-port"),
    ({"port": 7000, "metrics-port": 7000}, "metrics-port", "another value"),
    ({"password": "short"}, "password", "too short"),
    ({"password": "has a space"}, "password", "whitespace"),
    ({"password": 'quote"inside'}, "password", "unsupported characters"),
    ({"password": "x" * 129}, "password", "too long"),
    ({"password": 12345678}, "password", "not a string"),
    ({"down-after-milliseconds": -1}, "down-after-milliseconds", ">= 100"),
    ({"down-after-milliseconds": 50}, "down-after-milliseconds", ">= 100"),
    ({"failover-timeout": 999}, "failover-timeout", ">= 1000"),
    ({"failover-timeout": -30000}, "failover-timeout", ">= 1000"),
    ({"min-replicas-to-write": -2}, "min-replicas-to-write", "-1 (automatic)"),
    ({"min-replicas-to-write": "1"}, "min-replicas-to-write", "-1 (automatic)"),
    ({"min-replicas-max-lag": 0}, "min-replicas-max-lag", "-1 (automatic"),
    ({"min-replicas-max-lag": -2}, "min-replicas-max-lag", "-1 (automatic"),
    ({"min-replicas-max-lag": "5"}, "min-replicas-max-lag", "not an integer"),
    ({"min-replicas-max-lag": True}, "min-replicas-max-lag", "not an integer"),
    ({"appendonly": "yes"}, "appendonly", "true or false"),
    ({"maxmemory": "lots"}, "maxmemory", "512mb"),
    ({"maxmemory": "-5mb"}, "maxmemory", "512mb"),
    ({"maxmemory": 512}, "maxmemory", "not a string"),
    ({"maxmemory-policy": "allkeys-fifo"}, "maxmemory-policy", "allkeys-lru"),
    ({"enable-tls": "yes"}, "enable-tls", "true or false"),
    ({"tls-auth-clients": "required"}, "tls-auth-clients", "no, optional, yes"),
    ({"tls-auth-clients": True}, "tls-auth-clients", "no, optional, yes"),
    ({"non-tls-port": -1}, "non-tls-port", "0 (no plain port)"),
    ({"non-tls-port": 65536}, "non-tls-port", "out of range"),
    ({"non-tls-port": "6380"}, "non-tls-port", "not an integer"),
    ({"non-tls-port": 6379}, "non-tls-port", "also the port"),
    ({"non-tls-port": 26379}, "non-tls-port", "also the sentinel-port"),
    ({"non-tls-port": 9121}, "non-tls-port", "also the metrics-port"),
])
def test_invalid_values_raise_a_config_error_naming_option_and_fix(raw, option, hint):
    with pytest.raises(ConfigError) as e:
        parse(raw, 3)
    assert e.value.option == option
    assert str(e.value).startswith(option + ": ")
    assert hint in str(e.value)
    assert "set " + option in str(e.value) or "set port and sentinel-port" in str(e.value)


def test_error_message_for_a_port_out_of_range():
    with pytest.raises(ConfigError) as e:
        parse({"port": 70000}, 3)
    assert str(e.value) == "port: 70000 is out of range; set port to 1-65535"


def test_password_errors_never_repeat_the_password():
    with pytest.raises(ConfigError) as e:
        parse({"password": "bad pass word"}, 3)
    assert "bad pass word" not in str(e.value)


@pytest.mark.parametrize("raw", [
    {"port": 1, "sentinel-port": 65535},
    {"metrics-port": 1},
    {"port": 9121, "metrics-port": 9122},
    {"password": "Abc123!#$%&()*+,-./:;<=>?@[]^_{|}~"},
    {"maxmemory": "512MB"},
    {"maxmemory": "1gb", "maxmemory-policy": "allkeys-lru"},
    {"maxmemory": "1048576"},
    {"min-replicas-to-write": 0},
    {"appendonly": False},
    {"down-after-milliseconds": 100, "failover-timeout": 1000},
    {"enable-tls": True, "tls-auth-clients": "yes", "non-tls-port": 6380},
    {"enable-tls": False, "non-tls-port": 65535},
])
def test_valid_values_are_accepted(raw):
    parse(raw, 3)


def test_maxmemory_is_normalised():
    assert parse({"maxmemory": " 512MB "}, 1).maxmemory == "512mb"


@pytest.mark.parametrize("units, quorum, auto_min", [(1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 1)])
def test_count_dependent_values(units, quorum, auto_min):
    s = parse({}, units)
    assert s.quorum == quorum == settings.expected_quorum(units)
    assert s.min_replicas_to_write == auto_min


def test_explicit_min_replicas_wins_over_auto():
    assert parse({"min-replicas-to-write": 2}, 3).min_replicas_to_write == 2
    assert parse({"min-replicas-to-write": 0}, 3).min_replicas_to_write == 0


@pytest.mark.parametrize("units, highest", [(1, 0), (2, 1), (3, 2), (5, 4)])
def test_min_replicas_to_write_may_be_at_most_the_replicas_the_unit_count_gives(units, highest):
    assert parse({"min-replicas-to-write": highest}, units).min_replicas_to_write == highest
    assert parse({"min-replicas-to-write": -1}, units).min_replicas_to_write_option == -1
    with pytest.raises(ConfigError) as e:
        parse({"min-replicas-to-write": highest + 1}, units)
    assert e.value.option == "min-replicas-to-write"
    # The message gives the limit for this unit count and the fix.
    assert "set min-replicas-to-write to -1 (automatic) or 0-{} for {} unit".format(highest, units) in str(e.value)
    assert "refuse every write" in str(e.value)


def test_min_replicas_to_write_99_with_3_units_is_refused_with_the_limit():
    with pytest.raises(ConfigError) as e:
        parse({"min-replicas-to-write": 99}, 3)
    assert str(e.value) == (
        "min-replicas-to-write: 99 is more than the 2 replicas 3 units have: the master would "
        "refuse every write; set min-replicas-to-write to -1 (automatic) or 0-2 for 3 units, "
        "or add units first")


@pytest.mark.parametrize("value", [-2, -100])
def test_min_replicas_to_write_below_automatic_is_refused(value):
    with pytest.raises(ConfigError) as e:
        parse({"min-replicas-to-write": value}, 3)
    assert str(e.value) == ("min-replicas-to-write: {} is not valid (-1 is automatic, below it means "
                            "nothing); set min-replicas-to-write to -1 (automatic) or 0-2 for 3 units".format(value))


def test_repr_hides_the_password():
    s = parse({"password": "TopSecret123"}, 3)
    assert "TopSecret123" not in repr(s)
    assert "TopSecret123" not in str(s)


def test_bad_unit_count_is_a_programming_error():
    with pytest.raises(ValueError):
        parse({}, -1)


def test_master_name_is_the_application_name(monkeypatch):
    assert parse({}, 1, app_name="cache").master_name == "cache"
    monkeypatch.setenv("JUJU_UNIT_NAME", "my-redis/3")
    assert parse({}, 1).master_name == "my-redis"
    monkeypatch.delenv("JUJU_UNIT_NAME")
    assert parse({}, 1).master_name == "redis-k8s"


@pytest.mark.parametrize("down_after_ms, lag", [
    (100, 1), (2000, 1), (2999, 1), (3000, 1), (3999, 1), (4000, 2), (5000, 3), (30000, 28)])
def test_automatic_max_lag_is_down_after_less_two_seconds_and_at_least_one(down_after_ms, lag):
    s = parse({"down-after-milliseconds": down_after_ms}, 3)
    assert s.min_replicas_max_lag_option == -1
    assert s.min_replicas_max_lag == lag


def test_automatic_max_lag_refuses_by_down_after_at_worst_from_three_seconds_on():
    # Redis refuses at most lag + 2 s after the replicas' last acknowledgement (whole seconds,
    # ACKs and recounts once a second): by down-after, before a failover can begin.
    for down_after_ms in range(3000, 60001, 250):
        assert settings.derived_max_lag(down_after_ms) + 2 <= down_after_ms / 1000
    # 0 would turn the limit off in Redis: never derived.
    assert min(settings.derived_max_lag(ms) for ms in range(100, 5000, 50)) == 1


def test_a_set_max_lag_is_kept_whatever_down_after_is():
    assert parse({"min-replicas-max-lag": 10, "down-after-milliseconds": 2000}, 3).min_replicas_max_lag == 10
    assert parse({"min-replicas-max-lag": 1, "down-after-milliseconds": 60000}, 3).min_replicas_max_lag == 1


@pytest.mark.parametrize("down_after_ms, fence_ms", [
    (100, 250), (2000, 250), (4000, 500), (30000, 3750)])
def test_automatic_fence_closes_links_after_an_eighth_of_down_after_and_no_sooner_than_250_ms(
        down_after_ms, fence_ms):
    assert parse({"down-after-milliseconds": down_after_ms}, 3).fence_after_ms == fence_ms


def test_a_set_max_lag_is_the_fence_too_so_it_never_refuses_writes_redis_would_take():
    assert parse({"min-replicas-max-lag": 10, "down-after-milliseconds": 2000}, 3).fence_after_ms == 10000
    assert parse({"min-replicas-max-lag": 1, "down-after-milliseconds": 60000}, 3).fence_after_ms == 1000


def test_max_lag_zero_is_refused_because_redis_reads_it_as_no_limit():
    with pytest.raises(ConfigError) as e:
        parse({"min-replicas-max-lag": 0}, 3)
    assert "without limit" in str(e.value)


def test_tls_is_off_by_default_with_optional_client_certificates_and_no_plain_port():
    s = parse({}, 3)
    assert (s.tls, s.tls_auth_clients, s.non_tls_port) == (False, "optional", 0)


def test_tls_options_are_parsed_and_tls_auth_clients_normalised():
    s = parse({"enable-tls": True, "tls-auth-clients": " YES ", "non-tls-port": 6380}, 3)
    assert (s.tls, s.tls_auth_clients, s.non_tls_port) == (True, "yes", 6380)
