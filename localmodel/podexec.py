"""Entering a pod's container, as ``kubectl exec`` does: used by `exec` and by `juju-run`.

A command entered this way has the container's filesystem (its mount namespace), the pod's pid
and uts namespaces, and the container's environment; it runs in the container's working dir.
"""

import json
import os
import sys

from localmodel.runtime import enter, linux

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ExecError(Exception):
    """The container cannot be entered; ``str(e)`` is the message Kubernetes/Juju give."""


def _read(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def target(paths, pods, pod, container=None):
    """``(argv prefix, env, container name)`` to run a command in ``pod``'s ``container``
    (default: the first container of the spec, as Juju's exec picks ``Containers[0]``).

    ``pods`` is the model state's ``pods`` map. Raises ``ExecError`` with Juju's wording
    (caas/kubernetes/provider/exec: ``getValidatedPodContainer``, ``containerNotRunningError``).
    """
    rec = pods.get(pod)
    config = _read(os.path.join(paths.pod(pod), "pod.json"))
    if rec is None or config is None:
        raise ExecError('pod "%s" not found' % pod)
    status = _read(os.path.join(paths.pod(pod), "status.json")) or {}
    names = [c["name"] for c in config["containers"] if not c.get("init")]
    container = container or names[0]
    if container not in names:
        raise ExecError('container "%s" not found' % container)
    # A pod whose sandbox has not started yet is Pending: its containers are not running.
    nspid = rec.get("pid") and (status.get("containers") or {}).get(container, {}).get("pid")
    if not nspid:
        raise ExecError('container "%s" not running' % container)
    spec = next(c for c in config["containers"] if c["name"] == container)
    # The container's environment as it started (env from a Secret is read at start).
    env = linux.environ_of_nspid(rec["pid"], nspid) or dict(
        PATH=PATH, HOME="/root", HOSTNAME=pod, LOCALMODEL_OWNER=paths.home, **spec["env"])
    # Into the pod's namespaces, then the container's mount namespace, whose root is its image;
    # the working directory is entered inside it (runtime/enter.py), not in the host's tree.
    argv = ["nsenter", "-t", str(rec["pid"]), "-m", "-p", "-u", "--",
            sys.executable, "-m", "localmodel.runtime.enter", str(nspid), spec["workingDir"]]
    if config.get("cgroup"):
        # In the pod's cgroup, as kubectl exec runs in the pod's network namespace: the
        # command's connections leave from the pod's address (runtime/network.py).
        argv = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"',
                config["cgroup"]] + argv
    return argv, dict(env, PYTHONPATH=PKG_ROOT, **enter.helper_env(env)), container
