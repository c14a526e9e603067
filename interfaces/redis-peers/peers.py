"""Peer side of interface:redis-peers: the units of one redis-k8s application.

Flags (``{name}`` is the endpoint's name, ``redis-peers`` in redis-k8s):

- ``endpoint.{name}.joined``: another unit of the application is there (set and cleared by
  charms.reactive, like every Endpoint's).
- ``endpoint.{name}.changed``: a peer's unit data changed (set on the hook that brings it, a
  new peer's first data included; no ``changed.<key>`` flags in a peer's relation-changed), or
  the application data changed (the master the leader records). Not cleared here: the charm
  clears it once handled.
- ``endpoint.{name}.departed``: a peer left (set on relation-departed; charms.reactive clears
  it on a later hook while peers remain, the charm may clear it sooner).

Data:

- application data (written by the leader only, read by every unit: Juju 2.7+ lets units read
  their own application's data on a peer relation): ``master-host``, ``master-port`` and
  ``master-epoch``, a number that grows by one each time the recorded master changes, so a unit
  can tell a new record from one it has already acted on (:meth:`RedisPeers.master`,
  :meth:`RedisPeers.record_master`).
- unit data: what the unit last told the consumers, ``published-master`` (``host:port``) and
  ``published-epoch`` (:meth:`RedisPeers.publish_seen`); and the pod Kubernetes runs it in with
  the role that pod's redis last had, ``pod`` and ``role`` (:meth:`RedisPeers.publish_pod`).
  In a Juju 2.9 podspec charm the hooks run in the operator pod, not the unit's: the unit
  learns its pod from ``network-get``'s bind address (the pod's IP, which Juju records for the
  unit) matched against the pods' DNS names.

Values are plain strings (raw relation data), as every reader of this interface is this charm.
"""

import collections

from charmhelpers.core import hookenv
from charms.reactive import Endpoint, clear_flag, is_flag_set, set_flag, toggle_flag
from charms.reactive.helpers import data_changed

MasterRecord = collections.namedtuple('MasterRecord', 'host port epoch')

_MASTER_KEYS = ('master-host', 'master-port', 'master-epoch')


class RedisPeers(Endpoint):
    """The other units of the application, and the master record the leader keeps for all."""

    def _manage_flags(self):
        """charms.reactive's flag rules, reading only what the hook can bring.

        charms.reactive reads every peer's data (a ``relation-get`` each, a hook tool call) in
        every hook of this relation. Juju runs one relation-changed per change: a peer's own
        (its name in ``JUJU_REMOTE_UNIT``) or the application data's (no remote unit), and it
        runs a peer's only when that peer's settings moved (or once after it joined). So a
        peer's relation-changed raises ``changed`` without reading anything (no ``changed.<key>``
        flags: nothing here needs them, and the unit data is read when it is used); the
        application data's reads only the application data. Other hooks of this relation, and
        any hook before a peer is known, read everything, as charms.reactive does.
        """
        hook = hookenv.hook_name()
        relation_hook = hook.startswith(self.endpoint_name + '-relation-')
        already_joined = is_flag_set(self.expand_name('joined'))
        toggle_flag(self.expand_name('joined'), self.is_joined)
        if relation_hook and hook.endswith('-departed'):
            set_flag(self.expand_name('departed'))
        elif self.is_joined:
            clear_flag(self.expand_name('departed'))
        if already_joined and not relation_hook:
            return
        if already_joined and hook.endswith('-relation-changed'):
            if hookenv.remote_unit():
                set_flag(self.expand_name('changed'))
            else:
                self.manage_flags()
            return
        for unit in self.all_joined_units:
            for key, value in unit.received.items():
                data_key = 'endpoint.{}.{}.{}.{}'.format(
                    self.endpoint_name, unit.relation.relation_id, unit.unit_name, key)
                if data_changed(data_key, value):
                    set_flag(self.expand_name('changed'))
                    set_flag(self.expand_name('changed.{}'.format(key)))
        self.manage_flags()

    def manage_flags(self):
        """Raise ``changed`` when the application data moved (charms.reactive only watches the
        units' data). Called on the hooks of this relation that may bring it, and on every hook
        while no peer has joined (a single unit: its own leader's writes are what there is to
        see)."""
        for relation in self.relations:
            key = 'endpoint.{}.{}.app'.format(self.endpoint_name, relation.relation_id)
            if data_changed(key, dict(relation.to_publish_app_raw.data or {})):
                set_flag(self.expand_name('changed'))

    def _relation(self):
        """The peer relation (Juju makes exactly one), or None before it exists."""
        return self.relations[0] if self.relations else None

    def master(self):
        """The master the leader recorded, as a :class:`MasterRecord` (port and epoch ints),
        or None before it recorded one."""
        relation = self._relation()
        if relation is None:
            return None
        data = relation.to_publish_app_raw
        host, port, epoch = (data.get(key) for key in _MASTER_KEYS)
        if not host or not port:
            return None
        try:
            return MasterRecord(host, int(port), int(epoch or 0))
        except ValueError:
            return None

    def record_master(self, host, port):
        """Leader: record ``host:port`` as the master; the epoch grows by one when it differs
        from the record. Returns the record now in force, or None when the relation does not
        exist yet (the install hook).

        Written to Juju when the hook ends: units reading it see a whole record.
        """
        relation = self._relation()
        if relation is None:
            return None
        current = self.master()
        if current is not None and (current.host, current.port) == (host, int(port)):
            return current
        epoch = (current.epoch if current is not None else self._last_epoch(relation)) + 1
        data = relation.to_publish_app_raw
        data['master-host'] = str(host)
        data['master-port'] = str(int(port))
        data['master-epoch'] = str(epoch)
        return MasterRecord(str(host), int(port), epoch)

    @staticmethod
    def _last_epoch(relation):
        # A record with a host missing still carries the epoch it reached: never go back.
        try:
            return int(relation.to_publish_app_raw.get('master-epoch') or 0)
        except ValueError:
            return 0

    def publish_seen(self, host, port, epoch):
        """Tell the peers which master this unit last gave its consumers (unit data; written
        only when it differs, as each write runs a hook on every peer)."""
        relation = self._relation()
        if relation is None:
            return
        data = relation.to_publish_raw
        wanted = {'published-master': '{}:{}'.format(host, port),
                  'published-epoch': str(epoch)}
        for key, value in wanted.items():
            if data.get(key) != value:
                data[key] = value

    def publish_pod(self, pod, role):
        """Tell the peers which pod this unit runs in and the role its redis had when this unit
        last looked (``master``, ``replica`` or ``unreachable``); written only when it differs."""
        relation = self._relation()
        if relation is None:
            return
        data = relation.to_publish_raw
        for key, value in (('pod', pod), ('role', role)):
            if data.get(key) != value:
                data[key] = value

    def pods_seen(self):
        """``{unit name: (pod, role)}`` of the joined peers (None where not published yet)."""
        return {unit.unit_name: (unit.received_raw.get('pod'), unit.received_raw.get('role'))
                for relation in self.relations for unit in relation.joined_units}

    def peers_seen(self):
        """``{unit name: (published-master, published-epoch)}`` of the joined peers (epoch an
        int, None when the unit has published nothing yet)."""
        seen = {}
        for relation in self.relations:
            for unit in relation.joined_units:
                data = unit.received_raw
                try:
                    epoch = int(data.get('published-epoch'))
                except (TypeError, ValueError):
                    epoch = None
                seen[unit.unit_name] = (data.get('published-master'), epoch)
        return seen

    def unit_names(self):
        """The peers that have joined (this unit not included), sorted."""
        return sorted(unit.unit_name for relation in self.relations
                      for unit in relation.joined_units)
