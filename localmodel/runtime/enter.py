"""``kubectl exec``'s last step: enter a container's mount namespace, and so its root, then exec.

Run inside the pod's namespaces (``nsenter`` into the pod init) as
``python -m localmodel.runtime.enter CONTAINER_PID WORKDIR ARGV...``. ``nsenter --wd`` would open
the directory before entering, in the host's tree: this changes directory once inside.
"""

import os
import sys

from localmodel.runtime import linux

# Variables the helper's python needs or sets (locale coercion), not the command's.
HELPER_VARS = ("PYTHONPATH", "LC_CTYPE")
UNSET = "LOCALMODEL_ENTER_UNSET"


def helper_env(command_env):
    """What to add to the command's environment so the helper can restore it exactly."""
    return {UNSET: ",".join(v for v in HELPER_VARS if v not in command_env)}


def main(argv):
    pid, workdir, command = int(argv[0]), argv[1], argv[2:]
    env = dict(os.environ)
    for name in env.pop(UNSET, "").split(","):
        env.pop(name, None)
    linux.setns_mount(pid)
    try:
        os.chdir(workdir)
    except OSError:
        os.chdir("/")
    try:
        os.execvpe(command[0], command, env)
    except OSError as e:
        # The runtime's wording (runc): the exec fails before the command runs.
        sys.stderr.write('OCI runtime exec failed: exec failed: unable to start container '
                         'process: exec: "%s": %s: unknown\n' % (
                             command[0], "executable file not found in $PATH"
                             if isinstance(e, FileNotFoundError) else e.strerror))
        return 126 if not isinstance(e, FileNotFoundError) else 127
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
