"""A fake Redis cluster for the handler tests: what the charm's pods would answer, with no pod.

The fake sits at the charm's two boundaries with Redis: during a hook, ``redis.Redis`` is
:class:`FakeRedis`, which answers every command from a :class:`FakeCluster` (one redis and one
sentinel per pod) instead of a socket, and passes the raw reply through redis-py's own response
parsers, as a real connection would; and ``socket.create_connection`` (the charm's own reading
client, redis_k8s.resp) gives a :class:`FakeSocket` that answers the same raw replies in RESP2.
So the handler tests hold whatever
module of the charm talks to Redis, and however it is split: they see only what the cluster was
asked and what it answered. It is a model of the cluster view (who is master, what each sentinel
names, which instance answers), not a Redis: unknown commands are errors, passwords are not checked.

Pods are named by their ordinal; a host is any DNS name whose first label ends in ``-<ordinal>``
(the charm's pod names). Replies name pods with the suffix the charm used to reach them, and the
master group after the application (the label's prefix), as the charm names it.
"""

import copy
import socket
import fnmatch

import redis

REDIS_VERSION = '7.0.15'


class Pod:
    """One pod: its redis (role, the master it follows) and its sentinel (the master it names)."""

    def __init__(self, ordinal):
        self.ordinal = ordinal
        self.redis_up = True
        self.sentinel_up = True
        self.redis_frozen = False  # its redis accepts connections and never answers (SIGSTOP)
        self.role = 'slave'
        self.follows = None  # ordinal of the master this replica follows
        self.link_up = True
        self.offset = 1000
        self.config = {
            'maxmemory': '0', 'maxmemory-policy': 'noeviction', 'appendonly': 'yes',
            'min-replicas-to-write': '0', 'min-replicas-max-lag': '10',
            'repl-diskless-sync-max-replicas': '0',
        }
        self.names = None  # ordinal of the master this pod's sentinel names, None: no master known
        self.sentinel_settings = {'quorum': '2', 'down-after-milliseconds': '5000',
                                  'failover-timeout': '30000', 'parallel-syncs': '1'}
        # ACL users other than default, per instance: {name: ACL GETUSER reply}.
        self.redis_users = {}
        self.sentinel_users = {}


class FakeCluster:
    """The pods ``0..size-1`` of one application, every sentinel naming ``master``.

    Attributes:
        pods: ``{ordinal: Pod}``.
        commands: every command the charm sent, as ``(ordinal, "redis"|"sentinel", args)``.
    """

    def __init__(self, size=3, master=0, port=6379, sentinel_port=26379):
        self.port = port
        self.sentinel_port = sentinel_port
        self.pods = {i: Pod(i) for i in range(size)}
        self.commands = []
        self.clients = []  # (host, port) of every client made, in order
        self._prefix, self._suffix = None, ''
        self.settle(master)

    def copy(self):
        return copy.deepcopy(self)

    # -- what a test does to the cluster ----------------------------------------------------------

    def settle(self, master):
        """Every pod serves under ``master`` and every sentinel names it."""
        for pod in self.pods.values():
            pod.role, pod.follows = ('master', None) if pod.ordinal == master else ('slave', master)
            pod.link_up = True
            pod.names = master

    def fail_over(self, to, old_master_down=True):
        """The sentinels promoted pod ``to``: they all name it, the other replicas follow it; the
        old master is down (``old_master_down``) or a replica of the new one."""
        old = self.master()
        self.settle(to)
        if old is not None and old != to and old_master_down:
            self.pods[old].redis_up = False

    def master(self):
        """The ordinal most sentinels name (None when none names one)."""
        named = [pod.names for pod in self.pods.values() if pod.sentinel_up and pod.names is not None]
        return max(set(named), key=named.count) if named else None

    def sent(self, *prefix):
        """The commands sent whose arguments start with ``prefix`` (upper-cased words)."""
        wanted = [str(word).upper() for word in prefix]
        return [c for c in self.commands
                if [str(word).upper() for word in c[2][:len(wanted)]] == wanted]

    # -- addressing -------------------------------------------------------------------------------

    def _ordinal(self, host):
        label = str(host).split('.', 1)[0]
        prefix, _, number = label.rpartition('-')
        if not prefix or not number.isdigit() or int(number) not in self.pods:
            return None
        if self._prefix is None:
            self._prefix = prefix
            self._suffix = str(host)[len(label):]
        return int(number)

    def host(self, ordinal):
        """The DNS name of pod ``ordinal``, as the charm names it."""
        return '{}-{}{}'.format(self._prefix, ordinal, self._suffix)

    # -- the server side --------------------------------------------------------------------------

    def reach(self, host, port):
        """``(pod, kind)`` of the instance at ``host:port``; raises ``redis.ConnectionError`` as
        connecting to it would fail."""
        ordinal = self._ordinal(host)
        pod = self.pods.get(ordinal)
        if pod is None:
            raise redis.ConnectionError('Error -2 connecting to {}:{}. Name does not resolve.'.format(
                host, port))
        if int(port) == self.sentinel_port:
            kind, up = 'sentinel', pod.sentinel_up
        elif int(port) == self.port:
            kind, up = 'redis', pod.redis_up
        else:
            kind, up = 'closed', False
        if not up:
            raise redis.ConnectionError('Error 111 connecting to {}:{}. Connection refused.'.format(
                host, port))
        return pod, kind

    def answer(self, host, port, args):
        """The raw reply of pod ``host``'s redis or sentinel (by ``port``) to ``args``."""
        pod, kind = self.reach(host, port)
        ordinal = pod.ordinal
        words = [str(word) for word in args]
        words = words[0].split() + words[1:]
        self.commands.append((ordinal, kind, tuple(words)))
        if kind == 'redis' and pod.redis_frozen:
            raise redis.TimeoutError('Timeout reading from {}:{}'.format(host, port))

        command = words[0].upper()
        if command == 'PING':
            return 'PONG'
        handler = getattr(self, '_{}_{}'.format(kind, command.lower()), None)
        if handler is None:
            raise redis.ResponseError("ERR unknown command '{}'".format(words[0]))
        return handler(pod, [word for word in words[1:]])

    # redis

    def _redis_info(self, pod, words):
        section = words[0].lower() if words else 'default'
        lines = []
        if section in ('default', 'all', 'everything', 'server'):
            lines += ['# Server', 'redis_version:' + REDIS_VERSION, 'tcp_port:{}'.format(self.port)]
        if section in ('default', 'all', 'everything', 'replication'):
            lines += ['# Replication', 'role:' + pod.role]
            if pod.role == 'master':
                replicas = [p for p in self.pods.values()
                            if p.redis_up and p.role == 'slave' and p.follows == pod.ordinal]
                lines.append('connected_slaves:{}'.format(len(replicas)))
                for i, replica in enumerate(replicas):
                    lines.append('slave{}:ip={},port={},state=online,offset={},lag=0'.format(
                        i, self.host(replica.ordinal), self.port, replica.offset))
                lines.append('master_repl_offset:{}'.format(pod.offset))
            else:
                master = self.pods.get(pod.follows)
                linked = pod.link_up and master is not None and master.redis_up
                lines += ['master_host:' + self.host(pod.follows), 'master_port:{}'.format(self.port),
                          'master_link_status:' + ('up' if linked else 'down'),
                          'slave_repl_offset:{}'.format(pod.offset),
                          'master_repl_offset:{}'.format(pod.offset)]
        return '\r\n'.join(lines) + '\r\n'

    def _redis_config(self, pod, words):
        sub = words[0].upper()
        if sub == 'GET':
            reply = []
            for name, value in sorted(pod.config.items()):
                if any(fnmatch.fnmatch(name, pattern.lower()) for pattern in words[1:]):
                    reply += [name, value]
            return reply
        if sub == 'SET':
            pairs = words[1:]
            for name, value in zip(pairs[::2], pairs[1::2]):
                pod.config[name.lower()] = value
            return 'OK'
        raise redis.ResponseError('ERR unknown subcommand ' + sub)

    def _redis_replicaof(self, pod, words):
        if [w.upper() for w in words] == ['NO', 'ONE']:
            pod.role, pod.follows = 'master', None
        else:
            pod.role, pod.follows = 'slave', self._ordinal(words[0])
        return 'OK'

    def _redis_role(self, pod, words):
        if pod.role == 'master':
            return ['master', pod.offset, []]
        return ['slave', self.host(pod.follows), self.port, 'connected', pod.offset]

    def _redis_acl(self, pod, words):
        return self._acl(pod.redis_users, words)

    @staticmethod
    def _acl(users, words):
        """``ACL GETUSER``/``SETUSER``: the default user as a bare reply (passwords are not
        checked); another user set with ``reset on #<digest> <command rules>`` as Redis 7.0
        reports it (the only form the charm sends)."""
        sub, name = words[0].upper(), words[1]
        if sub == 'GETUSER':
            if name == 'default':
                return ['flags', ['on'], 'passwords', []]
            return users.get(name)
        if sub == 'SETUSER' and name != 'default':
            rules = words[2:]
            assert rules[:2] == ['reset', 'on'] and rules[2].startswith('#'), rules
            users[name] = ['flags', ['on', 'sanitize-payload'], 'passwords', [rules[2][1:]],
                           'commands', ' '.join(rules[3:]), 'keys', '', 'channels', '',
                           'selectors', []]
        return 'OK'

    def _redis_client(self, pod, words):
        return 'OK'

    # sentinel

    def _sentinel_info(self, pod, words):
        lines = ['# Server', 'redis_version:' + REDIS_VERSION, 'redis_mode:sentinel',
                 '# Sentinel', 'sentinel_masters:{}'.format(0 if pod.names is None else 1)]
        if pod.names is not None:
            master = self.pods[pod.names]
            lines.append('master0:name={},status={},address={}:{},slaves={},sentinels={}'.format(
                self._prefix, 'ok' if master.redis_up else 'odown', self.host(pod.names),
                self.port, len(self._replica_entries(pod)), len(self.pods)))
        return '\r\n'.join(lines) + '\r\n'

    def _sentinel_acl(self, pod, words):
        return self._acl(pod.sentinel_users, words)

    def _sentinel_role(self, pod, words):
        return ['sentinel', [] if pod.names is None else [self._prefix]]

    def _sentinel_sentinel(self, pod, words):
        sub = words[0].upper()
        if sub == 'MASTERS':
            return [] if pod.names is None else [self._sentinel_sentinel(pod, ['MASTER', self._prefix])]
        if sub == 'CKQUORUM':
            return 'OK {} usable Sentinels. Quorum and failover authorization can be reached'.format(
                sum(p.sentinel_up for p in self.pods.values()))
        if sub == 'GET-MASTER-ADDR-BY-NAME':
            if pod.names is None:
                return None
            return [self.host(pod.names), str(self.port)]
        if sub == 'MASTER':
            if pod.names is None:
                raise redis.ResponseError('ERR No such master with that name')
            master = self.pods[pod.names]
            flags = 'master' if master.redis_up else 's_down,o_down,master'
            reply = ['name', words[1], 'ip', self.host(pod.names), 'port', str(self.port),
                     'flags', flags,
                     'num-slaves', str(len(self._replica_entries(pod))),
                     'num-other-sentinels', str(len(self.pods) - 1)]
            for name, value in sorted(pod.sentinel_settings.items()):
                reply += [name, value]
            return reply
        if sub in ('REPLICAS', 'SLAVES'):
            return self._replica_entries(pod)
        if sub == 'SENTINELS':
            return [['name', 'sentinel-{}'.format(other.ordinal), 'ip', self.host(other.ordinal),
                     'port', str(self.sentinel_port), 'flags', 'sentinel']
                    for other in self.pods.values() if other is not pod]
        if sub == 'SET':
            pairs = words[2:]
            for name, value in zip(pairs[::2], pairs[1::2]):
                pod.sentinel_settings[name.lower()] = value
            return 'OK'
        if sub == 'CONFIG':
            return 'OK'
        if sub == 'RESET':
            return 1
        if sub == 'REMOVE':
            pod.names = None
            return 'OK'
        if sub == 'MONITOR':
            pod.names = self._ordinal(words[2])
            pod.sentinel_settings['quorum'] = words[4]
            return 'OK'
        if sub == 'FAILOVER':
            replicas = [p.ordinal for p in self.pods.values() if p.redis_up and p.role == 'slave']
            if not replicas:
                raise redis.ResponseError('NOGOODSLAVE No suitable replica to promote')
            self.fail_over(replicas[0], old_master_down=False)
            return 'OK'
        raise redis.ResponseError('ERR unknown subcommand ' + sub)

    def _replica_entries(self, pod):
        if pod.names is None:
            return []
        return [['name', '{}:{}'.format(self.host(other.ordinal), self.port),
                 'ip', self.host(other.ordinal), 'port', str(self.port),
                 'flags', 'slave' if other.redis_up else 's_down,slave',
                 'role-reported', other.role, 'master-link-status', 'ok']
                for other in self.pods.values() if other.ordinal != pod.names]


def pod_address(ordinal):
    """The IP of pod ``ordinal`` (what the fake network-get and name resolution agree on)."""
    return '10.1.0.{}'.format(ordinal)


def gethostbyname(name):
    """``socket.gethostbyname`` during a hook: a pod's name (first label ``<app>-<n>``) resolves
    to :func:`pod_address` while the pod exists in :attr:`FakeRedis.cluster`."""
    cluster = FakeRedis.cluster
    label = str(name).split('.', 1)[0]
    ordinal = label.rsplit('-', 1)[-1]
    if cluster is None or not ordinal.isdigit() or int(ordinal) not in cluster.pods:
        raise socket.gaierror(-2, 'Name or service not known')
    return pod_address(int(ordinal))


class FakeRedis(redis.Redis):
    """``redis.Redis`` answering from :attr:`cluster` (set on the class by the harness)."""

    cluster = None

    def __init__(self, host='localhost', port=6379, *args, **kwargs):
        super().__init__(host, port, *args, **kwargs)
        self._address = (host, int(port))
        self._decode = kwargs.get('decode_responses', False)
        # The fake's instances speak plain TCP: a client opened for TLS fails its handshake.
        self._tls = bool(kwargs.get('ssl'))
        self.connection_pool = _FakePool(self)
        if self.cluster is not None:
            self.cluster.clients.append(self._address)

    def execute_command(self, *args, **options):
        if self.cluster is None:  # no pod exists yet
            raise redis.ConnectionError('Error -2 connecting to {}:{}. Name does not resolve.'.format(
                *self._address))
        raw = self.cluster.answer(self._address[0], self._address[1], args)
        if not self._decode:
            raw = _encode(raw)
        callback = self.response_callbacks.get(args[0])
        return callback(raw, **options) if callback else raw

    def pipeline(self, transaction=True, shard_hint=None):
        return FakePipeline(self)

    def close(self):
        pass


class _FakeConnection:
    """What ``connection_pool.get_connection`` gives: nothing to send or read, no socket."""

    _sock = None

    def send_command(self, *args, **kwargs):
        pass

    def read_response(self, *args, **kwargs):
        return 'PONG'


class _FakePool:
    """A connection pool whose connect (``get_connection``, as ``connection.open_client`` opens
    one to learn the mode) fails as a real one would: no pod yet, an instance down, or a TLS
    handshake with the fake's plain instances."""

    def __init__(self, client):
        self.client = client

    def get_connection(self, *args, **kwargs):
        client = self.client
        if client.cluster is None:
            raise redis.ConnectionError('Error -2 connecting to {}:{}. Name does not resolve.'.format(
                *client._address))
        client.execute_command('PING')  # raises as the fake does for an instance that is down
        if client._tls:
            raise redis.ConnectionError('Error 1 connecting to {}:{}. [SSL: WRONG_VERSION_NUMBER] '
                                        'wrong version number.'.format(*client._address))
        return _FakeConnection()

    def release(self, connection):
        pass

    def disconnect(self, *args, **kwargs):
        pass


class FakePipeline:
    """Commands queued on a :class:`FakeRedis`, answered in order by ``execute()``."""

    def __init__(self, client):
        self._client = client
        self._queue = []

    def __getattr__(self, name):
        method = getattr(type(self._client), name)

        def queue(*args, **kwargs):
            self._queue.append((method, args, kwargs))
            return self
        return queue

    def execute_command(self, *args, **options):
        self._queue.append((type(self._client).execute_command, args, options))
        return self

    def execute(self, raise_on_error=True):
        results = []
        for method, args, kwargs in self._queue:
            try:
                results.append(method(self._client, *args, **kwargs))
            except redis.ResponseError as error:
                if raise_on_error:
                    raise
                results.append(error)
        self._queue = []
        return results

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._queue = []

    def reset(self):
        self._queue = []


def _encode(reply):
    if isinstance(reply, str):
        return reply.encode()
    if isinstance(reply, list):
        return [_encode(item) for item in reply]
    return reply


def create_connection(address, timeout=None, *args, **kwargs):
    """``socket.create_connection`` during a hook: a :class:`FakeSocket` to a pod's instance,
    refused as :meth:`FakeCluster.reach` says (nothing is reachable before a pod exists)."""
    host, port = address
    cluster = FakeRedis.cluster
    if cluster is None:
        raise socket.gaierror(-2, 'Name or service not known')
    try:
        cluster.reach(host, port)
    except redis.ConnectionError as error:
        raise ConnectionRefusedError(111, str(error)) from None
    cluster.clients.append((host, int(port)))
    return FakeSocket(cluster, host, int(port))


class FakeSocket:
    """A connection to one instance of a :class:`FakeCluster` speaking RESP2: each command sent
    is answered (``AUTH`` accepted, passwords unchecked, as :class:`FakeRedis` never sends it);
    a frozen instance times out, one gone down refuses."""

    def __init__(self, cluster, host, port):
        self._cluster, self._host, self._port = cluster, host, port
        self._replies = b''

    def sendall(self, data):
        for args in _decode_commands(data):
            if args[0].upper() == 'AUTH':
                self._replies += b'+OK\r\n'
                continue
            try:
                self._replies += _resp(self._cluster.answer(self._host, self._port, args))
            except redis.ResponseError as error:
                self._replies += b'-' + str(error).encode() + b'\r\n'
            except redis.TimeoutError as error:
                raise socket.timeout(str(error)) from None
            except redis.ConnectionError as error:
                raise ConnectionResetError(104, str(error)) from None

    def makefile(self, mode='rb'):
        return self

    def readline(self):
        line, sep, self._replies = self._replies.partition(b'\r\n')
        return line + sep

    def read(self, size):
        data, self._replies = self._replies[:size], self._replies[size:]
        return data

    def close(self):
        pass


def _decode_commands(data):
    """The commands (lists of str) in ``data``, RESP arrays of bulk strings."""
    lines = data.split(b'\r\n')
    commands, index = [], 0
    while index < len(lines) and lines[index]:
        count = int(lines[index][1:])
        words = [lines[index + 2 + 2 * n].decode() for n in range(count)]
        commands.append(words)
        index += 1 + 2 * count
    return commands


def _resp(raw):
    """A raw reply of :meth:`FakeCluster.answer` in RESP2."""
    if raw is None:
        return b'$-1\r\n'
    if isinstance(raw, int):
        return b':%d\r\n' % raw
    if isinstance(raw, (list, tuple)):
        return b'*%d\r\n' % len(raw) + b''.join(_resp(item) for item in raw)
    data = raw if isinstance(raw, bytes) else str(raw).encode()
    return b'$%d\r\n%s\r\n' % (len(data), data)
