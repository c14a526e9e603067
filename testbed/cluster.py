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

APP = 'redis-k8s'
CONSUMER = 'redis-consumer'


class Cluster:
    """What the tests ask of a deployed redis-k8s: pods, roles, sentinels, relation data."""

    def __init__(self, model, app=APP):
        self.model = model
        self.app = app

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
        return redis.Redis(host=self.model.pod_address(pod), port=port,
                           password=self.password() if password is None else password,
                           socket_timeout=3, socket_connect_timeout=3, **kwargs)

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
