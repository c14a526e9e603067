"""Shared set-up of a namespace's init process (pid 1 of an operator or a pod)."""

import os
import socket

from localmodel.runtime import linux


def setup(hostname, files):
    """Set the hostname and bind-mount ``{target: source}`` files over the host's.

    Runs inside the private mount namespace ``unshare`` created, so the host never sees these.
    """
    socket.sethostname(hostname)
    for target, source in files.items():
        real = os.path.realpath(target)
        if not os.path.exists(real):
            continue
        linux.bind(source, real)


def reap_all():
    """Reap every exited child (pid 1 inherits orphans); returns ``[(pid, status)]``."""
    out = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        out.append((pid, status))
    return out
