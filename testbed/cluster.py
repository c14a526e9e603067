"""What tests and benchmarks ask of a redis-k8s deployed on the local model.

The test process reaches pods by their loopback addresses (it does not see the pods' DNS names);
Juju-side facts (leader data, relation data) come from hook contexts in the operator, through
``Model.run(..., operator=True)`` (``juju-run --operator``: a plain one runs in the unit's pod,
which has no hook tools).
"""

import json
import os

import redis

from redis_k8s import naming

from . import tls

APP = 'redis-k8s'
CONSUMER = 'redis-consumer'


class Cluster:
    """What the tests ask of a deployed redis-k8s: pods, roles, sentinels, relation data.

    Args:
        model: the local model (``localmodel.client.Model``).
        app: the redis-k8s application's name.
        tls: whether the servers may speak TLS (``enable-tls``, now or later). Then
            :meth:`client` verifies them against the CA bundle the relation gives and, while a
            switch is under way, finds out which mode each server speaks (see
            :meth:`client`); without it every client is plain, as before TLS existed.
    """

    def __init__(self, model, app=APP, tls=False):
        self.model = model
        self.app = app
        self.tls = tls
        self._ca_path = None  # the relation's CA bundle, as a file, once read
        self._modes = {}  # (address, port): 'tls' or 'plain', what it last answered in

    # --- Juju side ---

    def leader(self):
        units = self.model.status()['applications'][self.app]['units']
        return next(name for name, unit in units.items() if unit.get('leader'))

    def leader_get(self, key):
        rc, out, err = self.model.run(self.leader(), ['leader-get', key], operator=True)
        assert rc == 0, err
        return out.strip()

    def password(self):
        """The password in force: the configured one, else the generated one."""
        return self.leader_get('active-password') or self.leader_get('password')

    def units(self):
        return self.model.status()['applications'][self.app]['units']

    def relation_data(self, unit=CONSUMER + '/0'):
        """What the consumer received from the first redis-k8s unit, as ``relation_data()``."""
        command = ('id=$(relation-ids redis | head -1); u=$(relation-list -r $id | head -1); '
                   'relation-get --format=json -r $id - $u')
        rc, out, err = self.model.run(unit, command, operator=True)
        assert rc == 0, err
        return json.loads(out)

    def all_relation_data(self, unit=CONSUMER + '/0'):
        command = ('id=$(relation-ids redis | head -1); for u in $(relation-list -r $id); do '
                   'relation-get --format=json -r $id - $u; echo; done')
        rc, out, err = self.model.run(unit, command, operator=True)
        assert rc == 0, err
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    # --- pod side (the test process reaches pods by their loopback address) ---

    def pods(self):
        return sorted((name for name, pod in self.model.status().get('pods', {}).items()
                       if pod['application'] == self.app),
                      key=lambda name: naming.ordinal_of(self.app, name))

    def client(self, pod, port=6379, password=None, **kwargs):
        """A client of ``pod``'s redis (or sentinel, by ``port``).

        With :attr:`tls`, a server is asked (PING) in the mode it last answered in (TLS at
        first), then in the other one, the way the charm's own connections fall back during a
        live switch; a certificate that no longer verifies makes it read the relation's CA
        bundle again (a CA change). A server that answers in neither mode gets a client in the
        first mode tried, whose first command raises, as a plain client's would.
        """
        address = self.model.pod_address(pod)
        password = self.password() if password is None else password
        if not self.tls:
            return self._client(address, port, password, None, kwargs)
        remembered = self._modes.get((address, port), 'tls')
        first = None
        for mode in (remembered, 'plain' if remembered == 'tls' else 'tls'):
            client = self._answering(address, port, password, mode, kwargs)
            if client is not None:
                self._modes[(address, port)] = mode
                return client
            first = first or mode
        return self._client(address, port, password,
                            self.ca_path() if first == 'tls' else None, kwargs)

    def _answering(self, address, port, password, mode, kwargs):
        """A client in ``mode`` if the server answers it, else None."""
        for attempt in (0, 1):
            ca_path = None
            if mode == 'tls':
                ca_path = self.ca_path(refresh=attempt > 0)
                if ca_path is None:
                    return None
            client = self._client(address, port, password, ca_path, kwargs)
            try:
                client.ping()
            except (redis.AuthenticationError, redis.ResponseError):
                return client  # it answered: the mode is right, the caller meets the error
            except (redis.ConnectionError, redis.TimeoutError) as error:
                if mode == 'tls' and attempt == 0 and 'verify failed' in str(error):
                    continue  # the CA may have changed: read it again
                return None
            return client
        return None

    @staticmethod
    def _client(address, port, password, ca_path, kwargs):
        extra = dict(kwargs)
        if ca_path is not None:
            extra.update(tls.client_kwargs(ca_path))
        return redis.Redis(host=address, port=port, password=password,
                           socket_timeout=3, socket_connect_timeout=3, **extra)

    def ca_path(self, refresh=False):
        """A file holding the CA bundle (:meth:`tls_ca_bundle`), or None before there is one;
        read once, and again with ``refresh`` (the last one is kept while there is none, e.g.
        with TLS off)."""
        if self._ca_path is None or refresh:
            try:
                bundle = self.tls_ca_bundle()
            except (AssertionError, KeyError, ValueError):  # no hook context at the moment
                bundle = ''
            if bundle.strip():
                self._ca_path = tls.ca_file(bundle)
        return self._ca_path

    def tls_ca_bundle(self):
        """The CA bundle clients trust: what the consumer received (``tls-ca``), "" if none."""
        return self.relation_data().get('tls-ca', '')

    def pod_of(self, fqdn):
        return fqdn.split('.')[0]

    def roles(self, port=6379):
        return {pod: self.client(pod, port).info('replication') for pod in self.pods()}

    def sentinel_masters(self, sentinel_port=26379):
        views = {}
        for pod in self.pods():
            reply = self.client(pod, sentinel_port).execute_command(
                'SENTINEL', 'get-master-addr-by-name', self.app)
            views[pod] = (reply[0].decode(), int(reply[1])) if reply else None
        return views

    def sentinel_tables(self, sentinel_port=26379):
        """Each pod's sentinel: ``(replicas, other sentinels)`` it knows (None: no answer). A
        sentinel remembers removed pods' until it is reset."""
        tables = {}
        for pod in self.pods():
            try:
                state = self.client(pod, sentinel_port).sentinel_master(self.app)
                tables[pod] = (int(state['num-slaves']), int(state['num-other-sentinels']))
            except (redis.RedisError, OSError, KeyError):
                tables[pod] = None
        return tables

    def sentinels_know_just_the_pods(self, count, sentinel_port=26379):
        """Whether each of the ``count`` pods' sentinels knows the other pods' replicas and
        sentinels, and no more. A sentinel learns replicas from its master's INFO (every 10 s),
        so one that started with the pods may know none yet, and a failover it leads aborts
        (NOGOODSLAVE); after a scale-down it counts the removed pod's sentinel as a voter until
        the master watcher resets it."""
        tables = self.sentinel_tables(sentinel_port)
        return len(tables) == count and all(table == (count - 1, count - 1)
                                            for table in tables.values())

    def master_pod(self, port=6379):
        masters = [pod for pod, info in self.roles(port).items() if info['role'] == 'master']
        assert len(masters) == 1, masters
        return masters[0]

    def healthy(self, count, port=6379, sentinel_port=26379):
        """One master, count-1 replicas linked to it, every sentinel naming it, all units active
        and the relation pointing at it. Returns the master's pod name or None."""
        try:
            pods = self.pods()
            if len(pods) != count:
                return None
            roles = self.roles(port)
            masters = [pod for pod, info in roles.items() if info['role'] == 'master']
            if len(masters) != 1 or roles[masters[0]]['connected_slaves'] != count - 1:
                return None
            master = masters[0]
            if any(info['role'] != 'slave' or info['master_link_status'] != 'up'
                   or self.pod_of(info['master_host']) != master
                   for pod, info in roles.items() if pod != master):
                return None
            views = self.sentinel_masters(sentinel_port)
            if any(view is None or self.pod_of(view[0]) != master for view in views.values()):
                return None
            units = self.units()
            if len(units) != count or any(
                    unit['workload-status']['current'] != 'active' for unit in units.values()):
                return None
            return master
        except (redis.RedisError, OSError, KeyError):
            return None

    def wait_healthy(self, count, timeout=180, **ports):
        return self.model.wait_for(lambda status: self.healthy(count, **ports), timeout=timeout)

    # --- operator side (the test process sees the operator's processes in /proc) ---

    def watchers(self):
        """``{pid: settings}`` of the master watchers running in this model: processes whose
        command line runs ``redis_k8s.master_watcher`` and whose environment carries the
        model's marker; ``settings`` is the watcher's settings file (in its working directory,
        the charm directory of the unit that started it), ``{}`` when unreadable."""
        marker = self.model.paths.marker.encode()
        found = {}
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/{}/cmdline'.format(entry), 'rb') as handle:
                    if b'redis_k8s.master_watcher' not in handle.read().split(b'\0'):
                        continue
                with open('/proc/{}/environ'.format(entry), 'rb') as handle:
                    if marker not in handle.read().split(b'\0'):
                        continue
            except OSError:
                continue
            found[int(entry)] = self._watcher_settings(int(entry))
        return found

    @staticmethod
    def _watcher_settings(pid):
        # /proc/<pid>/cwd resolves in the process's own mount namespace (the operator's).
        try:
            with open('/proc/{}/cwd/.master-watcher.json'.format(pid)) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def relation_points_at(self, pod, port=6379):
        data = self.relation_data()
        return self.pod_of(data.get('host', '')) == pod and data.get('port') == str(port)
