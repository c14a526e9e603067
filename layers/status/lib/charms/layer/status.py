"""Workload status for reactive charms, resolved once per hook.

Several handlers (the charm's and the layers') report status in one hook; the unit should
show the most important one, not the last one written::

    from charms import layer
    layer.status.maintenance('rendering pod spec')   # written at once
    layer.status.blocked('need a password')           # queued
    layer.status.active('ready')                      # queued, loses to blocked

At the end of a successful hook the queued status with the highest precedence is written:
blocked > waiting > active. Between statuses of the same state, the one set by the charm's
own code (its ``reactive/`` handlers or libraries, as opposed to a layer's library or
handlers) wins; then the most recent one.

A status equal to the one this unit last wrote is not written again: most hooks end on the
status they started with, and ``status-set`` is a hook tool call (so would be ``status-get``).
What was last written is kept in a file beside the unit's state database, written as soon as
``status-set`` succeeds: Juju applies ``status-set`` at once, not at the end of a successful
hook, so the unit's key/value data (saved only then) could disagree with it.
"""

import enum
import json
import os
import subprocess
import sys

from charmhelpers.core import hookenv


class WorkloadState(enum.Enum):
    """Workload states a charm may set."""

    MAINTENANCE = 'maintenance'
    BLOCKED = 'blocked'
    WAITING = 'waiting'
    ACTIVE = 'active'


_PRECEDENCE = {
    WorkloadState.ACTIVE: 1,
    WorkloadState.WAITING: 2,
    WorkloadState.BLOCKED: 3,
}
# Paths of the layer libraries and interfaces in a built charm (used when the build
# manifest does not say which layer a file came from).
_LAYER_PREFIXES = ('lib/charms/layer/', 'hooks/relations/')

_queued = []
_manifest_cache = {}


def maintenance(message):
    """Set ``maintenance`` status now: the unit is busy with ``message``."""
    status_set(WorkloadState.MAINTENANCE, message)


def blocked(message):
    """Queue ``blocked`` status: the unit needs a human (highest precedence)."""
    status_set(WorkloadState.BLOCKED, message)


def waiting(message):
    """Queue ``waiting`` status: the unit waits for something outside it."""
    status_set(WorkloadState.WAITING, message)


def active(message):
    """Queue ``active`` status: the unit is ready (lowest precedence)."""
    status_set(WorkloadState.ACTIVE, message)


def status_set(workload_state, message):
    """Set (maintenance) or queue (blocked, waiting, active) a workload status.

    Args:
        workload_state: a :class:`WorkloadState` or its value, e.g. ``'blocked'``.
        message: the status message.

    Raises:
        ValueError: for any other state (``error`` and ``unknown`` belong to Juju).
    """
    try:
        state = WorkloadState(getattr(workload_state, 'value', workload_state))
    except ValueError:
        raise ValueError('invalid workload state: {!r}'.format(workload_state)) from None
    if state is WorkloadState.MAINTENANCE:
        _write(state.value, message)
        return
    if not _queued:
        hookenv.atexit(_finalize)
    from_charm = not _caller_is_layer()
    _queued.append((_PRECEDENCE[state], from_charm, len(_queued), state.value, message))


def pending():
    """The queued ``(state, message)`` that would be written now, or None."""
    if not _queued:
        return None
    winner = max(_queued)
    return winner[3], winner[4]


def _finalize():
    winner = pending()
    del _queued[:]
    if winner:
        _write(*winner)


def _write(state, message):
    if _last_written() == [state, message]:
        return
    subprocess.check_call(['status-set', state, message])
    _remember([state, message])


def _last_file():
    # Beside the unit's state database (one per unit: in Juju 2.9 each unit has its own charm
    # directory, and UNIT_STATE_DB names the unit's database when units share one).
    database = os.environ.get('UNIT_STATE_DB') or os.path.join(_charm_dir(), '.unit-state.db')
    return database + '.status'


def _last_written():
    """``[state, message]`` this unit last wrote, or None (never, or the file is gone: an
    operator pod restart loses the charm directory, and the status is written again)."""
    try:
        with open(_last_file()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _remember(written):
    path = _last_file()
    try:
        with open(path + '.tmp', 'w') as f:
            json.dump(written, f)
        os.replace(path + '.tmp', path)
    except OSError:  # not remembered: written again next time
        pass


def _charm_dir():
    return os.path.realpath(hookenv.charm_dir() or os.getcwd())


def _manifest(charm_dir):
    if charm_dir not in _manifest_cache:
        try:
            with open(os.path.join(charm_dir, '.build.manifest')) as f:
                _manifest_cache[charm_dir] = json.load(f).get('signatures', {})
        except (OSError, ValueError):
            _manifest_cache[charm_dir] = {}
    return _manifest_cache[charm_dir]


def _caller_is_layer():
    frame = sys._getframe(1)
    here = os.path.realpath(__file__)
    while frame is not None and os.path.realpath(frame.f_code.co_filename) == here:
        frame = frame.f_back
    if frame is None:
        return False
    return is_layer_file(frame.f_code.co_filename)


def is_layer_file(filename):
    """Whether ``filename`` belongs to a base layer or interface rather than the charm."""
    charm_dir = _charm_dir()
    rel = os.path.relpath(os.path.realpath(filename), charm_dir)
    if rel.startswith('..'):
        return False
    origin = _manifest(charm_dir).get(rel)
    if origin:
        # charm build records the top layer by the charm's name, base layers and
        # interfaces as "layer:<name>" / "interface:<name>".
        return origin[0].startswith(('layer:', 'interface:'))
    if not rel.startswith(_LAYER_PREFIXES):
        return False
    # By convention a charm keeps its own layer library under its own name
    # (redis-k8s -> lib/charms/layer/redis_k8s.py); that one is the charm's.
    own = hookenv.charm_name() if os.path.exists(os.path.join(charm_dir, 'metadata.yaml')) \
        else None
    return not (own and rel == 'lib/charms/layer/{}.py'.format(own.replace('-', '_')))
