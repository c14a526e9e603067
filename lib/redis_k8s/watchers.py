"""The master watchers running in the operator: their supervision, and finding them in its
process table.

Juju 2.9 runs the hooks of every unit of an application in one operator pod, each unit from its
own charm directory, and runs no hook on a unit that loses leadership (``resignLeadership`` in
worker/uniter/operation/leader.go only logs that it should). A watcher a deposed leader started
would run on beside the new leader's until that unit's next hook: the new leader finds it here
and stops it. The leader's own watcher runs from its charm directory, where its pid file (with a
fingerprint of its code, so an upgrade restarts it), settings (readable by root only: they hold
the password) and log are. Plain logic on files and ``/proc``; no Juju tool: the charm passes in
its charm directory, settings and environment.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys

MODULE = b'redis_k8s.master_watcher'
SETTINGS_FILE = '.master-watcher.json'
PID_FILE = '.master-watcher.pid'
LOG_FILE = '.master-watcher.log'
# The watcher's code: its module and the modules of this package it imports (checked by a test),
# so that an upgrade that changes any of them restarts it.
SOURCES = ('master_watcher.py', 'demotion.py', 'rules.py', 'naming.py', 'settings.py', 'passwords.py',
           'custom_config.py', 'connection.py', 'resp.py', 'tls_mode.py', 'sentinel_reset.py')


def refresh_command(unit):
    """What the watcher runs to refresh a unit: its update-status hook, in the operator.

    ``--operator``: a plain ``juju-run`` runs in the unit's workload pod (the redis image: no
    charm, no python), and fails while that pod is down, which is when a failover needs it most.
    """
    return ['juju-run', '--operator', unit, 'hooks/update-status']


def promotion_command(unit):
    """What the watcher runs on ``unit`` (the leader) for a new master (``{host}``: its host),
    once every unit's entry moved: the unit's update-status, unless a hook already took that
    master in (``bin/update-status-unless-published``)."""
    return ['juju-run', '--operator', unit, 'bin/update-status-unless-published {host}']


def publish_command(unit):
    """What the watcher runs on every ``unit`` at once for a new master (``{host}``): its entry on
    every redis relation names the new master when the command ends (``bin/publish-promoted``),
    without the hook each unit would take in turn."""
    return ['juju-run', '--operator', unit, 'bin/publish-promoted {host}']


def unit_of(cmdline, environ):
    """The unit whose hook started a process, when the process is a master watcher, else None.

    Args:
        cmdline: the process's ``/proc/<pid>/cmdline`` (NUL-separated bytes).
        environ: its ``/proc/<pid>/environ`` (NUL-separated ``KEY=value`` bytes); the watcher
            inherits ``JUJU_UNIT_NAME`` from the hook that started it.
    """
    if MODULE not in cmdline.split(b'\0'):
        return None
    for entry in environ.split(b'\0'):
        if entry.startswith(b'JUJU_UNIT_NAME='):
            return entry[len(b'JUJU_UNIT_NAME='):].decode(errors='replace') or None
    return None


def running(proc='/proc'):
    """``[(pid, unit)]`` of the master watchers this process can see, by pid."""
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, 'cmdline'), 'rb') as handle:
                cmdline = handle.read()
            if MODULE not in cmdline:
                continue
            with open(os.path.join(proc, entry, 'environ'), 'rb') as handle:
                environ = handle.read()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        unit = unit_of(cmdline, environ)
        if unit is not None:
            found.append((int(entry), unit))
    return sorted(found)


def code_fingerprint(package_dir=os.path.dirname(os.path.abspath(__file__))) -> str:
    """A fingerprint of the watcher's code (:data:`SOURCES`), so that an upgrade restarts it."""
    digest = hashlib.sha256()
    for name in SOURCES:
        with open(os.path.join(package_dir, name), 'rb') as handle:
            digest.update(name.encode() + b'\0' + handle.read() + b'\0')
    return digest.hexdigest()[:16]


def process(charm_dir, proc='/proc'):
    """``(pid, code fingerprint)`` of the watcher started from ``charm_dir`` (checked by pid and
    command line: a pid file can outlive its process, and the pid be reused), or None."""
    try:
        with open(os.path.join(charm_dir, PID_FILE)) as handle:
            pid, code = handle.read().split()
        with open(os.path.join(proc, str(int(pid)), 'cmdline'), 'rb') as handle:
            is_watcher = MODULE in handle.read()
    except (OSError, ValueError):
        return None
    return (int(pid), code) if is_watcher else None


def terminate(pid):
    """SIGTERM a watcher and its trigger run (the watcher leads its own process group)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def write_private(path, text):
    """Write ``text`` readable by its owner only (mode 0600, replaced atomically), touching the
    file only when it changes (the watcher re-reads its settings when their modification time
    changes)."""
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


def write_private_json(path, data):
    """:func:`write_private` of ``data`` as JSON."""
    write_private(path, json.dumps(data, sort_keys=True))


def stop_others(app, keep=None, proc='/proc') -> list:
    """Stop every watcher of the application ``app`` but ``keep`` (a pid): those other units
    started (a deposed leader's), and any this unit lost track of. Returns ``[(pid, unit)]``
    of those stopped."""
    stopped = []
    for pid, unit in running(proc):
        if pid != keep and unit.split('/')[0] == app:
            terminate(pid)
            stopped.append((pid, unit))
    return stopped


def ensure(charm_dir, settings, environ, python=sys.executable):
    """Keep the watcher of ``charm_dir`` running with ``settings`` (the watcher's settings file,
    see :mod:`redis_k8s.master_watcher`); restart it when its code changed.

    Args:
        charm_dir: the unit's charm directory (the watcher's working directory, with its files).
        settings: what the watcher is to follow and run, written to :data:`SETTINGS_FILE`.
        environ: the hook's environment; the watcher gets it without ``JUJU_CONTEXT*`` (its
            ``juju-run`` must not look like a call from inside a hook) and with the charm's
            ``lib`` as ``PYTHONPATH``.
        python: the interpreter to run it with.

    Returns:
        the pid of the watcher started, or None when the running one was kept.
    """
    running_now = process(charm_dir)
    write_private_json(os.path.join(charm_dir, SETTINGS_FILE), settings)
    code = code_fingerprint()
    if running_now is not None:
        pid, running_code = running_now
        if running_code == code:
            return None
        terminate(pid)  # an upgrade brought new watcher code
    env = {key: value for key, value in environ.items() if not key.startswith('JUJU_CONTEXT')}
    env['PYTHONPATH'] = os.path.join(charm_dir, 'lib')
    with open(os.path.join(charm_dir, LOG_FILE), 'ab') as log:
        started = subprocess.Popen(
            [python, '-m', 'redis_k8s.master_watcher', SETTINGS_FILE],
            cwd=charm_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
    with open(os.path.join(charm_dir, PID_FILE), 'w') as handle:
        handle.write('{} {}'.format(started.pid, code))
    return started.pid


def stop(charm_dir):
    """Stop the watcher started from ``charm_dir``, if one runs; return its pid or None."""
    running_now = process(charm_dir)
    if running_now is None:
        return None
    terminate(running_now[0])
    try:
        os.unlink(os.path.join(charm_dir, PID_FILE))
    except OSError:
        pass
    return running_now[0]
