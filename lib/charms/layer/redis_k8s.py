"""Juju-facing operations of the redis-k8s charm.

The handlers in ``reactive/redis.py`` call these functions and nothing else. Each one reads what it
needs from Juju (config, leader data, goal state, the image resource), asks the plain modules in
``redis_k8s`` for every decision, and writes the outcome back (pod spec, leader data, relation data,
status). The split follows the RedisFailover operator's loop: *check* (``observe_topology``), *ensure*
(``apply_pod_spec``, ``record_master``, ``publish_master``) and *heal* (``heal_sentinels``).
"""

import functools
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time

from charmhelpers.core import hookenv, unitdata
from charms.reactive import (clear_flag, endpoint_from_flag, endpoint_from_name, is_flag_set,
                             set_flag, toggle_flag)

from charms import layer


class _LazySubmodules:
    """Import finder: the named submodules load when first used, not when imported.

    redis-py's package imports ``redis.asyncio`` (asyncio, its event loop, an async copy of
    every client class) though the hooks only use the blocking client: that is half of what
    importing redis costs a hook. Left lazy (``importlib.util.LazyLoader``), it loads only if
    something uses it.
    """

    def __init__(self, *names):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


if 'redis' not in sys.modules:
    # tls_material's certificates and tls_files (asn1crypto, rsa) are needed only by hooks
    # that check or make TLS material: loaded on first use.
    sys.meta_path.insert(0, _LazySubmodules('redis.asyncio', 'redis_k8s.certificates',
                                            'redis_k8s.tls_files'))

from redis_k8s import (naming, passwords, podspec, relation, settings, tls_material,  # noqa: E402
                       tls_mode, watchers)


class _ImportedOnFirstUse:
    """Stands for one of our modules that load redis-py, and imports it when first used.

    redis-py costs a hook tens of milliseconds to import, and many hooks never ask a pod (a
    follower publishing the master from leader data is one, and it is on the way from a
    failover to the consumers). ``importlib.util.LazyLoader`` cannot defer a module that
    several modules import: the second ``import`` of it reads its ``__spec__``, which loads it.
    This stand-in is a plain object in this module's namespace, so only an attribute read
    through it imports the module; the module then takes the stand-in's place.
    """

    def __init__(self, name):
        object.__setattr__(self, '_name', name)

    def _module(self):
        module = importlib.import_module('redis_k8s.' + self._name)
        globals()[self._name] = module
        return module

    def __getattr__(self, attr):
        return getattr(self._module(), attr)

    def __setattr__(self, attr, value):
        setattr(self._module(), attr, value)


connection = _ImportedOnFirstUse('connection')
healing = _ImportedOnFirstUse('healing')
live = _ImportedOnFirstUse('live')
observation = _ImportedOnFirstUse('observation')
password_action = _ImportedOnFirstUse('password_action')
rotation = _ImportedOnFirstUse('rotation')
sentinel_reset = _ImportedOnFirstUse('sentinel_reset')

IMAGE_RESOURCE = 'redis-image'
EXPORTER_IMAGE_RESOURCE = 'exporter-image'  # the redis-exporter container's (metadata.yaml)
METRICS_PASSWORD_KEY = 'metrics-password'  # leader data: the exporter's ACL user's password
# Leader data: the termination grace period of the first spec, which Juju keeps for the pods.
POD_GRACE_KEY = 'pod-grace-s'

LEADER = 'redis.leader'
SPEC_CURRENT = 'redis.spec.current'
STOPPING = 'redis.stopping'  # the stop hook ran: this unit is going away
# What consumers are given (the master, its password, its sentinels) is not what this unit last
# published to them: raised by follow_peers, cleared by publish_master.
MASTER_CHANGED = 'redis.master.changed'
# Leader: units came or went since the quorum and min-replicas were last sized for them.
UNITS_CHANGED = 'redis.units.changed'

PEERS = 'redis-peers'  # the peer endpoint (metadata.yaml)
# Unit kv, leader: ``[host, port, epoch]`` the peer record held at the end of this unit's last
# successful hook as leader (see :func:`peer_record`).
SHARED = 'redis-k8s.shared-record'
PUBLISHED = 'redis-k8s.published'  # unit kv: a digest of what this unit last gave its consumers
SIZED_FOR = 'redis-k8s.sized-for'  # unit kv: the units the leader last sized quorum for
OWN_POD = 'redis-k8s.own-pod'  # unit kv: the pod this unit runs in, once found
OWN_VIEW = 'redis-k8s.own-view'  # unit kv: [pod, role] this unit last published to its peers
GIVEN = 'redis-k8s.given'  # unit kv: [host, port, epoch] this unit last gave its consumers
GIVEN_SHARED = 'redis-k8s.given-shared'  # unit kv: the GIVEN last told the peers
# Charm directory: the host bin/publish-promoted (run by the master watcher) moved this unit's
# entries to, ahead of the leader's record.
PROMOTED_FILE = '.promoted-published'

RESOLV_CONF = '/etc/resolv.conf'  # the operator pod's, written by the kubelet
TLS_LIVE_KEY = 'tls-live'  # leader data: "on" once every pod serves TLS (consumers are told)
# Leader data: "yes" once every redis and sentinel serves plain TCP after TLS was switched off;
# until then the TLS Secret keeps the material (tls_material.plan's keep_material).
TLS_ALL_PLAIN_KEY = 'tls-all-plain'
TLS_MODES = 'redis-k8s.tls-modes'  # unit kv: the mode each instance last answered in
UNANSWERED = 'redis-k8s.unanswered'  # unit kv: instances that timed out lately, and when
SENTINEL_RESETS = 'redis-k8s.sentinel-resets'  # unit kv: the resets last asked of the watcher
TLS_CLIENT_DIR = '.redis-k8s-tls'  # in the charm dir: the CA bundle and client certificate files


# --- leader data, read once per hook ---------------------------------------------------------------

_leader_data = None
_master_moved = False  # this hook recorded a new master, or gave consumers one


def _leader_copy():
    """This hook's copy of leader data, read once (each read is a tool call); writes update it."""
    global _leader_data
    if _leader_data is None:
        _leader_data = dict(hookenv.leader_get() or {})
    return _leader_data


def leader_get(key):
    """One key of leader data (from :func:`_leader_copy`)."""
    return _leader_copy().get(key)


_leader_unsaved = {}  # leader data this hook took but has not written yet (leader_set(defer=True))


def leader_set(values, defer=False):
    """Write ``values`` to leader data, with any deferred before them, in one ``leader-set``.

    ``defer`` keeps them for the next write of this hook (each write is a tool call; a failover
    writes the master and then its epoch), or for the hook's end at the latest: they read back
    at once either way.
    """
    _leader_copy().update(values)
    if defer:
        if not _leader_unsaved:
            hookenv.atexit(flush_leader_data)
        _leader_unsaved.update(values)
        return
    hookenv.leader_set(dict(_leader_unsaved, **values))
    _leader_unsaved.clear()


def flush_leader_data():
    """Write what :func:`leader_set` deferred, if anything is left."""
    if _leader_unsaved:
        leader_set({})


# --- check -----------------------------------------------------------------------------------------

def sync_leadership():
    """Mirror ``is-leader`` into a flag at the start of every hook; leadership can move between hooks."""
    toggle_flag(LEADER, hookenv.is_leader())


def unit_count():
    """How many units the application is meant to have (goal state), never less than one.

    Pods are ``<app>-0..count-1`` (a StatefulSet's ordinals), whatever the units' numbers: Juju
    never reuses a unit number, so a unit's number says nothing about its pod.
    """
    return len(unit_names())


@functools.lru_cache(maxsize=None)
def unit_names():
    """The application's units that are not dying, by goal state (this unit at least).

    Read once per hook: a hook is one process, and goal state does not move during it.
    """
    try:
        units = hookenv.goal_state().get('units', {})
    except Exception:  # goal-state is missing on very old agents
        units = {}
    names = sorted(name for name, unit in units.items() if unit.get('status') != 'dying')
    return tuple(names or [hookenv.local_unit()])


LAST_GOOD_CONFIG = 'redis-k8s.last-good-config'  # unitdata: {"config": ..., "units": ...}


@functools.lru_cache(maxsize=None)
def current_settings():
    """The settings the unit runs with: the configuration when it is valid; while an option is
    invalid, the last valid one (see :func:`last_good_settings`), with a blocked status naming the
    option; ``None`` only when no configuration was ever valid.

    The master is tracked, published and healed with them while the operator fixes a typo:
    consumers must follow a failover even then. The pod spec rendered from them is the one Juju
    already has, so nothing is re-sent and no pod restarts. Parsed once per hook (config and goal
    state are fixed for the hook's life).
    """
    raw = dict(hookenv.config())
    count = unit_count()
    try:
        parsed = settings.parse(raw, count)
        podspec.check_stop_fits(parsed, pod_grace_s())
    except settings.ConfigError as error:
        layer.status.blocked(str(error))
        parsed = last_good_settings()
    else:
        unitdata.kv().set(LAST_GOOD_CONFIG, {'config': raw, 'units': count})
    if parsed is not None:
        configure_tls_connections(parsed)
    return parsed


def pod_grace_s():
    """The termination grace period the pods were created with (the first spec's; Juju never
    changes it on an existing StatefulSet), or None before the first spec."""
    value = leader_get(POD_GRACE_KEY)
    return int(value) if value and value.isdigit() else None


def last_good_settings():
    """The settings of the last configuration this unit found valid, for the current unit count
    (for the count it was valid with, when the current one makes it invalid); ``None`` if none.

    Kept in the unit's own data, which only a successful hook saves: a unit that never saw a valid
    configuration has none.
    """
    last = unitdata.kv().get(LAST_GOOD_CONFIG)
    if not last:
        return None
    for count in (unit_count(), last.get('units')):
        try:
            return settings.parse(last['config'], count)
        except (settings.ConfigError, ValueError):
            continue
    return None


# --- TLS -------------------------------------------------------------------------------------------

def tls_leader_data():
    """The TLS keys of leader data (:mod:`redis_k8s.tls_material`)."""
    return {key: leader_get(key) or '' for key in tls_material.LEADER_KEYS}


def configure_tls_connections(parsed):
    """Make the charm's connections speak TLS when the pods do (or may, mid-switch): the CA
    bundle, and with ``tls-auth-clients yes`` pod 0's certificate as the client's, in private
    files under the charm directory. Before any material exists, plain TCP only."""
    leader = tls_leader_data()
    bundle = tls_material.bundle_of(leader)
    if not bundle:
        tls_mode.configure_tls(None)
        return None
    directory = os.path.join(hookenv.charm_dir(), TLS_CLIENT_DIR)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    ca = os.path.join(directory, 'ca.pem')
    watchers.write_private(ca, bundle)
    cert = key = None
    if parsed.tls_auth_clients == 'yes':
        pairs = tls_material.pairs_of(leader, [naming.pod_name(hookenv.application_name(), 0)])
        if pairs:
            pair = list(pairs.values())[0]
            cert, key = os.path.join(directory, 'client.pem'), os.path.join(directory, 'client.key')
            watchers.write_private(cert, pair[0])
            watchers.write_private(key, pair[1])
    tls = tls_mode.Tls(enabled=parsed.tls, ca=ca, cert=cert, key=key)
    tls_mode.configure_tls(tls)
    tls_mode.remember_modes(unitdata.kv().get(TLS_MODES))
    hookenv.atexit(_save_tls_modes)
    return tls


def _save_tls_modes():
    found = tls_mode.modes()
    if found != (unitdata.kv().get(TLS_MODES) or {}):
        unitdata.kv().set(TLS_MODES, found)


def read_tls_resources():
    """``{resource: contents or None}`` of cert-file, key-file and ca-cert-file (``resource-get``
    fails for a file resource nothing was uploaded for: "not supplied", as an empty file is)."""
    found = {}
    for name in tls_material.RESOURCES:
        path = hookenv.resource_get(name)
        data = None
        if path:
            try:
                with open(path.strip(), 'rb') as handle:
                    data = handle.read()
            except OSError:
                data = None
        found[name] = data
    return found


def tls_material_now(parsed, read_resources=False):
    """Leader: this hook's TLS material; what it generated or took is written to leader data
    (and logged, never a key)."""
    material = tls_material.plan(
        parsed, hookenv.application_name(), hookenv.model_name(), cluster_domain(), unit_count(),
        tls_leader_data(), resources=read_tls_resources() if read_resources else None,
        keep_material=not parsed.tls and leader_get(TLS_ALL_PLAIN_KEY) != 'yes')
    for reason in material.reasons:
        hookenv.log('TLS: {}'.format(reason))
    if material.leader_data:
        leader_set(material.leader_data)
        configure_tls_connections(parsed)  # this hook's later connections may need the new CA
    return material


def renew_tls_if_due():
    """Leader, on update-status and when units came or went: issue what is missing or due
    (a new pod's certificate, a renewal) and have the pod spec (its Secret) sent again. A
    steady hook generates nothing, writes nothing and reads no resource."""
    if not is_flag_set(LEADER):
        return
    parsed = current_settings()
    if parsed is None or not parsed.tls:
        return
    if tls_material_now(parsed).leader_data:
        mark_spec_stale()


def tls_wanted(parsed):
    """What every pod's TLS state must be (:class:`live.TlsWanted`), from leader data."""
    leader = tls_leader_data()
    pods = [naming.pod_name_of(host) for host in pod_fqdns()]
    served = {} if not parsed.tls else {
        pod: tls_material.fingerprint(pair[0]) for pod, pair in tls_material.pairs_of(leader, pods).items()}
    return live.TlsWanted(enabled=parsed.tls, auth_clients=parsed.tls_auth_clients,
                          non_tls_port=parsed.non_tls_port, directory=podspec.TLS_DIR, served=served)


def consumer_tls_ca(parsed):
    """The CA bundle consumers are given: once every pod serves TLS (the leader's
    ``tls-live``), else None (TLS off, or a switch on not finished)."""
    if not parsed.tls or leader_get(TLS_LIVE_KEY) != 'on':
        return None
    return tls_material.bundle_of(tls_leader_data()) or None


def password(parsed):
    """The password clients and replicas use: the configured one, else the leader's generated one."""
    return parsed.password or leader_get('password') or None


@functools.lru_cache(maxsize=None)
def cluster_domain():
    """The cluster's DNS domain, from the operator pod's resolv.conf (``cluster.local`` only when
    it cannot be read): pod names end in it, and clusters set up with another one exist."""
    try:
        with open(RESOLV_CONF) as handle:
            text = handle.read()
    except OSError:
        text = ''
    return naming.cluster_domain(text, hookenv.model_name())


def pod_fqdns(count=None):
    """The DNS names of pods ``0..count-1`` (default: one per unit)."""
    return naming.all_pod_fqdns(hookenv.application_name(), hookenv.model_name(),
                                unit_count() if count is None else count, cluster_domain())


_observation = None  # this hook's snapshot of the cluster, taken on first use
_unanswered_loaded = False  # the timeouts of earlier hooks are known to connection


def observe_topology(parsed):
    """This hook's one observation of the cluster (:class:`redis_k8s.observation.Snapshot`):
    every question to a sentinel or redis is asked once, when first needed, and its answer is
    shared by the check, the heal steps and the status."""
    global _observation
    if _observation is None:
        if not _unanswered_loaded:
            _load_unanswered()
        _observation = observation.observe(pod_fqdns(), parsed, password(parsed))
    return _observation


def _load_unanswered():
    global _unanswered_loaded
    _unanswered_loaded = True
    connection.remember_unanswered(unitdata.kv().get(UNANSWERED))
    hookenv.atexit(_save_unanswered)


def _save_unanswered():
    found = connection.unanswered()
    if found != (unitdata.kv().get(UNANSWERED) or {}):
        unitdata.kv().set(UNANSWERED, found)


def forget_observation():
    """Drop the snapshot once something acted on the cluster: later readers observe afresh."""
    global _observation
    if _observation is not None:
        _observation.pods.close()
    _observation = None


# --- ensure ----------------------------------------------------------------------------------------

def mark_spec_stale():
    clear_flag(SPEC_CURRENT)


def ensure_leader_data():
    """Generate the password and the metrics user's once, on the first leader (the pods' scripts
    apply the bootstrap rule, pod 0, themselves); an upgraded leader generates the metrics one
    in its first hook. Neither is ever logged."""
    missing = {key: passwords.generate() for key in ('password', METRICS_PASSWORD_KEY)
               if not leader_get(key)}
    if missing:
        leader_set(missing)


def metrics_password():
    """The metrics user's password (``redis_k8s.metrics_user``): generated once, never rotated."""
    return leader_get(METRICS_PASSWORD_KEY) or None


def record_leader():
    """Leader: name this unit in leader data, so that an action run on another unit can say which
    unit leads (Juju 2.9 gives a unit no hook tool for that). Written only when leadership moved:
    a steady hook reads leader data once anyway, and writes nothing."""
    unit = hookenv.local_unit()
    if leader_get(password_action.LEADER_UNIT_KEY) != unit:
        leader_set({password_action.LEADER_UNIT_KEY: unit})


def apply_pod_spec():
    """Render the pod spec and send it when it differs from the one Juju has.

    An invalid option leaves the last good spec in place: nothing restarts and the data is untouched.
    """
    parsed = current_settings()
    if parsed is None:
        return
    ensure_leader_data()
    image = layer.docker_resource.get_info(IMAGE_RESOURCE)
    secret_name = naming.secret_name(hookenv.application_name())
    grace_s = pod_grace_s()
    rendered = podspec.render(hookenv.application_name(), hookenv.model_name(), image, parsed,
                              secret_name, domain=cluster_domain(),
                              exporter_image=layer.docker_resource.get_info(EXPORTER_IMAGE_RESOURCE),
                              grace_s=grace_s)
    resources = podspec.with_secret(rendered.k8s_resources, secret_name, password(parsed),
                                    metrics_password())
    # Resources are read here only: this runs on config-changed, upgrade-charm (which
    # attach-resource brings), a new leader's first hook and a renewal, not on steady hooks.
    material = tls_material_now(parsed, read_resources=True)
    resources = podspec.with_tls_secret(resources, naming.tls_secret_name(hookenv.application_name()),
                                        material.secret_data)
    if not parsed.tls and leader_get(TLS_LIVE_KEY):
        leader_set({TLS_LIVE_KEY: ''})  # consumers are told TLS is off before the pods switch
    if parsed.tls and leader_get(TLS_ALL_PLAIN_KEY):
        leader_set({TLS_ALL_PLAIN_KEY: ''})
    fingerprint = _fingerprint(rendered.spec, resources)
    # The first spec's grace period is the pods' for good (a spec sent by an earlier revision of
    # the charm had the one these settings give).
    first_grace = {} if grace_s is not None else {POD_GRACE_KEY: str(
        rendered.k8s_resources['kubernetesResources']['pod']['terminationGracePeriodSeconds'])}
    if leader_get('spec-hash') != fingerprint:
        change_password_live(parsed)
        layer.status.maintenance('configuring pods')
        layer.caas_base.pod_spec_set(rendered.spec, k8s_resources=resources)
        leader_set(dict(first_grace, **{'spec-hash': fingerprint}))
        hookenv.log('pod spec set ({})'.format(fingerprint[:12]))
    elif first_grace:
        leader_set(first_grace)
    set_flag(SPEC_CURRENT)


def password_state():
    """Where the password rotation stands (:class:`rotation.Passwords`), from leader data."""
    return rotation.from_leader_data(leader_get)


def _save_password_state(before, after):
    if after != before:
        leader_set(rotation.leader_data(after))


def change_password_live(parsed):
    """Start a password rotation, in the hook that puts the new password in the Secret.

    No pod restarts: the scripts and probes read the Secret's file, which Kubernetes updates in
    place within ``live.SECRET_SYNC_S``. Until then a pod may still read the old password, so every
    redis and sentinel accepts both; consumers are given the new one once every pod accepts it
    (this hook when all answer, else a later one), and the old ones are refused once the files
    and the consumers have had that delay to follow (:func:`continue_password_change`).
    """
    before = password_state()
    after = rotation.change(before, password(parsed), time.time())
    if after.rotating and after.retired != before.retired:
        layer.status.maintenance('changing the password')
        after = rotation.advance(after, pod_fqdns(), parsed, time.time())
        _log_password_progress(before, after)
    _save_password_state(before, after)


def continue_password_change(parsed):
    """Leader, every hook: carry a password rotation on (pods unreachable before are retried),
    give consumers the new password once every pod accepts it, and end the rotation once the old
    passwords can be refused everywhere."""
    before = password_state()
    if not before.rotating:
        return
    after = rotation.advance(before, pod_fqdns(), parsed, time.time())
    _log_password_progress(before, after)
    _save_password_state(before, after)


def _log_password_progress(before, after):
    if after.consumers != before.consumers:
        hookenv.log('every pod accepts the new password: consumers are given it')
    elif after.rotating and after.consumers != after.secret:
        hookenv.log('the new password is not accepted by every pod yet (retried on a later '
                    'hook): consumers keep the previous one, which stays valid')
    if before.rotating and not after.rotating:
        hookenv.log('password change complete: previous passwords are refused')


def consumer_password(parsed):
    """The password consumers are given: the one every pod accepts (the configured or generated
    one until a rotation starts)."""
    return password_state().consumers or password(parsed)


def apply_live_settings(parsed, fqdns=None):
    """Leader: make every running redis and sentinel use the options and the unit count's quorum
    and min-replicas-to-write, and have the exporter's ACL user (only what differs is set); pods
    not reached are retried on the next hook."""
    hosts = pod_fqdns() if fqdns is None else fqdns
    snapshot = observe_topology(parsed)
    done = []
    missed = live.apply_settings(hosts, parsed, password(parsed),
                                 snapshot=snapshot if list(hosts) == snapshot.hosts else None,
                                 metrics_password=metrics_password(), tls=tls_wanted(parsed),
                                 tls_done=done)
    track_tls_switch(parsed, hosts, done)
    if missed:
        hookenv.log('settings not applied yet on {} (retried on a later hook)'.format(
            ', '.join('{}:{}'.format(naming.pod_name_of(h), p) for h, p in missed)))
    return not missed


_tls_progress = None  # ('on'|'off', pods in the wanted TLS state, pods) while a switch is under way


def track_tls_switch(parsed, hosts, done):
    """Leader: note how far a switch of TLS is (the status shows it); once every redis and
    sentinel is in the wanted state (``done``), finish it: switched on, consumers are told;
    switched off, the certificates leave the Secret; and after a change of issuer, the outgoing
    CA is no longer trusted. Once on, TLS stays on for consumers until enable-tls is false (a
    later certificate reload or a restarting pod is no switch)."""
    global _tls_progress
    _tls_progress = None
    switched = len(set(done) & set(hosts))
    everywhere = switched == len(set(hosts))
    leader = tls_leader_data()
    if not parsed.tls:
        if leader_get(TLS_ALL_PLAIN_KEY) == 'yes' or not tls_material.bundle_of(leader):
            return
        if not everywhere:
            _tls_progress = ('off', switched, len(hosts))
            return
        leader_set({TLS_ALL_PLAIN_KEY: 'yes'})
        mark_spec_stale()
        hookenv.log('TLS is off in every pod: the certificates leave the pods')
    elif leader_get(TLS_LIVE_KEY) != 'on':
        if not everywhere:
            _tls_progress = ('on', switched, len(hosts))
            return
        leader_set({TLS_LIVE_KEY: 'on'})
        set_flag(MASTER_CHANGED)
        hookenv.log('TLS is on in every pod: consumers are told')
    elif tls_material.outgoing(leader) and everywhere:
        leader_set({tls_material.OUTGOING_KEY: ''})
        mark_spec_stale()
        set_flag(MASTER_CHANGED)
        hookenv.log('every pod serves the new certificate: the previous CA is no longer trusted')


def track_master():
    """Leader, every hook: check who the master is, then heal (the watcher is kept running by
    its own handler, :func:`ensure_watcher`).

    Relation data leaves only when the hook ends: after a failover the new master goes out first,
    and the slow healing (a sentinel reset takes seconds each) waits for the next hook, which the
    watcher's settle pass brings a few seconds later.
    """
    if not record_master():
        heal_sentinels()


def record_master():
    """Leader: keep ``master-host``/``master-port`` in leader data equal to the master the sentinels
    follow, or to the replica they have just promoted (it takes writes a second before they
    announce the switch).

    Returns True when the master changed.
    """
    parsed = current_settings()
    if parsed is None:
        return False
    snapshot = observe_topology(parsed)
    found = snapshot.promoted or snapshot.master
    if found is None:
        return False
    return _record(*found)


def _record(host, port):
    """Leader: write ``host:port`` as the master in leader data; True when it changed."""
    global _master_moved
    if (leader_get('master-host'), leader_get('master-port')) == (host, str(port)):
        return False
    # Written and logged with its epoch (share_master, the same handler): one leader-set and
    # one juju-log, not two of each.
    leader_set({'master-host': host, 'master-port': str(port)}, defer=True)
    _master_moved = True
    return True


# --- peers and consumers ---------------------------------------------------------------------------

def peers():
    """The peer endpoint (interface:redis-peers), or None before the relation exists."""
    return endpoint_from_name(PEERS)


def _recorded_in_leader_data():
    """``(host, port, epoch)`` of leader data's master, or None (no master, or no epoch: a charm
    before the epoch was kept there)."""
    host, port, epoch = (leader_get(key) for key in ('master-host', 'master-port', 'master-epoch'))
    try:
        return (host, int(port), int(epoch)) if host else None
    except (TypeError, ValueError):
        return None


def peer_record():
    """``(host, port, epoch)`` the leader recorded in the peer application data, or None.

    Reading the record is a hook tool call (``relation-get --app``); a non-leader reads leader
    data's copy instead (leader data is read in every hook already). The leader keeps the epoch
    in leader data beside the master (both written in the hook that moves the record), and skips
    the read when leader data still says what the record held at the end of its last
    successful hook as leader: only a leader writes the record, always with leader data and a
    higher epoch, so an equal leader data means nobody wrote since. Leader data is written at
    once and the record only when a hook succeeds; a hook failing in between leaves leader data
    ahead of the unit's saved copy, so the next hook reads the record again.
    """
    endpoint = peers()
    if endpoint is None:
        return None
    mine = _recorded_in_leader_data()
    if is_flag_set(LEADER):
        if mine is not None and list(mine) == unitdata.kv().get(SHARED):
            return mine
    elif mine is not None:
        # A non-leader takes the record from leader data (read once per hook anyway): the leader
        # writes it there in the hook that moves the peer record, and leader-set applies at once,
        # so it is never behind the peer record.
        return mine
    record = endpoint.master()
    return tuple(record) if record is not None else None


def published_master():
    """``(host, port, epoch)`` of the master consumers must be given: the leader's record in the
    peer application data, else (before the leader first wrote one) leader data, epoch 0."""
    record = peer_record()
    if record is not None:
        return record
    host, port = leader_get('master-host'), leader_get('master-port')
    if not host or not port:
        return None
    return host, int(port), 0


def share_master():
    """Leader: keep the peer record equal to the master in leader data (the epoch grows by one
    each time it moves: every unit's peer relation-changed hook follows), then raise the flags
    this unit's own publishing and sizing react to."""
    host, port = leader_get('master-host'), leader_get('master-port')
    endpoint = peers()
    moved = bool(_leader_unsaved.get('master-host'))
    if host and port and endpoint is not None:
        record = peer_record()
        if record is None or record[:2] != (host, int(port)):
            record = endpoint.record_master(host, port)
            moved = moved or record is not None
        if record is not None and leader_get('master-epoch') != str(record[2]):
            leader_set({'master-epoch': str(record[2])})
        if record is not None:
            unitdata.kv().set(SHARED, [record[0], int(record[1]), int(record[2])])
    flush_leader_data()
    if moved:
        hookenv.log('master is now {}:{} (epoch {})'.format(host, port, leader_get('master-epoch')))
    follow_peers()


def publication():
    """``(payload, epoch)``: what this unit gives its consumers now, or None before a master is
    known or while an option is invalid."""
    master = published_master()
    parsed = current_settings()
    if master is None or parsed is None:
        return None
    host, port, epoch = master
    payload = relation.payload(
        master_host=host, master_port=port, password=consumer_password(parsed),
        sentinel_hosts=pod_fqdns(), sentinel_port=parsed.sentinel_port,
        master_name=parsed.master_name, tls_ca=consumer_tls_ca(parsed),
        non_tls_port=parsed.non_tls_port)
    return payload, epoch


def _digest(payload, epoch):
    # Kept in the unit's state: a digest, so no password is stored there.
    text = json.dumps({'payload': payload, 'epoch': epoch}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def follow_peers():
    """Every unit, when the peers, leader data or the leader's record moved: raise
    ``MASTER_CHANGED`` when what consumers would be given is not what this unit last gave them
    (a new master epoch, the password once every pod accepts it, units come or gone); on the
    leader, raise ``UNITS_CHANGED`` when the units are not those quorum was last sized for."""
    found = publication()
    if found is not None and (_digest(*found) != unitdata.kv().get(PUBLISHED) or os.path.exists(
            os.path.join(hookenv.charm_dir(), PROMOTED_FILE))):
        # The watcher's bin/publish-promoted moved the entries without this unit's state: they
        # are checked against the leader's record until it names their master or the hold ends.
        set_flag(MASTER_CHANGED)
    if is_flag_set(LEADER) and list(unit_names()) != unitdata.kv().get(SIZED_FOR):
        set_flag(UNITS_CHANGED)


def publish_master():
    """Give every ``redis`` relation the current master (host, port, the password every pod
    accepts, the sentinels), and tell the peers which master epoch this unit published."""
    found = publication()
    provides = endpoint_from_flag('endpoint.redis.joined')
    if found is None or provides is None:
        return
    global _master_moved
    payload, epoch = found
    if promoted_ahead(payload['host']):
        return
    before = {relation.to_publish_raw.get('host') for relation in provides.relations}
    # bin/publish-promoted may have moved the entries already: what this unit's hooks last gave
    # says whether the master moved for it.
    before.add((unitdata.kv().get(GIVEN) or [None])[0])
    published = dict(payload)
    provides.configure(published.pop('host'), published.pop('port'),
                       password=published.pop('password'), **published)
    # The entry leaves when the hook ends: it must not wait for a status that asks the pods
    # (the old master may not answer). A legacy consumer reads every unit's entry.
    _master_moved = _master_moved or any(host and host != payload['host'] for host in before)
    unitdata.kv().set(PUBLISHED, _digest(payload, epoch))
    unitdata.kv().set(GIVEN, [payload['host'], payload['port'], epoch])
    share_given()
    clear_flag(MASTER_CHANGED)
    clear_flag('endpoint.redis.changed')


def promoted_ahead(master_host):
    """Whether the master watcher moved this unit's entries (``bin/publish-promoted``) to a new
    master the leader's record, ``master_host``, does not name yet: publishing now would give
    consumers the old master back (:func:`redis_k8s.relation.keeps_promoted`). The note goes
    once the record names that master or the hold ran out."""
    path = os.path.join(hookenv.charm_dir(), PROMOTED_FILE)
    try:
        with open(path) as handle:
            promoted = handle.read().strip()
        age_s = time.time() - os.stat(path).st_mtime
    except OSError:
        return False
    if relation.keeps_promoted(promoted, age_s, master_host):
        hookenv.log('entries name {}, published at once for the sentinels\' promotion; kept '
                    'until the leader\'s record names it'.format(promoted))
        return True
    try:
        os.remove(path)
    except OSError:
        pass
    return False


def share_given():
    """Tell the peers which master (and epoch) this unit last gave its consumers.

    Written the first time at once, then refreshed on update-status only, like the unit's view
    (:func:`share_own_view`): every unit moves it after a failover, and each write runs a hook on
    every peer (N x (N-1) hooks) that would queue behind the ones carrying the new master.
    """
    endpoint = peers()
    kv = unitdata.kv()
    given, last = kv.get(GIVEN), kv.get(GIVEN_SHARED)
    if endpoint is None or given is None or given == last:
        return
    # Nor in the hook that gave consumers a new master (the watcher's trigger is an
    # update-status): its peer hooks would run before the other units' own publishing hooks.
    if last and (hookenv.hook_name() != 'update-status' or _master_moved):
        return
    endpoint.publish_seen(*given)
    kv.set(GIVEN_SHARED, given)


def own_pod():
    """The name of the pod this unit runs in, or None while it is not known.

    The hooks run in the operator pod; Juju gives the unit's own pod IP as ``network-get``'s bind
    address, and the pod whose DNS name resolves to it is the unit's. A StatefulSet pod keeps its
    name when it is recreated and Juju keeps the unit linked to it, so once found it is kept
    (no hook tool call on later hooks).
    """
    kv = unitdata.kv()
    pod = kv.get(OWN_POD)
    if pod:
        return pod
    try:
        address = subprocess.check_output(
            ['network-get', PEERS, '--bind-address'], stderr=subprocess.DEVNULL).decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return None  # no pod address yet
    pod = naming.pod_at_address(address, pod_fqdns(), socket.gethostbyname)
    if pod:
        kv.set(OWN_POD, pod)
    return pod


def share_own_view(snapshot):
    """Tell the peers which pod this unit runs in and the role its redis has in ``snapshot``.

    Refreshed on update-status only (and whenever nothing was published yet): each change of a
    unit's data runs a hook on every peer, and after a failover those hooks would queue behind
    the ones that carry the new master to the consumers. What was published is kept in the unit's
    kv, so an unchanged view costs no hook tool call (reading the unit's own relation data is a
    ``relation-get``).
    """
    endpoint = peers()
    kv = unitdata.kv()
    last = kv.get(OWN_VIEW)
    if endpoint is None or (last and hookenv.hook_name() != 'update-status'):
        return
    pod = own_pod()
    if pod is None:
        return
    fqdn = next((host for host in snapshot.hosts if naming.pod_name_of(host) == pod), None)
    info = snapshot.info(fqdn) if fqdn else None
    role = {'master': 'master', 'slave': 'replica'}.get((info or {}).get('role'), 'unreachable')
    if [pod, role] != last:
        endpoint.publish_pod(pod, role)
        kv.set(OWN_VIEW, [pod, role])


def resize_for_units():
    """Leader, when units came or went: apply the quorum and min-replicas for the new count now
    (the heal path applies them on every hook where the master did not move; this one may be
    such a hook). Pods not reached are retried by the heal path on later hooks."""
    parsed = current_settings()
    if parsed is None:
        return
    if apply_live_settings(parsed):
        hookenv.log('quorum {} and min-replicas-to-write {} applied for {} units'.format(
            parsed.quorum, parsed.min_replicas_to_write, parsed.unit_count))
    unitdata.kv().set(SIZED_FOR, list(unit_names()))
    clear_flag(UNITS_CHANGED)


# --- heal ------------------------------------------------------------------------------------------

def heal_sentinels():
    """Leader: carry a password change on; make every running pod use the options, quorum and
    write safety (live: Kubernetes does not restart pods for new ConfigMap contents); then the
    first heal step the cluster needs (:func:`redis_k8s.healing.heal`, on this hook's snapshot):
    a lost or moved master, sentinels or pods astray, sentinels that remember removed pods or an
    old port (found here, reset by the master watcher one at a time)."""
    parsed = current_settings()
    if parsed is None:
        return
    continue_password_change(parsed)
    apply_live_settings(parsed, pod_fqdns())
    snapshot = observe_topology(parsed)
    healed = healing.heal(snapshot)
    if healed is None:
        return
    forget_observation()
    step, result = healed
    if step == 'recover_lost_master':
        hookenv.log('the master left with its pod and no sentinel could fail over: promoted {}'.format(
            naming.pod_name_of(result)), hookenv.WARNING)
        _record(result, parsed.port)
    elif step == 'follow_moved_master':
        hookenv.log('the master {} came back on port {}: sentinels follow it there'.format(
            naming.pod_name_of(result), parsed.port), hookenv.WARNING)
        _record(result, parsed.port)
    elif step == 'demote_second_masters':
        hookenv.log('pods still acting as master after the sentinels switched made replicas of '
                    '{}: {}'.format(leader_get('master-host'), ', '.join(
                        naming.pod_name_of(host) for host in result)), hookenv.WARNING)
    elif step == 'realign_sentinels':
        hookenv.log('sentinels that followed a gone master now monitor {}: {}'.format(
            leader_get('master-host'), ', '.join(naming.pod_name_of(host) for host in result)),
            hookenv.WARNING)
    elif step == 'repoint_strays':
        hookenv.log('pods not serving under {} made its replicas: {}'.format(
            leader_get('master-host'), ', '.join(naming.pod_name_of(host) for host in result)),
            hookenv.WARNING)
    elif step == 'stale_sentinels':
        ask_sentinel_resets(result, snapshot.hosts)


def ask_sentinel_resets(hosts, pods):
    """Leader: ask the master watcher to reset the sentinels at ``hosts`` (they remember removed
    pods; ``pods``: the pods now), through its settings (:func:`ensure_watcher`, later in this
    hook); not again while the same request is fresh and the pods the same."""
    kv = unitdata.kv()
    now = time.time()
    if not sentinel_reset.asked_again(kv.get(SENTINEL_RESETS), hosts, now, pods):
        return
    kv.set(SENTINEL_RESETS, sentinel_reset.request(hosts, now, pods))
    hookenv.log('sentinels that remember removed instances, to be reset one at a time by the '
                'master watcher: {}'.format(', '.join(naming.pod_name_of(host) for host in hosts)))


# --- the master watcher (issue: consumers follow a failover at once) -------------------------------
#
# Exactly one watcher per application, started by the leader from its own charm directory (Juju
# 2.9 gives each unit one, in the application's one operator pod, whose filesystem does not
# survive a restart of that pod). Its pid file and settings are there too. Three rules keep it one:
# the leader's hooks start it when it is not running (the first hook after an operator restart
# does); they stop any watcher another unit started (Juju 2.9 has no leader-deposed hook;
# a deposed leader's next hook, usually leader-settings-changed, may come late);
# every hook of a unit that does not lead stops the one from its own directory (the stale
# watcher's own trigger runs such a hook at its next event).

def ensure_watcher():
    """Leader: keep the application's one master watcher running, from this unit's charm
    directory and triggering this unit's hooks; stop the ones other units left running."""
    parsed = current_settings()
    if parsed is None:
        return
    charm_dir = hookenv.charm_dir()
    running = watchers.process(charm_dir)
    stop_other_watchers(keep=running[0] if running else None)
    wanted = {
        'sentinels': pod_fqdns(), 'port': parsed.sentinel_port, 'redis_port': parsed.port,
        'password': password(parsed),
        'tls': connection_tls_settings(),
        'master_name': parsed.master_name, 'down_after_ms': parsed.down_after_ms,
        'failover_timeout_ms': parsed.failover_timeout_ms,
        'trigger': watchers.refresh_command(hookenv.local_unit()),
        'promotion_trigger': watchers.promotion_command(hookenv.local_unit()),
        'publish_promoted': [watchers.publish_command(unit) for unit in unit_names()],
        'settle': [watchers.refresh_command(unit) for unit in unit_names()],
        'sentinel_resets': unitdata.kv().get(SENTINEL_RESETS),
    }
    started = watchers.ensure(charm_dir, wanted, os.environ)
    if started is not None:
        hookenv.log('master watcher started (pid {})'.format(started))


def connection_tls_settings():
    """The watcher's TLS settings: this hook's (:func:`configure_tls_connections`), None for
    plain TCP only."""
    tls = tls_mode.current_tls()
    return None if tls is None else tls._asdict()


def stop_other_watchers(keep=None):
    """Leader: stop every watcher of this application but ``keep`` (this unit's, by pid): those
    other units started (a deposed leader's), and any this unit lost track of."""
    for pid, unit in watchers.stop_others(hookenv.application_name(), keep):
        hookenv.log('stopped the master watcher {} started (pid {}): {} leads now'.format(
            unit, pid, hookenv.local_unit()))


def stop_watcher():
    """Stop the watcher started from this unit's charm directory, if one runs: the unit no longer
    leads, or is going away. The leader's next hook starts its own."""
    stopped = watchers.stop(hookenv.charm_dir())
    if stopped is not None:
        hookenv.log('master watcher stopped (pid {})'.format(stopped))


# --- status ----------------------------------------------------------------------------------------

def assess_status():
    """One status per unit that says what an operator needs to know."""
    parsed = current_settings()
    if parsed is None:
        return
    if not leader_get('spec-hash'):
        layer.status.waiting('waiting for the leader to set the pod spec')
        return
    problem = leader_get(tls_material.PROBLEM_KEY)
    if parsed.tls and problem:
        layer.status.blocked(problem)  # the pods keep the material they have
        return
    count = unit_count()
    if _master_moved:
        # The old master is likely down: asking it would hold the new master's relation data
        # back by a timeout. The watcher's settle pass brings the full status seconds later.
        layer.status.waiting('master moved to {}; checking the other pods'.format(
            naming.pod_name_of(leader_get('master-host'))))
        return
    snapshot = observe_topology(parsed)
    health = snapshot.health()
    share_own_view(snapshot)
    share_given()
    if health.master is None:
        layer.status.waiting('waiting for pods: {}/{} ready, no master yet'.format(
            health.ready, count))
        return
    master_pod = naming.pod_name_of(health.master[0])
    if health.other_masters:
        layer.status.waiting('{} also acting as master beside {}: the leader demotes it'.format(
            ', '.join(naming.pod_name_of(host) for host in health.other_masters), master_pod))
        return
    if health.ready < count:
        layer.status.waiting('{}/{} pods ready, master {}'.format(health.ready, count, master_pod))
        return
    if _tls_progress is not None and is_flag_set(LEADER):
        layer.status.maintenance('switching TLS {} ({}/{} pods)'.format(*_tls_progress))
        return
    layer.status.active('{}/{} pods, master {}'.format(health.ready, count, master_pod))
    if is_flag_set(LEADER) and health.version and \
            unitdata.kv().get('redis-k8s.version') != health.version:
        hookenv.application_version_set(health.version)
        unitdata.kv().set('redis-k8s.version', health.version)


def _fingerprint(spec, resources):
    text = json.dumps({'spec': spec, 'resources': resources}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
