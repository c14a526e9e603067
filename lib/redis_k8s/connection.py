"""Connections to the pods' redis and sentinel instances (redis-py), with short timeouts.

A connector is ``connect(host, port, password) -> redis.Redis``; the default connects directly.
Pass another to reach pods through a different address map (tests, proxies). Hosts are pod DNS
names, ports integers. :func:`ask` skips an instance that does not answer; :class:`Pods` holds
what every question needs (the pods, the settings, the password, the connector) and one client per
instance, so a hook pays each instance's handshake once.
"""

import time

import redis

TIMEOUT_S = 2.0
UNANSWERED_S = 10.0
_unanswered = {}  # (host, port) -> monotonic time it last timed out


def default_connect(host: str, port: int, password) -> redis.Redis:
    """Return a client with short timeouts: a dead pod must not stall a hook.

    No ``CLIENT SETINFO`` on connect (two round trips per connection that nothing reads).
    """
    return redis.Redis(host=host, port=int(port), password=password or None, socket_timeout=TIMEOUT_S,
                       socket_connect_timeout=TIMEOUT_S, decode_responses=True,
                       lib_name=None, lib_version=None)


def call(connect, host, port, password, fn):
    """``fn(client)`` on a client of its own, closed afterwards; errors are raised."""
    client = (connect or default_connect)(host, port, password)
    try:
        return fn(client)
    finally:
        client.close()


def recently_unanswered(host, port) -> bool:
    """Whether ``host:port`` timed out less than ``UNANSWERED_S`` ago."""
    since = _unanswered.get((host, int(port)))
    return since is not None and time.monotonic() - since < UNANSWERED_S


def ask(connect, host, port, password, fn):
    """``fn(client)``, or None when the instance does not answer.

    An instance that timed out is not asked again for ``UNANSWERED_S``: a frozen master (or a
    partitioned pod) must cost a hook one timeout, not one per question.
    """
    if recently_unanswered(host, port):
        return None
    try:
        result = call(connect, host, port, password, fn)
    except redis.TimeoutError:
        _unanswered[(host, int(port))] = time.monotonic()
        return None
    except (redis.RedisError, OSError):
        return None
    _unanswered.pop((host, int(port)), None)
    return result


def as_dict(reply) -> dict:
    """A sentinel or ACL reply as a dict, whether RESP3 gave a map or RESP2 a flat list."""
    if isinstance(reply, dict):
        return reply
    if isinstance(reply, (list, tuple)):
        return dict(zip(reply[::2], reply[1::2]))
    return {}


class Pods:
    """The application's pods and how to reach them: built once, asked many times.

    Args:
        hosts: the pods' DNS names, in ordinal order.
        settings: the checked :class:`redis_k8s.settings.Settings` (ports, master group name).
        password: the password every redis and sentinel accepts.
        connect: the connector (default :func:`default_connect`).

    Each instance gets one client, kept open until :meth:`close` (or dropped when it fails).
    """

    def __init__(self, hosts, settings, password, connect=None):
        self.hosts = list(hosts)
        self.settings = settings
        self.password = password
        self.connect = connect or default_connect
        self._clients = {}

    def ask(self, host, port, fn):
        """``fn(client)`` on ``host:port``, or None when it does not answer (see :func:`ask`)."""
        key = (host, int(port))
        if recently_unanswered(host, port):
            return None
        try:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self.connect(host, port, self.password)
            result = fn(client)
        except redis.TimeoutError:
            _unanswered[key] = time.monotonic()
            self._drop(key)
            return None
        except (redis.RedisError, OSError):
            self._drop(key)
            return None
        _unanswered.pop(key, None)
        return result

    def redis(self, host, fn, port=None):
        """``fn(client)`` on the redis of ``host`` (at ``port``, default the configured one)."""
        return self.ask(host, self.settings.port if port is None else port, fn)

    def sentinel(self, host, fn):
        """``fn(client)`` on the sentinel of ``host``."""
        return self.ask(host, self.settings.sentinel_port, fn)

    def sentinel_command(self, host, *args):
        """``SENTINEL <args...>`` about our master group on the sentinel of ``host``."""
        name, rest = args[0], args[1:]
        return self.sentinel(host, lambda c: c.execute_command(
            "SENTINEL", name, self.settings.master_name, *rest))

    def close(self):
        """Close every client opened so far."""
        for key in list(self._clients):
            self._drop(key)

    def _drop(self, key):
        client = self._clients.pop(key, None)
        if client is not None:
            try:
                client.close()
            except (redis.RedisError, OSError):
                pass
