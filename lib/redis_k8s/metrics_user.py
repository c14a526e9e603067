"""The ACL user the redis-exporter container logs in as: its own password, which never rotates,
and only the commands redis_exporter 1.45 sends.

The exporter reads its password from the environment once, when its container starts; the main
password rotates live (``redis_k8s.rotation``) without restarting pods. With a user of its own,
whose password the charm generates once and never changes, a rotation never reaches it, so its
scrapes keep working.

The commands are those redis_exporter 1.45 sends on a scrape, as found against redis-server and
redis-sentinel 7.0.15 (``INFO commandstats`` on redis, ``ACL LOG`` denials on a sentinel, with
the Debian build of the exporter), and nothing else: no key, no channel, no write.

``CONFIG GET`` is left out on purpose: it answers ``requirepass`` and ``masterauth``, the main
password, so granting it would make the metrics password worth the main one. The exporter sends
``<config-command> GET *`` on every scrape; it is given ``INFO`` as that command: Redis answers
``INFO`` with sections it does not know by an empty reply, which the exporter reads as no
configuration, with no error anywhere. (``CONFIG``, refused, would count a NOPERM error and add
an ACL LOG entry per scrape; ``-``, which newer exporters take as "skip", is sent as a command by
1.45, an unknown one, counted as an ERR error per scrape.) The exporter then lacks only
``redis_config_maxclients`` and ``redis_config_maxmemory`` (``redis_memory_max_bytes``, from
INFO, has maxmemory).
"""

import hashlib

NAME = "redis-k8s-metrics"
# What the exporter sends instead of CONFIG (``--config-command``): see above.
CONFIG_COMMAND = "INFO"

_COMMON = ("info", "ping", "client|setname")
# On a scrape of /metrics: INFO ALL, SLOWLOG GET and LEN, LATENCY LATEST, CLIENT SETNAME.
REDIS_COMMANDS = _COMMON + ("slowlog|get", "slowlog|len", "latency|latest")
# On a scrape of /scrape?target=<sentinel>: INFO, CLIENT SETNAME and these SENTINEL subcommands.
SENTINEL_COMMANDS = _COMMON + ("sentinel|masters", "sentinel|sentinels", "sentinel|slaves",
                               "sentinel|ckquorum")


def digest(password: str) -> str:
    """The SHA-256 Redis keeps of a password (``#<digest>`` in an ACL rule sets it unseen)."""
    return hashlib.sha256(password.encode()).hexdigest()


def permissions(commands) -> str:
    """The command rules of the user, as ``ACL SETUSER`` and a ``user`` config line take them."""
    return " ".join(("-@all",) + tuple("+" + command for command in commands))


def rules(password: str, commands) -> list:
    """The ``ACL SETUSER`` arguments after the user name: everything reset (no keys, no channels,
    no other password), on, the password by its digest (so it is never on a command line)."""
    return ["reset", "on", "#" + digest(password)] + permissions(commands).split()


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def matches(reply, password: str, commands) -> bool:
    """Whether ``ACL GETUSER`` ``reply`` (a list of names and values, None: no such user) is the
    user :func:`rules` makes: on, this one password, exactly these commands, no key, no channel."""
    if not reply:
        return False
    fields = dict(zip([_text(name) for name in reply[::2]], reply[1::2]))
    flags = {_text(flag) for flag in fields.get("flags") or []}
    passwords = [_text(p) for p in fields.get("passwords") or []]
    granted = set(_text(fields.get("commands") or "").split())
    return ("on" in flags and passwords == [digest(password)]
            and granted == set(permissions(commands).split())
            and not _text(fields.get("keys") or "") and not _text(fields.get("channels") or "")
            and not fields.get("selectors"))
