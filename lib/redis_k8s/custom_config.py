"""The ``redis-config`` and ``sentinel-config`` options: further directives, checked line by line.

As the RedisFailover operator's ``customConfig``: one ``directive value`` a line (blank lines and
``#`` comments allowed), applied live on every pod (``CONFIG SET``, ``SENTINEL SET <master>``) and
written in the ConfigMap files the containers read when they start.

Only the directives of an explicit table are accepted, each with a check of its value and Redis
7.0's default. The default is what the directive goes back to when its line is removed: the base
configuration (``templates/redis.conf``, ``templates/sentinel-master.conf``) sets none of them, so
a restarted pod gets it from Redis, and the leader sets every table directive whose live value
differs from the wanted one (the line's, else the default), which needs no memory of past lines.
Directives the charm sets itself (ports, addresses, storage paths, replication, authentication,
the options it already has) are refused with the reason, or the option to use instead.

Sentinel directives are those ``SENTINEL SET <master>`` changes and ``SENTINEL MASTER`` reports
(the leader must read a value to set only what differs). Redis 7.0's ``SENTINEL CONFIG SET``
globals (``resolve-hostnames``, ``announce-*``, ``sentinel-user``/``-pass``) are all the charm's.
"""

import re
from dataclasses import dataclass
from typing import Callable, Tuple

REDIS_OPTION = "redis-config"
SENTINEL_OPTION = "sentinel-config"

_INT32_MAX = 2 ** 31 - 1
_INT64_MAX = 2 ** 63 - 1

_SIZE = re.compile(r"^([0-9]+)(b|k|kb|m|mb|g|gb)?$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000 ** 2, "mb": 1024 ** 2,
          "g": 1000 ** 3, "gb": 1024 ** 3}


def memory_bytes(size: str) -> int:
    """A Redis memory size (``512mb``, ``1g``, ``1048576``; "" is 0) in bytes, as Redis counts it.

    Raises:
        ValueError: ``size`` is not a number with an optional unit b, k, kb, m, mb, g or gb.
    """
    if size.strip() == "":
        return 0
    match = _SIZE.match(size.strip())
    if not match:
        raise ValueError("not a size: a number with an optional unit b, k, kb, m, mb, g or gb, e.g. 64mb")
    return int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]


# --- value checks: each takes the value as written and returns it as Redis reports it -----------

def integer(low: int, high: int) -> Callable[[str], str]:
    def check(value):
        if not re.match(r"^-?[0-9]+$", value):
            raise ValueError("not a whole number")
        number = int(value)
        if not low <= number <= high:
            raise ValueError("out of range {}..{}".format(low, high))
        return str(number)
    return check


def size(low: int = 0) -> Callable[[str], str]:
    def check(value):
        number = memory_bytes(value)
        if number < low or number > _INT64_MAX:
            raise ValueError("out of range: at least {} bytes".format(low))
        return str(number)
    return check


def choice(*allowed: str) -> Callable[[str], str]:
    def check(value):
        if value.lower() not in allowed:
            raise ValueError("not one of {}".format(", ".join(allowed)))
        return value.lower()
    return check


yes_no = choice("yes", "no")


def save_points(value: str) -> str:
    """``save``: pairs of ``<seconds> <changes>``, or "" (no snapshots)."""
    words = value.split()
    if len(words) % 2 or not all(re.match(r"^[0-9]+$", w) for w in words):
        raise ValueError('not pairs of "<seconds> <changes>" (or "" for no snapshots)')
    if any(int(seconds) < 1 for seconds in words[::2]):
        raise ValueError("seconds must be 1 or more")
    return " ".join(str(int(w)) for w in words)


_EVENT_CLASSES = "g$lshzxetd"  # what "A" stands for, in the order Redis 7.0 reports them


def keyspace_events(value: str) -> str:
    """``notify-keyspace-events``: letters of ``Ag$lshzxeKEtmdn``, or "" (none)."""
    bad = sorted(set(value) - set("A" + _EVENT_CLASSES + "KEmn"))
    if bad:
        raise ValueError("unknown event class {} (use letters of Ag$lshzxeKEtmdn)".format(
            " ".join(repr(c) for c in bad)))
    return value


def keyspace_events_reported(value: str) -> str:
    """How Redis 7.0 reports ``notify-keyspace-events`` (its own order; with ``A``, ``n`` is not
    shown though it is set)."""
    flags = set(value)
    if "A" in flags or set(_EVENT_CLASSES) <= flags:
        text = "A"
    else:
        text = "".join(c for c in _EVENT_CLASSES + "n" if c in flags)
    return text + "".join(c for c in "KEm" if c in flags)


_BUFFER_CLASSES = {"normal": "normal", "replica": "slave", "slave": "slave", "pubsub": "pubsub"}
_BUFFER_DEFAULT = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"


def buffer_limits(value: str) -> str:
    """``client-output-buffer-limit``: ``<class> <hard> <soft> <seconds>`` for one or more of
    normal, replica, pubsub; the classes not named keep Redis' default."""
    words = value.split()
    if not words or len(words) % 4:
        raise ValueError("not groups of <class> <hard limit> <soft limit> <soft seconds>")
    limits = {}
    defaults = _BUFFER_DEFAULT.split()
    for i in range(0, len(defaults), 4):
        limits[defaults[i]] = defaults[i + 1:i + 4]
    for i in range(0, len(words), 4):
        name, hard, soft, seconds = words[i:i + 4]
        if name.lower() not in _BUFFER_CLASSES:
            raise ValueError("unknown client class {!r} (normal, replica or pubsub)".format(name))
        if not re.match(r"^[0-9]+$", seconds):
            raise ValueError("soft seconds {!r} is not a whole number".format(seconds))
        limits[_BUFFER_CLASSES[name.lower()]] = [str(memory_bytes(hard)), str(memory_bytes(soft)),
                                                 str(int(seconds))]
    return " ".join(" ".join([name] + limits[name]) for name in ("normal", "slave", "pubsub"))



@dataclass(frozen=True)
class Directive:
    """One directive the option accepts.

    Attributes:
        name: as Redis names it (lower case).
        default: Redis 7.0's value, as ``CONFIG GET`` / ``SENTINEL MASTER`` reports it.
        check: the value as written -> the value to set (raises ValueError saying why).
        reported: the value set -> as Redis reports it, when that differs (comparisons).
    """

    name: str
    default: str
    check: Callable[[str], str]
    reported: Callable[[str], str] = None

    def same(self, current: str, wanted: str) -> bool:
        """Whether a live ``current`` value (as reported) is the ``wanted`` one (as set)."""
        if self.reported is None:
            return current == wanted
        return self.reported(current) == self.reported(wanted)


def _table(*directives) -> dict:
    return {d.name: d for d in directives}


# Redis 7.0 directives redis-config accepts: tunables CONFIG SET changes at run time whose value
# Redis reports as set (hz is clamped to 1..500, the replication backlog to 16 kB or more: the
# ranges keep inside those, or the leader would set them again on every hook). Defaults from
# Redis 7.0's redis.conf and CONFIG GET of a 7.0 server (tests/unit/test_custom_config_redis.py).
REDIS = _table(
    # general and clients
    Directive("hz", "10", integer(1, 500)),
    Directive("dynamic-hz", "yes", yes_no),
    Directive("loglevel", "notice", choice("debug", "verbose", "notice", "warning")),
    Directive("timeout", "0", integer(0, _INT32_MAX)),
    Directive("tcp-keepalive", "300", integer(0, _INT32_MAX)),
    Directive("client-output-buffer-limit", _BUFFER_DEFAULT, buffer_limits),
    Directive("client-query-buffer-limit", "1073741824", size(1024 * 1024)),
    Directive("proto-max-bulk-len", "536870912", size(1024 * 1024)),
    Directive("busy-reply-threshold", "5000", integer(0, _INT64_MAX)),
    Directive("notify-keyspace-events", "", keyspace_events, keyspace_events_reported),
    Directive("tracking-table-max-keys", "1000000", integer(0, _INT64_MAX)),
    Directive("acllog-max-len", "128", integer(0, _INT64_MAX)),
    Directive("slowlog-log-slower-than", "10000", integer(-1, _INT64_MAX)),
    Directive("slowlog-max-len", "128", integer(0, _INT64_MAX)),
    Directive("latency-monitor-threshold", "0", integer(0, _INT64_MAX)),
    Directive("latency-tracking", "yes", yes_no),
    # memory and eviction (maxmemory and maxmemory-policy are options)
    Directive("maxmemory-samples", "5", integer(1, 64)),
    Directive("maxmemory-eviction-tenacity", "10", integer(0, 100)),
    Directive("lfu-log-factor", "10", integer(0, _INT32_MAX)),
    Directive("lfu-decay-time", "1", integer(0, _INT32_MAX)),
    Directive("active-expire-effort", "1", integer(1, 10)),
    Directive("activerehashing", "yes", yes_no),
    Directive("jemalloc-bg-thread", "yes", yes_no),
    Directive("lazyfree-lazy-eviction", "no", yes_no),
    Directive("lazyfree-lazy-expire", "no", yes_no),
    Directive("lazyfree-lazy-server-del", "no", yes_no),
    Directive("lazyfree-lazy-user-del", "no", yes_no),
    Directive("lazyfree-lazy-user-flush", "no", yes_no),
    Directive("replica-lazy-flush", "no", yes_no),
    # encodings
    Directive("hash-max-listpack-entries", "512", integer(0, _INT64_MAX)),
    Directive("hash-max-listpack-value", "64", integer(0, _INT64_MAX)),
    Directive("list-max-listpack-size", "-2", integer(-5, _INT32_MAX)),
    Directive("list-compress-depth", "0", integer(0, _INT32_MAX)),
    Directive("set-max-intset-entries", "512", integer(0, _INT64_MAX)),
    Directive("zset-max-listpack-entries", "128", integer(0, _INT64_MAX)),
    Directive("zset-max-listpack-value", "64", integer(0, _INT64_MAX)),
    Directive("hll-sparse-max-bytes", "3000", integer(0, _INT64_MAX)),
    Directive("stream-node-max-bytes", "4096", size(0)),
    Directive("stream-node-max-entries", "100", integer(0, _INT64_MAX)),
    # persistence (appendonly is an option; where files go is the charm's)
    Directive("save", "3600 1 300 100 60 10000", save_points),
    Directive("stop-writes-on-bgsave-error", "yes", yes_no),
    Directive("rdbcompression", "yes", yes_no),
    Directive("rdb-save-incremental-fsync", "yes", yes_no),
    Directive("appendfsync", "everysec", choice("always", "everysec", "no")),
    Directive("no-appendfsync-on-rewrite", "no", yes_no),
    Directive("auto-aof-rewrite-percentage", "100", integer(0, _INT32_MAX)),
    Directive("auto-aof-rewrite-min-size", "67108864", size(0)),
    Directive("aof-use-rdb-preamble", "yes", yes_no),
    Directive("aof-rewrite-incremental-fsync", "yes", yes_no),
    Directive("aof-timestamp-enabled", "no", yes_no),
    # replication (who replicates whom, and how a restarted master resyncs, are the charm's)
    Directive("repl-backlog-size", "1048576", size(16 * 1024)),
    Directive("repl-backlog-ttl", "3600", integer(0, _INT32_MAX)),
    Directive("repl-timeout", "60", integer(1, _INT32_MAX)),
    Directive("repl-ping-replica-period", "10", integer(1, _INT32_MAX)),
    Directive("repl-disable-tcp-nodelay", "no", yes_no),
    Directive("repl-diskless-load", "disabled", choice("disabled", "on-empty-db", "swapdb")),
    Directive("replica-serve-stale-data", "yes", yes_no),
    Directive("replica-ignore-maxmemory", "yes", yes_no),
)

# Redis 7.0 directives SENTINEL SET <master> accepts and SENTINEL MASTER reports, but for the
# charm's own (below).
SENTINEL = _table(
    Directive("parallel-syncs", "1", integer(1, _INT32_MAX)),
)

_OPTION = "is the charm's option {0}: set {0} instead"
_PASSWORD = "comes from the charm's option password: set password instead"
_NETWORK = "is set by the charm for each pod (its address and port)"
_PROCESS = "is set by the charm: the container runs the server in the foreground, logging to its output"
_STORAGE = "is set by the charm: the data lives where it mounts the storage"
_REPLICATION = "is set by the charm: the sentinels and the charm decide who replicates whom"
_RESYNC = "is set by the charm so that a restarted master's replicas resync at once"
_STOP = "is set by the charm: its stop sequence and the pods' grace period depend on it"
_COMMANDS = "is not allowed: the charm's scripts and probes need the default user and the standard commands"
_CLUSTER = "is not supported: the charm runs Redis with Sentinel, not Redis Cluster"
_TLS = "is not supported: the charm does not set up TLS"

REDIS_REFUSED = {
    "port": _OPTION.format("port"),
    "maxmemory": _OPTION.format("maxmemory"),
    "maxmemory-policy": _OPTION.format("maxmemory-policy"),
    "appendonly": _OPTION.format("appendonly"),
    "min-replicas-to-write": _OPTION.format("min-replicas-to-write"),
    "min-slaves-to-write": _OPTION.format("min-replicas-to-write"),
    "min-replicas-max-lag": _OPTION.format("min-replicas-max-lag"),
    "min-slaves-max-lag": _OPTION.format("min-replicas-max-lag"),
    "requirepass": _PASSWORD,
    "masterauth": _PASSWORD,
    "masteruser": _PASSWORD,
    "bind": _NETWORK, "bind-source-addr": _NETWORK, "protected-mode": _NETWORK,
    "unixsocket": _NETWORK, "unixsocketperm": _NETWORK, "tcp-backlog": _NETWORK,
    "daemonize": _PROCESS, "supervised": _PROCESS, "pidfile": _PROCESS, "logfile": _PROCESS,
    "syslog-enabled": _PROCESS, "syslog-ident": _PROCESS, "syslog-facility": _PROCESS,
    "dir": _STORAGE, "dbfilename": _STORAGE, "appendfilename": _STORAGE, "appenddirname": _STORAGE,
    "replicaof": _REPLICATION, "slaveof": _REPLICATION,
    "replica-announce-ip": _REPLICATION, "replica-announce-port": _REPLICATION,
    "slave-announce-ip": _REPLICATION, "slave-announce-port": _REPLICATION,
    "replica-announced": _REPLICATION, "replica-read-only": _REPLICATION,
    "slave-read-only": _REPLICATION,
    "replica-priority": "is set by the charm: a stopping pod sets it to 0 so that it is never promoted",
    "slave-priority": "is set by the charm: a stopping pod sets it to 0 so that it is never promoted",
    "repl-diskless-sync": _RESYNC, "repl-diskless-sync-delay": _RESYNC,
    "repl-diskless-sync-max-replicas": _RESYNC,
    "shutdown-timeout": _STOP, "shutdown-on-sigterm": _STOP, "shutdown-on-sigint": _STOP,
    "include": "is not allowed: the pods load only the charm's configuration",
    "loadmodule": "is not allowed: the pods load only the charm's configuration",
    "rename-command": _COMMANDS, "user": _COMMANDS, "aclfile": _COMMANDS,
    "enable-debug-command": _COMMANDS, "enable-module-command": _COMMANDS,
    "enable-protected-configs": _COMMANDS,
    "maxclients": "is not supported: Redis lowers it to the container's open-file limit at start, "
                  "so the charm could not keep it in line",
    "databases": "is not supported: Redis reads it only at start",
    "rdbchecksum": "is not supported: Redis reads it only at start",
    "activedefrag": "is not supported: it needs Redis' own jemalloc, which some images lack",
    "sentinel": "belongs in sentinel-config, not redis-config",
}
REDIS_REFUSED_PREFIXES = {"cluster-": _CLUSTER, "tls-": _TLS}

_SENTINEL_STATE = "is the sentinels' own state, kept by the charm's start script"
_SENTINEL_NETWORK = "is set by the charm for each pod (sentinels announce their pod's DNS name)"
_SCRIPTS = ("is not supported: sentinels refuse scripts set at run time (deny-scripts-reconfig) "
            "and the image has none")
SENTINEL_REFUSED = {
    "down-after-milliseconds": _OPTION.format("down-after-milliseconds"),
    "failover-timeout": _OPTION.format("failover-timeout"),
    "auth-pass": _PASSWORD, "auth-user": _PASSWORD,
    "sentinel-pass": _PASSWORD, "sentinel-user": _PASSWORD, "requirepass": _PASSWORD,
    "quorum": "is set by the charm: a majority of the units",
    "monitor": "is set by the charm: the sentinels follow the current master",
    "myid": _SENTINEL_STATE, "current-epoch": _SENTINEL_STATE, "config-epoch": _SENTINEL_STATE,
    "leader-epoch": _SENTINEL_STATE, "known-replica": _SENTINEL_STATE,
    "known-sentinel": _SENTINEL_STATE,
    "announce-ip": _SENTINEL_NETWORK, "announce-port": _SENTINEL_NETWORK,
    "announce-hostnames": _SENTINEL_NETWORK, "resolve-hostnames": _SENTINEL_NETWORK,
    "port": _OPTION.format("sentinel-port"), "bind": _SENTINEL_NETWORK,
    "dir": "is set by the charm: the sentinel keeps its state in the pod's shared volume",
    "daemonize": _PROCESS, "logfile": _PROCESS,
    "rename-command": _COMMANDS,
    "notification-script": _SCRIPTS, "client-reconfig-script": _SCRIPTS,
    "deny-scripts-reconfig": _SCRIPTS,
    "master-reboot-down-after-period": "is not supported: Redis 7.0 sentinels do not report it, so "
                                       "the charm could not keep it in line",
    "sentinel": 'is not needed: write the directive alone, e.g. "parallel-syncs 2" (the charm adds '
                '"sentinel" and the master name)',
}


@dataclass(frozen=True)
class CustomConfig:
    """The checked ``(directive, value to set)`` pairs of both options, in line order."""

    redis: Tuple[Tuple[str, str], ...] = ()
    sentinel: Tuple[Tuple[str, str], ...] = ()

    def redis_wanted(self) -> dict:
        """Every directive of :data:`REDIS` with the value it must have: its line's, else Redis'."""
        return _wanted(REDIS, self.redis)

    def sentinel_wanted(self) -> dict:
        """Every directive of :data:`SENTINEL` with the value it must have for the master group."""
        return _wanted(SENTINEL, self.sentinel)


def _wanted(table, pairs) -> dict:
    wanted = {name: directive.default for name, directive in table.items()}
    wanted.update(pairs)
    return wanted


def same(table: dict, name: str, current: str, wanted: str) -> bool:
    """Whether ``name``'s live value ``current`` (as Redis reports it) is ``wanted`` (as set)."""
    directive = table.get(name)
    return directive.same(current, wanted) if directive else current == wanted


def file_value(value: str) -> str:
    """A value as a configuration file line takes it ("" for an empty one)."""
    return value if value else '""'


class CustomConfigError(ValueError):
    """A line of ``redis-config`` or ``sentinel-config`` that cannot be used."""

    def __init__(self, option: str, number: int, line: str, reason: str,
                 fix: str = "correct or remove that line"):
        super().__init__(option, number, line, reason)
        self.option, self.number, self.line, self.reason, self.fix = option, number, line, reason, fix

    def __str__(self):
        shown = self.line if len(self.line) <= 60 else self.line[:57] + "..."
        return 'line {} "{}": {}; {}'.format(self.number, shown, self.reason, self.fix)


# Lines that may carry a password: the message shows only the directive.
_SECRET = frozenset(("requirepass", "masterauth", "auth-pass", "sentinel-pass", "user"))


def _refusal(name, refused, prefixes):
    if name in refused:
        return refused[name]
    for prefix, reason in prefixes.items():
        if name.startswith(prefix):
            return reason
    return None


def _parse(text: str, option: str, table: dict, refused: dict, prefixes: dict) -> tuple:
    pairs, seen = [], {}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        name = parts[0].lower()
        value = " ".join(parts[1].split()) if len(parts) > 1 else ""

        def fail(reason, **fix):
            shown = name + " ***" if name in _SECRET and len(parts) > 1 else line
            raise CustomConfigError(option, number, shown, reason, **fix)

        why = _refusal(name, refused, prefixes)
        if why:
            fail("{} {}".format(name, why), fix="remove that line")
        if name not in table:
            fail("{} is not a directive {} accepts (the README lists them)".format(name, option))
        if name in seen:
            fail("{} is already set on line {}".format(name, seen[name]))
        if value == "":
            fail('{} has no value (write "" for an empty one)'.format(name))
        if value == '""':
            value = ""
        elif '"' in value or "'" in value:
            fail('quotes are not allowed in a value (only "" for an empty one)')
        try:
            checked = table[name].check(value)
        except ValueError as error:
            fail("{} {!r} is not valid: {}".format(name, value, error))
        seen[name] = number
        pairs.append((name, checked))
    return tuple(pairs)


def parse(redis_text: str = "", sentinel_text: str = "") -> CustomConfig:
    """Check both options' text and return the directives to apply.

    Raises:
        CustomConfigError: the first line that cannot be used (option, line number, reason).
    """
    return CustomConfig(
        redis=_parse(redis_text, REDIS_OPTION, REDIS, REDIS_REFUSED, REDIS_REFUSED_PREFIXES),
        sentinel=_parse(sentinel_text, SENTINEL_OPTION, SENTINEL, SENTINEL_REFUSED, {}),
    )
