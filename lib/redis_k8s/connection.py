"""Connections to the pods' redis and sentinel instances (redis-py), with short timeouts.

A connector is ``connect(host, port, password) -> redis.Redis``; the default connects directly.
Pass another to reach pods through a different address map (tests, proxies). Hosts are pod DNS
names, ports integers. :func:`ask` skips an instance that does not answer; :class:`Pods` holds
what every question needs (the pods, the settings, the password, the connector) and one client per
instance, so a hook pays each instance's handshake once.
"""

import hashlib
import ssl
import time
from typing import NamedTuple

import redis

TIMEOUT_S = 2.0
UNANSWERED_S = 10.0
_unanswered = {}  # (host, port) -> monotonic time it last timed out


class Tls(NamedTuple):
    """How to speak TLS to the pods.

    Attributes:
        enabled: whether the pods are meant to speak TLS (the mode tried first).
        ca: the CA bundle file the servers' certificates are verified with.
        cert, key: a client certificate and its key (files, mode 0600), presented when
            ``tls-auth-clients`` is ``yes``; None otherwise.
    """

    enabled: bool
    ca: str
    cert: str = None
    key: str = None


_tls = None  # this process's Tls (configure_tls); None: plain TCP only, no fallback
_modes = {}  # (host, port) -> True (TLS) / False (plain): what the instance last spoke
_served = {}  # (host, port) -> SHA-256 hex of the certificate it last presented


def configure_tls(tls):
    """Use ``tls`` (a :class:`Tls`, or None for plain TCP only) for every later connection."""
    global _tls
    _tls = tls


def modes() -> dict:
    """``{"host:port": True/False}``: the mode each instance answered in, to keep across
    processes (a hook is one): during a switch, trying the wrong mode first costs a handshake
    timeout."""
    return {"{}:{}".format(host, port): mode for (host, port), mode in _modes.items()}


def remember_modes(saved: dict):
    """Take the modes :func:`modes` gave (a previous hook's) as what each instance speaks."""
    for name, mode in (saved or {}).items():
        host, _, port = name.rpartition(":")
        if host and port.isdigit():
            _modes.setdefault((host, int(port)), bool(mode))


def current_tls():
    """The :class:`Tls` in use (:func:`configure_tls`), or None."""
    return _tls


def speaks_tls(host, port):
    """True/False: the mode ``host:port`` answered in last; None before it answered."""
    return _modes.get((host, int(port)))


def served_fingerprint(host, port):
    """The SHA-256 (hex, of the DER) of the certificate ``host:port`` last presented, or None."""
    return _served.get((host, int(port)))


def default_connect(host: str, port: int, password) -> redis.Redis:
    """Return a client with short timeouts: a dead pod must not stall a hook.

    No ``CLIENT SETINFO`` on connect (two round trips per connection that nothing reads).
    With TLS configured (:func:`configure_tls`) see :func:`open_client`.
    """
    if _tls is None:
        return redis.Redis(host=host, port=int(port), password=password or None, socket_timeout=TIMEOUT_S,
                           socket_connect_timeout=TIMEOUT_S, decode_responses=True,
                           lib_name=None, lib_version=None)
    return open_client(host, port, password, _tls)


def client(host, port, password, timeout=TIMEOUT_S, connect_timeout=TIMEOUT_S, decode=True) -> redis.Redis:
    """A client of ``host:port`` with these timeouts: plain and lazy before TLS is configured,
    else connected in the mode the instance speaks (:func:`open_client`). The watcher's."""
    if _tls is None:
        return redis.Redis(host=host, port=int(port), password=password or None, socket_timeout=timeout,
                           socket_connect_timeout=connect_timeout, decode_responses=decode)
    return open_client(host, port, password, _tls, timeout=timeout, connect_timeout=connect_timeout,
                       decode=decode)


def ssl_context(tls):
    """An ``ssl.SSLContext`` verifying the servers against ``tls.ca`` (host names checked),
    presenting ``tls.cert`` when given: for raw sockets (the demotion's REPLICAOF)."""
    context = ssl.create_default_context(cafile=tls.ca)
    if tls.cert:
        context.load_cert_chain(tls.cert, tls.key)
    return context


def _client(host, port, password, tls, use_tls, timeout, connect_timeout, decode):
    extra = {}
    if use_tls:
        # The certificate must name the pod FQDN the charm connects to (ssl_check_hostname).
        extra = dict(ssl=True, ssl_ca_certs=tls.ca, ssl_cert_reqs="required", ssl_check_hostname=True,
                     ssl_certfile=tls.cert, ssl_keyfile=tls.key)
    return redis.Redis(host=host, port=int(port), password=password or None, socket_timeout=timeout,
                       socket_connect_timeout=connect_timeout, decode_responses=decode,
                       lib_name=None, lib_version=None, **extra)


def _handshake_timed_out(error) -> bool:
    cause = error.__cause__ or error.__context__
    return isinstance(cause, (TimeoutError, OSError)) and "handshake" in str(cause)


def open_client(host, port, password, tls, timeout=TIMEOUT_S, connect_timeout=TIMEOUT_S,
                decode=True) -> redis.Redis:
    """Return a client already connected to ``host:port``, over TLS or plain TCP.

    The mode the instance spoke last (else ``tls.enabled``) is tried first; when the connection
    or handshake fails, the other mode once (a live switch may be halfway): the one that worked
    is remembered, and so is the certificate a TLS server presented (:func:`served_fingerprint`).

    Raises:
        redis.RedisError, OSError: neither mode connected (the first mode's error).
    """
    key = (host, int(port))
    first = _modes.get(key, tls.enabled)
    failure = None
    for use_tls in (first, not first):
        client = _client(host, port, password, tls, use_tls, timeout, connect_timeout, decode)
        try:
            connection = client.connection_pool.get_connection("PING")
            if not use_tls and not password:
                # Without AUTH a plain connect sends nothing: a TLS server only fails the
                # first command. Ask one, so the mode is known here.
                try:
                    connection.send_command("PING")
                    connection.read_response()
                except BaseException:
                    client.connection_pool.release(connection)
                    raise
        except redis.AuthenticationError:
            client.close()
            raise
        except (redis.ConnectionError, ssl.SSLError, OSError) as error:
            client.close()
            failure = failure or error
            continue
        except redis.TimeoutError as error:
            client.close()
            if not (use_tls and _handshake_timed_out(error)):
                raise  # nothing answered at all: a dead pod, not a mode to try
            # A plain server reads a TLS ClientHello as the start of a command and waits for
            # the rest: the handshake times out where a TLS server would have answered.
            failure = failure or error
            continue
        try:
            sock = getattr(connection, "_sock", None)
            if use_tls and isinstance(sock, ssl.SSLSocket):
                _served[key] = hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()
        finally:
            client.connection_pool.release(connection)
        _modes[key] = use_tls
        return client
    raise failure


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
