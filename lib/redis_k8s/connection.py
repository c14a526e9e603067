"""Connections to the pods' redis and sentinel instances, with short timeouts.

A connector is ``connect(host, port, password) -> client`` (a ``redis.Redis``, or what answers the
same methods); the default connects directly. Pass another to reach pods through a different
address map (tests, proxies). Hosts are pod DNS names, ports integers. :func:`ask` skips an
instance that does not answer; :class:`Pods` holds what every question needs (the pods, the
settings, the password, the connector) and one client per instance, so a hook pays each
instance's handshake once. Its reads go over :mod:`redis_k8s.resp` while TLS is off: redis-py is
imported only by a hook that acts (or meets an error), see :data:`redis`.
"""

import hashlib
import socket
import ssl
import time

from .resp import ReadingClient, ReplyError


class _RedisPy:
    """redis-py, imported on first use: an ``except redis.TimeoutError`` clause is evaluated only
    when an exception reaches it, so a hook whose reads all succeed never loads it."""

    def __getattr__(self, name):
        import redis as module
        return getattr(module, name)


redis = _RedisPy()

# The TLS state lives where a hook can set it without loading redis-py; it is this module's API.
from .tls_mode import (_modes, Tls, configure_tls, current_tls, modes,  # noqa: F401
                       remember_modes, speaks_tls)

TIMEOUT_S = 2.0
UNANSWERED_S = 10.0
_unanswered = {}  # (host, port) -> wall-clock time it last timed out (hooks pass it on)


_served = {}  # (host, port) -> SHA-256 hex of the certificate it last presented


def served_fingerprint(host, port):
    """The SHA-256 (hex, of the DER) of the certificate ``host:port`` last presented, or None."""
    return _served.get((host, int(port)))


def default_connect(host: str, port: int, password) -> "redis.Redis":
    """Return a client with short timeouts: a dead pod must not stall a hook.

    No ``CLIENT SETINFO`` on connect (two round trips per connection that nothing reads).
    With TLS configured (:func:`configure_tls`) see :func:`open_client`.
    """
    tls = current_tls()
    if tls is None:
        return redis.Redis(host=host, port=int(port), password=password or None, socket_timeout=TIMEOUT_S,
                           socket_connect_timeout=TIMEOUT_S, decode_responses=True,
                           lib_name=None, lib_version=None)
    return open_client(host, port, password, tls)


def client(host, port, password, timeout=TIMEOUT_S, connect_timeout=TIMEOUT_S, decode=True) -> "redis.Redis":
    """A client of ``host:port`` with these timeouts: plain and lazy before TLS is configured,
    else connected in the mode the instance speaks (:func:`open_client`). The watcher's."""
    tls = current_tls()
    if tls is None:
        return redis.Redis(host=host, port=int(port), password=password or None, socket_timeout=timeout,
                           socket_connect_timeout=connect_timeout, decode_responses=decode,
                           lib_name=None, lib_version=None)
    return open_client(host, port, password, tls, timeout=timeout, connect_timeout=connect_timeout,
                       decode=decode)


def reading_connect(host: str, port: int, password):
    """:func:`default_connect`, but while TLS is off a :class:`redis_k8s.resp.ReadingClient`,
    which answers the reads itself and passes anything else to a :func:`default_connect` client."""
    if current_tls() is not None:
        return default_connect(host, port, password)
    return ReadingClient(host, port, password, TIMEOUT_S,
                         fallback=lambda: default_connect(host, port, password))


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
                decode=True) -> "redis.Redis":
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
    # redis-py runs the TLS handshake under the socket timeout, not the connect timeout: with
    # none (a subscriber's), a handshake with a plain server (which waits for the rest of a
    # command) would never end. The handshake gets the connect timeout; the socket gets
    # ``timeout`` once connected.
    handshake_timeout = connect_timeout if timeout is None else timeout
    for use_tls in (first, not first):
        client = _client(host, port, password, tls, use_tls, handshake_timeout, connect_timeout, decode)
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
            if timeout is None:
                client.connection_pool.connection_kwargs["socket_timeout"] = None
                connection.socket_timeout = None
                if sock is not None:
                    sock.settimeout(None)
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
    return since is not None and 0 <= time.time() - since < UNANSWERED_S


def unanswered() -> dict:
    """``{"host:port": time}`` of the instances that timed out less than ``UNANSWERED_S`` ago,
    for the next hook (:func:`remember_unanswered`): a frozen master or a partitioned pod costs
    the unit one timeout, not one per hook, while the failover it causes runs hook after hook."""
    return {"{}:{}".format(host, port): since for (host, port), since in _unanswered.items()
            if recently_unanswered(host, port)}


def remember_unanswered(saved: dict):
    """Take what :func:`unanswered` gave (a previous hook's) as timeouts of this process."""
    for name, since in (saved or {}).items():
        host, _, port = name.rpartition(":")
        if host and port.isdigit() and isinstance(since, (int, float)):
            _unanswered.setdefault((host, int(port)), float(since))


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
        _unanswered[(host, int(port))] = time.time()
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
        connect: the connector (default :func:`reading_connect`).

    Each instance gets one client, kept open until :meth:`close` (or dropped when it fails).
    """

    def __init__(self, hosts, settings, password, connect=None):
        self.hosts = list(hosts)
        self.settings = settings
        self.password = password
        self.connect = connect or reading_connect
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
        # The reading client's errors first: matching them evaluates no redis-py name.
        except socket.timeout:
            return self._timed_out(key)
        except (OSError, ReplyError):
            return self._drop(key)
        except redis.TimeoutError:
            return self._timed_out(key)
        except redis.RedisError:
            return self._drop(key)
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

    def _timed_out(self, key):
        _unanswered[key] = time.time()
        return self._drop(key)

    def _drop(self, key):
        """Close and forget the client of ``key``; returns None (what an unanswered ask gives)."""
        client = self._clients.pop(key, None)
        if client is not None:
            try:
                client.close()
            except (OSError, ReplyError, redis.RedisError):
                pass
