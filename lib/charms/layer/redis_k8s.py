"""Juju-facing operations of the redis-k8s charm.

The handlers in ``reactive/redis.py`` call these functions and nothing else. Each one reads what it
needs from Juju (config, leader data, goal state, the image resource), asks the plain modules in
``redis_k8s`` for every decision, and writes the outcome back (pod spec, leader data, relation data,
status). The split follows the RedisFailover operator's loop: *check* (``observe_topology``), *ensure*
(``apply_pod_spec``, ``record_master``, ``publish_master``) and *heal* (``heal_sentinels``).
"""

import functools
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

from charmhelpers.core import hookenv, unitdata
from charms.reactive import clear_flag, endpoint_from_flag, is_flag_set, set_flag, toggle_flag

from charms import layer
from redis_k8s import live, naming, passwords, podspec, relation, settings, topology, watchers

IMAGE_RESOURCE = 'redis-image'

LEADER = 'redis.leader'
SPEC_CURRENT = 'redis.spec.current'
CONFIG_VALID = 'redis.config.valid'
MASTER_KNOWN = 'redis.master.known'
STOPPING = 'redis.stopping'  # the stop hook ran: this unit is going away

RESOLV_CONF = '/etc/resolv.conf'  # the operator pod's, written by the kubelet


# --- leader data, read once per hook ---------------------------------------------------------------

_leader_data = None
_master_moved = False  # this hook recorded a new master


def leader_get(key):
    """One key of leader data; the whole of it is read once per hook (each read is a tool call)."""
    global _leader_data
    if _leader_data is None:
        _leader_data = dict(hookenv.leader_get() or {})
    return _leader_data.get(key)


def leader_set(values):
    hookenv.leader_set(values)
    if _leader_data is not None:
        _leader_data.update(values)


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
    except settings.ConfigError as error:
        clear_flag(CONFIG_VALID)
        layer.status.blocked(str(error))
        return last_good_settings()
    set_flag(CONFIG_VALID)
    unitdata.kv().set(LAST_GOOD_CONFIG, {'config': raw, 'units': count})
    return parsed


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


def observe_topology(parsed):
    """Ask every pod's sentinel who the master is; ``None`` while no pod answers."""
    return topology.master_from_sentinels(pod_fqdns(), parsed.sentinel_port, parsed.master_name,
                                          password(parsed))


# --- ensure ----------------------------------------------------------------------------------------

def mark_spec_stale():
    clear_flag(SPEC_CURRENT)


def ensure_leader_data():
    """Generate the password and fix the bootstrap master once, on the first leader."""
    wanted = {}
    if not leader_get('password'):
        wanted['password'] = passwords.generate()
    if not leader_get('bootstrap-master'):
        wanted['bootstrap-master'] = naming.bootstrap_master(
            hookenv.application_name(), hookenv.model_name(), cluster_domain())
    if wanted:
        leader_set(wanted)


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
    rendered = podspec.render(hookenv.application_name(), hookenv.model_name(), image, parsed,
                              secret_name, domain=cluster_domain())
    resources = podspec.with_secret(rendered.k8s_resources, secret_name, password(parsed))
    fingerprint = _fingerprint(rendered.spec, resources)
    if leader_get('spec-hash') != fingerprint:
        change_password_live(parsed)
        layer.status.maintenance('configuring pods')
        layer.caas_base.pod_spec_set(rendered.spec, k8s_resources=resources)
        leader_set({'spec-hash': fingerprint, 'active-password': password(parsed)})
        hookenv.log('pod spec set ({})'.format(fingerprint[:12]))
    set_flag(SPEC_CURRENT)


def change_password_live(parsed):
    """Start a password rotation, in the hook that puts the new password in the Secret.

    No pod restarts: the scripts and probes read the Secret's file, which Kubernetes updates in
    place within ``live.SECRET_SYNC_S``. Until then a pod may still read the old password, so every
    redis and sentinel accepts both, and replicas and sentinels switch to the new one at once; the
    old one is refused on the first leader hook after that delay (:func:`continue_password_change`),
    once every instance was reached. Several changes in a row retire every previous password.
    """
    active, wanted = leader_get('active-password'), password(parsed)
    if not active or active == wanted:
        return
    retired = [p for p in _retired_passwords() + [active] if p != wanted]
    now = time.time()
    leader_set({'retired-passwords': json.dumps(retired), 'retired-since': repr(now)})
    layer.status.maintenance('changing the password')
    live.rotate(pod_fqdns(), parsed, wanted, retired, now, now)


def continue_password_change(parsed):
    """Leader, every hook: carry a password rotation on (pods unreachable before are retried) and
    end it once the old passwords can be refused everywhere."""
    retired = _retired_passwords()
    if not retired:
        return
    since = float(leader_get('retired-since') or 0)
    if live.rotate(pod_fqdns(), parsed, password(parsed), retired, since, time.time()):
        leader_set({'retired-passwords': '', 'retired-since': ''})
        hookenv.log('password change complete: previous passwords are refused')


def _retired_passwords():
    try:
        return list(json.loads(leader_get('retired-passwords') or '[]'))
    except ValueError:
        return []


def apply_live_settings(parsed, fqdns=None):
    """Leader: make every running redis and sentinel use the options and the unit count's quorum
    and min-replicas-to-write (only what differs is set); pods not reached are retried on the
    next hook."""
    missed = live.apply_settings(pod_fqdns() if fqdns is None else fqdns, parsed, password(parsed))
    if missed:
        hookenv.log('settings not applied yet on {} (retried on a later hook)'.format(
            ', '.join('{}:{}'.format(naming.pod_name_of(h), p) for h, p in missed)))
    return not missed


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
    global _master_moved
    parsed = current_settings()
    if parsed is None:
        return False
    found = (topology.promoted_replica(pod_fqdns(), parsed.sentinel_port, parsed.master_name,
                                       password(parsed))
             or observe_topology(parsed))
    if found is None:
        return False
    host, port = found
    if (leader_get('master-host'), leader_get('master-port')) == (host, str(port)):
        return False
    leader_set({'master-host': host, 'master-port': str(port)})
    hookenv.log('master is now {}:{}'.format(host, port))
    _master_moved = True
    return True


def publish_master():
    """Every unit publishes the same, current master on every ``redis`` relation."""
    host, port = leader_get('master-host'), leader_get('master-port')
    parsed = current_settings()
    if not host or not port or parsed is None:
        return
    provides = endpoint_from_flag('endpoint.redis.joined')
    if provides is None:
        return
    payload = relation.payload(
        master_host=host, master_port=port, password=password(parsed),
        sentinel_hosts=pod_fqdns(), sentinel_port=parsed.sentinel_port,
        master_name=parsed.master_name)
    provides.configure(payload.pop('host'), payload.pop('port'), password=payload.pop('password'),
                       **payload)


# --- heal ------------------------------------------------------------------------------------------

def heal_sentinels():
    """Leader: carry a password change on; make every running pod use the options, quorum and
    write safety (live: Kubernetes does not restart pods for new ConfigMap contents); make
    sentinels that remember removed pods or an old port forget them (one sentinel at a time)."""
    parsed = current_settings()
    if parsed is None:
        return
    count = unit_count()
    fqdns = pod_fqdns(count)
    secret = password(parsed)
    continue_password_change(parsed)
    apply_live_settings(parsed, fqdns)
    promoted = topology.recover_lost_master(fqdns, parsed, secret)
    if promoted:
        hookenv.log('the master left with its pod and no sentinel could fail over: promoted {}'.format(
            naming.pod_name_of(promoted)), hookenv.WARNING)
        record_master()
    moved = topology.follow_moved_master(fqdns, parsed, secret)
    if moved:
        hookenv.log('the master {} came back on port {}: sentinels follow it there'.format(
            naming.pod_name_of(moved), parsed.port), hookenv.WARNING)
        record_master()
    realigned = topology.realign_sentinels(fqdns, parsed, secret)
    if realigned:
        hookenv.log('sentinels that followed a gone master now monitor {}: {}'.format(
            leader_get('master-host'), ', '.join(naming.pod_name_of(host) for host in realigned)),
            hookenv.WARNING)
    strays = topology.repoint_strays(fqdns, parsed, secret)
    if strays:
        hookenv.log('pods not serving under {} made its replicas: {}'.format(
            leader_get('master-host'), ', '.join(naming.pod_name_of(host) for host in strays)),
            hookenv.WARNING)
    stale = topology.stale_sentinels(fqdns, parsed, secret)
    if stale:
        hookenv.log('resetting sentinels that remember removed instances: {}'.format(
            ', '.join(naming.pod_name_of(host) for host in stale)))
        topology.reset_sentinels(fqdns, parsed.sentinel_port, parsed.master_name, secret,
                                 targets=stale)


# --- the master watcher (issue: consumers follow a failover at once) -------------------------------
#
# Exactly one watcher per application, started by the leader from its own charm directory (Juju
# 2.9 gives each unit one, in the application's one operator pod, whose filesystem does not
# survive a restart of that pod). Its pid file and settings are there too. Three rules keep it one:
# the leader's hooks start it when it is not running (the first hook after an operator restart
# does); they stop any watcher another unit started (a deposed leader runs no hook in Juju 2.9);
# every hook of a unit that does not lead stops the one from its own directory (the stale
# watcher's own trigger runs such a hook at its next event).

WATCHER_SETTINGS = '.master-watcher.json'
WATCHER_PID = '.master-watcher.pid'
WATCHER_LOG = '.master-watcher.log'


def ensure_watcher():
    """Leader: keep the application's one master watcher running, from this unit's charm
    directory and triggering this unit's hooks; stop the ones other units left running."""
    parsed = current_settings()
    if parsed is None:
        return
    charm_dir = hookenv.charm_dir()
    running = _watcher_process(charm_dir)
    stop_other_watchers(keep=running[0] if running else None)
    wanted = {
        'sentinels': pod_fqdns(), 'port': parsed.sentinel_port, 'redis_port': parsed.port,
        'password': password(parsed),
        'master_name': parsed.master_name, 'down_after_ms': parsed.down_after_ms,
        'trigger': watchers.refresh_command(hookenv.local_unit()),
        'settle': [watchers.refresh_command(unit) for unit in unit_names()],
    }
    _write_private_json(os.path.join(charm_dir, WATCHER_SETTINGS), wanted)
    code = _watcher_code()
    if running is not None:
        pid, running_code = running
        if running_code == code:
            return
        _terminate(pid)  # an upgrade brought new watcher code
    # The watcher's juju-run must not look like a call from inside a hook.
    env = {key: value for key, value in os.environ.items() if not key.startswith('JUJU_CONTEXT')}
    env['PYTHONPATH'] = os.path.join(charm_dir, 'lib')
    with open(os.path.join(charm_dir, WATCHER_LOG), 'ab') as log:
        process = subprocess.Popen(
            [sys.executable, '-m', 'redis_k8s.master_watcher', WATCHER_SETTINGS],
            cwd=charm_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
    with open(os.path.join(charm_dir, WATCHER_PID), 'w') as handle:
        handle.write('{} {}'.format(process.pid, code))
    hookenv.log('master watcher started (pid {})'.format(process.pid))


def stop_other_watchers(keep=None):
    """Leader: stop every watcher of this application but ``keep`` (this unit's, by pid): those
    other units started (a deposed leader's), and any this unit lost track of."""
    me, app = hookenv.local_unit(), hookenv.application_name()
    for pid, unit in watchers.running():
        if pid != keep and unit.split('/')[0] == app:
            _terminate(pid)
            hookenv.log('stopped the master watcher {} started (pid {}): {} leads now'.format(
                unit, pid, me))


def stop_watcher():
    """Stop the watcher started from this unit's charm directory, if one runs: the unit no longer
    leads, or is going away. The leader's next hook starts its own."""
    charm_dir = hookenv.charm_dir()
    running = _watcher_process(charm_dir)
    if running is None:
        return
    _terminate(running[0])
    try:
        os.unlink(os.path.join(charm_dir, WATCHER_PID))
    except OSError:
        pass
    hookenv.log('master watcher stopped (pid {})'.format(running[0]))


def _terminate(pid):
    """SIGTERM a watcher and its trigger run (the watcher leads its own process group)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def _watcher_code():
    """A fingerprint of the watcher's code, so that an upgrade restarts it."""
    from redis_k8s import master_watcher
    with open(master_watcher.__file__, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:16]


def _watcher_process(charm_dir):
    """``(pid, code fingerprint)`` of the watcher started from ``charm_dir`` (checked by pid and
    command line), or None."""
    try:
        with open(os.path.join(charm_dir, WATCHER_PID)) as handle:
            pid, code = handle.read().split()
        with open('/proc/{}/cmdline'.format(int(pid)), 'rb') as handle:
            running = watchers.MODULE in handle.read()
    except (OSError, ValueError):
        return None
    return (int(pid), code) if running else None


def _write_private_json(path, data):
    """Write ``data`` readable by root only, touching the file only when it changes."""
    text = json.dumps(data, sort_keys=True)
    try:
        with open(path) as handle:
            if handle.read() == text:
                return
    except OSError:
        pass
    temporary = path + '.new'
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, 'w') as handle:
        handle.write(text)
    os.replace(temporary, path)


# --- status ----------------------------------------------------------------------------------------

def assess_status():
    """One status per unit that says what an operator needs to know."""
    parsed = current_settings()
    if parsed is None:
        return
    if not leader_get('spec-hash'):
        layer.status.waiting('waiting for the leader to set the pod spec')
        return
    count = unit_count()
    if _master_moved:
        # The old master is likely down: asking it would hold the new master's relation data
        # back by a timeout. The watcher's settle pass brings the full status seconds later.
        layer.status.waiting('master moved to {}; checking the other pods'.format(
            naming.pod_name_of(leader_get('master-host'))))
        return
    health = topology.health(pod_fqdns(count), parsed, password(parsed))
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
    layer.status.active('{}/{} pods, master {}'.format(health.ready, count, master_pod))
    if is_flag_set(LEADER) and health.version and \
            unitdata.kv().get('redis-k8s.version') != health.version:
        hookenv.application_version_set(health.version)
        unitdata.kv().set('redis-k8s.version', health.version)


def _fingerprint(spec, resources):
    text = json.dumps({'spec': spec, 'resources': resources}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
