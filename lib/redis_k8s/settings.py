"""Validated charm settings: ``parse(config, unit_count)`` or a ConfigError naming the fix."""

import os
import re
from dataclasses import dataclass, field

from . import custom_config, passwords

MAXMEMORY_POLICIES = (
    "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
)
_MAXMEMORY = re.compile(r"^[0-9]+(b|k|kb|m|mb|g|gb)?$", re.IGNORECASE)

DEFAULTS = {
    "port": 6379,
    "sentinel-port": 26379,
    "metrics-port": 9121,
    "password": "",
    "down-after-milliseconds": 5000,
    "failover-timeout": 30000,
    "min-replicas-to-write": -1,
    "min-replicas-max-lag": -1,
    "appendonly": True,
    "maxmemory": "",
    "maxmemory-policy": "noeviction",
    "redis-config": "",
    "sentinel-config": "",
    "enable-tls": False,
    "tls-auth-clients": "optional",
    "non-tls-port": 0,
}

# tls-auth-clients values Redis 7.0 accepts (config.c, tls_auth_clients_enum).
TLS_AUTH_CLIENTS = ("no", "optional", "yes")


class ConfigError(ValueError):
    """An option has an unusable value; ``str()`` names the option and how to fix it."""

    def __init__(self, option: str, message: str):
        super().__init__(option, message)
        self.option = option
        self.message = message

    def __str__(self):
        return "{}: {}".format(self.option, self.message)


@dataclass(frozen=True)
class Settings:
    """The charm configuration, checked.

    Attributes that depend on the unit count (``quorum``, ``min_replicas_to_write``) are applied
    live by the leader; the pod spec only uses the others, so scaling never rolls the pods.
    """

    port: int
    sentinel_port: int
    password: str
    down_after_ms: int
    failover_timeout_ms: int
    min_replicas_to_write_option: int
    min_replicas_max_lag_option: int
    appendonly: bool
    maxmemory: str
    maxmemory_policy: str
    unit_count: int
    master_name: str
    custom: custom_config.CustomConfig = field(default_factory=custom_config.CustomConfig)
    # The redis-exporter container's port (on the pod's address).
    metrics_port: int = DEFAULTS["metrics-port"]
    # TLS (enable-tls, tls-auth-clients, non-tls-port): with tls on, ``port`` is the TLS port
    # and ``non_tls_port`` (0 = none) a plain one kept for legacy consumers.
    tls: bool = DEFAULTS["enable-tls"]
    tls_auth_clients: str = DEFAULTS["tls-auth-clients"]
    non_tls_port: int = DEFAULTS["non-tls-port"]

    @property
    def quorum(self) -> int:
        """Sentinel quorum for the current unit count."""
        return expected_quorum(self.unit_count)

    @property
    def min_replicas_to_write(self) -> int:
        """Effective ``min-replicas-to-write`` for the current unit count."""
        return effective_min_replicas(self.min_replicas_to_write_option, self.unit_count)

    @property
    def min_replicas_max_lag(self) -> int:
        """Effective ``min-replicas-max-lag`` (seconds): the option, or derived from
        ``down-after-milliseconds`` when automatic (:func:`derived_max_lag`)."""
        return effective_max_lag(self.min_replicas_max_lag_option, self.down_after_ms)

    @property
    def fence_after_ms(self) -> int:
        """How long a master goes without an answer from enough replicas before it closes their
        links (:func:`effective_fence_ms`)."""
        return effective_fence_ms(self.min_replicas_max_lag_option, self.down_after_ms)

    def __repr__(self):
        # Settings end up in logs and tracebacks: never show the password.
        fields = ", ".join(
            "{}={!r}".format(k, "***" if k == "password" and v else v)
            for k, v in self.__dict__.items())
        return "Settings({})".format(fields)


def expected_quorum(unit_count: int) -> int:
    """Return the sentinel quorum for ``unit_count`` sentinels: a strict majority."""
    return max(1, unit_count) // 2 + 1


def effective_min_replicas(option: int, unit_count: int) -> int:
    """Return ``min-replicas-to-write`` for an option value (-1 = auto) and a unit count."""
    if option >= 0:
        return option
    return 1 if unit_count >= 3 else 0


# Whole seconds a master may go without a replica's acknowledgement before it stops counting
# that replica (Redis 7.0 reads 0 as "no limit", so 1 is the least). See derived_max_lag.
MIN_MAX_LAG_S = 1


def derived_max_lag(down_after_ms: int) -> int:
    """``min-replicas-max-lag`` (seconds) for ``down-after-milliseconds`` when the option is -1.

    A master cut off from its replicas (or frozen) must refuse writes before the sentinels can
    have promoted one of them: whatever it acknowledges after that is discarded when it rejoins.
    Redis 7.0 (``refreshGoodSlavesCount`` in replication.c) counts a replica while
    ``unixtime - repl_ack_time <= min-replicas-max-lag``, both in whole seconds; replicas send
    ``REPLCONF ACK`` once a second (``replicationCron``) and the master recounts in its own
    ``replicationCron``, once a second (and when a replica's link closes). So a master that last
    heard a replica just before the cut refuses writes at most ``lag + 2`` s after it (the whole
    second the ACK fell in, one more second of lag, one more until the recount), at best
    ``lag - 1`` s after.

    The sentinels cannot promote before ``down-after-milliseconds`` has passed since the cut;
    then they still need to agree it is down, elect a leader and promote (a second or more).
    ``down-after - 2 s`` makes the worst case refuse by ``down-after`` itself, before any
    failover can start. Below 3000 ms that would be 0 (no limit at all), so the floor is 1 s:
    refusal by 3 s after the cut at worst, about 1.5 s typically, while the failover at
    down-after 2000 promotes about 3-4 s after it.

    On a healthy cluster a replica drops out only when two ACK periods pass without one (its
    ACK a second late): with one replica needed of two, both would have to be late at once.
    """
    return max(MIN_MAX_LAG_S, (int(down_after_ms) - 2000) // 1000)


def effective_max_lag(option: int, down_after_ms: int) -> int:
    """``min-replicas-max-lag`` for an option value (-1 = automatic) and ``down-after-milliseconds``."""
    if option >= 1:
        return option
    return derived_max_lag(down_after_ms)


# The least wait of the write fence: a needless fence refuses writes until the replicas reconnect
# (a second), and every replica must fail to answer a question within its timeout for one.
MIN_FENCE_MS = 250


def effective_fence_ms(max_lag_option: int, down_after_ms: int) -> int:
    """Milliseconds without an answer from ``min-replicas-to-write`` replicas after which the
    master's pod closes its replicas' links, so that Redis refuses writes (see templates/fence.sh).

    Redis' own ``min-replicas-max-lag`` refuses writes up to ``lag + 2`` s after the replicas
    went silent (:func:`derived_max_lag`); the fence asks the replicas itself, several times a
    second, so a master cut off from them stops acknowledging within a fraction of the time a
    failover takes. Automatic (-1): an eighth of ``down-after-milliseconds``, at least
    ``MIN_FENCE_MS`` (250 ms at 2000, where the sentinels promote 3 s or more after a cut). An
    explicit ``min-replicas-max-lag`` is the operator's own tolerance of silent replicas: the
    fence then waits that long, and never refuses writes sooner than Redis would.
    """
    if max_lag_option >= 1:
        return max_lag_option * 1000
    return max(MIN_FENCE_MS, int(down_after_ms) // 8)


def _get(raw: dict, option: str):
    value = raw.get(option)
    return DEFAULTS[option] if value is None else value


def _int(raw: dict, option: str, low: int, high: int = None, fix: str = None) -> int:
    value = _get(raw, option)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(option, "{!r} is not an integer; set {} to a whole number".format(value, option))
    if value < low or (high is not None and value > high):
        bounds = "{}-{}".format(low, high) if high is not None else ">= {}".format(low)
        raise ConfigError(option, fix or "{} is out of range; set {} to {}".format(value, option, bounds))
    return value


def _str(raw: dict, option: str) -> str:
    value = _get(raw, option)
    if not isinstance(value, str):
        raise ConfigError(option, "{!r} is not a string; set {} to a text value".format(value, option))
    return value.strip() if option != "password" else value


def _min_replicas_to_write(raw: dict, unit_count: int) -> int:
    """``min-replicas-to-write``: -1 (automatic) or 0 up to the number of replicas the unit count
    gives (units - 1); more and the master refuses every write even with every pod up."""
    option = "min-replicas-to-write"
    value = _get(raw, option)
    most = max(0, unit_count - 1)
    fix = "set {} to -1 (automatic) or 0-{} for {} unit{}".format(
        option, most, unit_count, "" if unit_count == 1 else "s")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(option, "{!r} is not an integer; {}".format(value, fix))
    if value < -1:
        raise ConfigError(option, "{} is not valid (-1 is automatic, below it means nothing); {}".format(
            value, fix))
    if value > most:
        raise ConfigError(option, "{} is more than the {} replica{} {} unit{} have: the master would "
                                  "refuse every write; {}, or add units first".format(
                                      value, most, "" if most == 1 else "s", unit_count,
                                      "" if unit_count == 1 else "s", fix))
    return value


def _min_replicas_max_lag(raw: dict) -> int:
    """``min-replicas-max-lag``: -1 (automatic, from down-after-milliseconds) or 1 or more.

    0 is refused: Redis reads it as "no limit", so a master cut off from its replicas would go
    on acknowledging writes that the failover then discards."""
    option = "min-replicas-max-lag"
    value = _get(raw, option)
    fix = "set {} to -1 (automatic: down-after-milliseconds less 2 s, at least 1 s) or to " \
          "1 or more seconds".format(option)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(option, "{!r} is not an integer; {}".format(value, fix))
    if value == 0:
        raise ConfigError(option, "0 would let a master cut off from its replicas acknowledge "
                                  "writes without limit; {}".format(fix))
    if value < -1:
        raise ConfigError(option, "{} is not valid (-1 is automatic, below it means nothing); {}".format(
            value, fix))
    return value


def _metrics_port(raw: dict, port: int, sentinel_port: int) -> int:
    """``metrics-port``: 1-65535, and neither Redis' nor Sentinel's port (the exporter listens on
    the same pod address as both)."""
    option = "metrics-port"
    value = _int(raw, option, 1, 65535)
    for other, taken in (("port", port), ("sentinel-port", sentinel_port)):
        if value == taken:
            raise ConfigError(option, "{} is also the {} of the pods; set metrics-port to another "
                                      "value (1-65535, default 9121)".format(value, other))
    return value


def _tls(raw: dict, port: int, sentinel_port: int, metrics_port: int):
    """``enable-tls``, ``tls-auth-clients`` and ``non-tls-port`` (0, or a port no other option
    uses: it is served on the same pod address)."""
    enabled = _get(raw, "enable-tls")
    if not isinstance(enabled, bool):
        raise ConfigError("enable-tls", "{!r} is not a boolean; set enable-tls to true or false".format(enabled))
    auth = _get(raw, "tls-auth-clients")
    if not isinstance(auth, str) or auth.strip().lower() not in TLS_AUTH_CLIENTS:
        raise ConfigError("tls-auth-clients", "{!r} is not valid; set tls-auth-clients to one of {}".format(
            auth, ", ".join(TLS_AUTH_CLIENTS)))
    option = "non-tls-port"
    fix = "set non-tls-port to 0 (no plain port) or to a free port 1-65535"
    plain = _get(raw, option)
    if isinstance(plain, bool) or not isinstance(plain, int):
        raise ConfigError(option, "{!r} is not an integer; {}".format(plain, fix))
    if plain < 0 or plain > 65535:
        raise ConfigError(option, "{} is out of range; {}".format(plain, fix))
    for other, taken in (("port", port), ("sentinel-port", sentinel_port), ("metrics-port", metrics_port)):
        if plain == taken:
            raise ConfigError(option, "{} is also the {} of the pods; {}".format(plain, other, fix))
    return enabled, auth.strip().lower(), plain


def _custom_config(raw: dict) -> custom_config.CustomConfig:
    """``redis-config`` and ``sentinel-config``, checked line by line (``custom_config``)."""
    texts = {}
    for option in (custom_config.REDIS_OPTION, custom_config.SENTINEL_OPTION):
        value = _get(raw, option)
        if not isinstance(value, str):
            raise ConfigError(option, "{!r} is not a string; set {} to lines of \"directive value\"".format(
                value, option))
        texts[option] = value
    try:
        return custom_config.parse(texts[custom_config.REDIS_OPTION], texts[custom_config.SENTINEL_OPTION])
    except custom_config.CustomConfigError as error:
        raise ConfigError(error.option, str(error))


def _app_name_from_env() -> str:
    unit = os.environ.get("JUJU_UNIT_NAME", "")
    return unit.split("/", 1)[0] if unit else "redis-k8s"


def parse(raw_config: dict, unit_count: int, app_name: str = None) -> Settings:
    """Check ``raw_config`` (as ``config-get`` returns it) and return the Settings.

    Missing or null options take their default; unknown options are ignored (layers add their own).
    ``app_name`` names the Sentinel master group (``naming.master_name``); by default it is read
    from ``JUJU_UNIT_NAME`` as in a hook, else ``redis-k8s``.

    Raises:
        ConfigError: the first unusable option, with the fix.
    """
    raw = dict(raw_config or {})
    port = _int(raw, "port", 1, 65535)
    sentinel_port = _int(raw, "sentinel-port", 1, 65535)
    if port == sentinel_port:
        raise ConfigError("sentinel-port", "{} is also the Redis port; set port and sentinel-port "
                                           "to different values".format(sentinel_port))
    metrics_port = _metrics_port(raw, port, sentinel_port)
    password = _get(raw, "password")
    if not isinstance(password, str):
        raise ConfigError("password", "is not a string; set password to a text value or \"\"")
    if password:
        why = passwords.problem(password)
        if why:
            raise ConfigError("password", "{}; set password to {}-{} characters from letters, digits "
                                          "and punctuation that do not form a number or another JSON "
                                          "value, or to \"\" to have one generated".format(
                                              why, passwords.MIN_LENGTH, passwords.MAX_LENGTH))
    down_after = _int(raw, "down-after-milliseconds", 100)
    failover_timeout = _int(raw, "failover-timeout", 1000)
    if isinstance(unit_count, bool) or not isinstance(unit_count, int) or unit_count < 0:
        raise ValueError("unit_count must be an integer >= 0, got {!r}".format(unit_count))
    min_replicas = _min_replicas_to_write(raw, unit_count)
    max_lag = _min_replicas_max_lag(raw)
    appendonly = _get(raw, "appendonly")
    if not isinstance(appendonly, bool):
        raise ConfigError("appendonly", "{!r} is not a boolean; set appendonly to true or false".format(appendonly))
    maxmemory = _str(raw, "maxmemory")
    if maxmemory and not _MAXMEMORY.match(maxmemory):
        raise ConfigError("maxmemory", "{!r} is not a size; set maxmemory to a number with an optional "
                                       "unit (b, kb, mb, gb), e.g. \"512mb\", or \"\" for no limit".format(maxmemory))
    policy = _str(raw, "maxmemory-policy")
    if policy not in MAXMEMORY_POLICIES:
        raise ConfigError("maxmemory-policy", "{!r} is not a Redis eviction policy; set maxmemory-policy "
                                              "to one of {}".format(policy, ", ".join(MAXMEMORY_POLICIES)))
    custom = _custom_config(raw)
    tls, tls_auth_clients, non_tls_port = _tls(raw, port, sentinel_port, metrics_port)
    return Settings(
        port=port,
        sentinel_port=sentinel_port,
        password=password,
        down_after_ms=down_after,
        failover_timeout_ms=failover_timeout,
        min_replicas_to_write_option=min_replicas,
        min_replicas_max_lag_option=max_lag,
        appendonly=appendonly,
        maxmemory=maxmemory.lower(),
        maxmemory_policy=policy,
        unit_count=unit_count,
        master_name=app_name or _app_name_from_env(),
        custom=custom,
        metrics_port=metrics_port,
        tls=tls,
        tls_auth_clients=tls_auth_clients,
        non_tls_port=non_tls_port,
    )
