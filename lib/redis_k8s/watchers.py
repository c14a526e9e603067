"""The master watchers running in the operator, found in its process table.

Juju 2.9 runs the hooks of every unit of an application in one operator pod, each unit from its
own charm directory, and runs no hook on a unit that loses leadership (``resignLeadership`` in
worker/uniter/operation/leader.go only logs that it should). A watcher a deposed leader started
would run on beside the new leader's until that unit's next hook: the new leader finds it here
and stops it. Plain logic on ``/proc``; no Juju tool.
"""

import os

MODULE = b'redis_k8s.master_watcher'


def refresh_command(unit):
    """What the watcher runs to refresh a unit: its update-status hook, in the operator.

    ``--operator``: a plain ``juju-run`` runs in the unit's workload pod (the redis image: no
    charm, no python), and fails while that pod is down, which is when a failover needs it most.
    """
    return ['juju-run', '--operator', unit, 'hooks/update-status']


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
