"""A plain-TCP RESP2 client for the read-only questions a hook asks every pod, without redis-py.

Most hooks only look at the cluster (the status of every unit observes every pod), and loading
redis-py costs such a hook 50-70 ms on the operator's Python 3.8: its package imports its asyncio
client, and so stdlib asyncio. :class:`ReadingClient` answers what a steady hook asks (``INFO``,
``PING``, ``ROLE``, ``CONFIG GET``, ``ACL GETUSER`` and the sentinels' read commands) itself, with the reply shapes redis-py gives (``decode_responses``, RESP2):
``info()`` a dict of typed values, ``ping()`` True, anything else the decoded reply. Every other
method or command goes to a redis-py client of the same instance, opened on first use, so a heal
step that acts reads the same as before and gets redis-py's errors.

Errors of the reads: ``socket.timeout`` (the instance did not answer in time), another ``OSError``
(refused, closed), :class:`ReplyError` (an error reply, a wrong password among them).
"""

import socket

# What this client answers itself: (command,) or (command, subcommand), upper case.
READS = frozenset([('INFO',), ('PING',), ('ROLE',), ('CONFIG', 'GET'), ('ACL', 'GETUSER'),
                   ('SENTINEL', 'GET-MASTER-ADDR-BY-NAME'), ('SENTINEL', 'MASTER'),
                   ('SENTINEL', 'REPLICAS'), ('SENTINEL', 'SLAVES'), ('SENTINEL', 'SENTINELS')])


class ReplyError(Exception):
    """The instance answered with an error reply (the text is the reply's)."""


class ReadingClient:
    """A client of one redis or sentinel that connects on its first question.

    Args:
        host, port: the instance.
        password: sent with ``AUTH`` once connected (None: no ``AUTH``).
        timeout: the connect and socket timeout, seconds.
        fallback: ``() -> client`` for what this client does not answer (a redis-py client).
    """

    def __init__(self, host, port, password, timeout, fallback):
        self.host, self.port, self.password, self.timeout = host, int(port), password, timeout
        self._fallback = fallback
        self._other = None
        self._sock = None
        self._file = None

    # --- the reads ------------------------------------------------------------------------------

    def execute_command(self, *args):
        words = tuple(str(arg).upper() for arg in args[:2])
        if words[:1] not in READS and words not in READS:
            return self._redis_py().execute_command(*args)
        reply = self._ask(args)
        if words[0] == 'INFO':
            return parse_info(reply)
        if words[0] == 'PING':
            return reply == 'PONG'
        return reply

    def info(self, section=None):
        return self.execute_command('INFO', *([section] if section else []))

    def ping(self):
        return self.execute_command('PING')

    def config_get(self, pattern='*', *patterns):
        reply = self.execute_command('CONFIG', 'GET', pattern, *patterns)
        return dict(zip(reply[::2], reply[1::2])) if reply else {}

    def close(self):
        if self._sock is not None:
            self._file.close()
            self._sock.close()
            self._sock = self._file = None
        if self._other is not None:
            self._other.close()
            self._other = None

    def __getattr__(self, name):
        # Any other command method (replicaof, config_set...): redis-py's.
        if name.startswith('_'):
            raise AttributeError(name)
        return getattr(self._redis_py(), name)

    # --- the protocol ---------------------------------------------------------------------------

    def _redis_py(self):
        if self._other is None:
            self._other = self._fallback()
        return self._other

    def _ask(self, args):
        if self._sock is None:
            self._connect()
        try:
            self._sock.sendall(encode(*args))
            return self._read()
        except OSError:
            self.close()  # a half-read reply must not be taken for the next one's
            raise

    def _connect(self):
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self._sock, self._file = sock, sock.makefile('rb')
        if self.password:
            try:
                self._ask(('AUTH', self.password))
            except ReplyError:
                self.close()
                raise

    def _read(self):
        line = self._file.readline()
        if not line.endswith(b'\r\n'):
            raise ConnectionError('{}:{} closed the connection'.format(self.host, self.port))
        kind, rest = line[:1], line[1:-2]
        if kind == b'+':
            return rest.decode()
        if kind == b'-':
            raise ReplyError(rest.decode(errors='replace'))
        if kind == b':':
            return int(rest)
        if kind == b'$':
            size = int(rest)
            if size < 0:
                return None
            data = self._file.read(size + 2)
            if len(data) != size + 2:
                raise ConnectionError('{}:{} closed the connection'.format(self.host, self.port))
            return data[:-2].decode()
        if kind == b'*':
            size = int(rest)
            return None if size < 0 else [self._read() for _ in range(size)]
        raise ConnectionError('{}:{} does not speak RESP2 ({!r})'.format(self.host, self.port, line[:20]))


def encode(*args) -> bytes:
    """One command in the Redis protocol: a RESP array of bulk strings (binary safe)."""
    parts = [b'*%d\r\n' % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b'$%d\r\n%s\r\n' % (len(data), data))
    return b''.join(parts)


def parse_info(text) -> dict:
    """``INFO`` text as the dict redis-py gives: ``field:value`` lines; a value is an int, a
    float, a dict (``k=v,k=v``, as a replica's ``slave0``), a list (``a,b``) or the text."""
    info = {}
    for line in text.splitlines():
        if line and not line.startswith('#') and ':' in line:
            key, value = line.split(':', 1)
            info[key] = _typed(value)
    return info


def _typed(value):
    if '=' in value:
        pairs = (item.rsplit('=', 1) if '=' in item else (item, True)
                 for item in value.split(',') if item)
        return {key: _typed(text) if text is not True else True for key, text in pairs}
    if ',' in value:
        return [_typed(item) for item in value.split(',') if item]
    try:
        return float(value) if '.' in value else int(value)
    except ValueError:
        return value
