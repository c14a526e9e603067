"""Init (pid 1) of an application's operator namespace.

The namespace looks like Juju's Ubuntu operator pod: Ubuntu's os-release, the model's
/etc/hosts, no resolver beyond /etc/hosts. Hooks are entered into it with nsenter; daemons a
hook leaves behind are reparented here and live until the operator stops.
"""

import os
import signal
import sys
import time

from localmodel.paths import Paths
from localmodel.runtime import nsinit


def main(home, app):
    paths = Paths(home)
    nsinit.setup("%s-operator-0" % app, {
        "/etc/os-release": paths.os_release, "/etc/hosts": paths.hosts,
        "/etc/nsswitch.conf": paths.nsswitch, "/etc/resolv.conf": paths.resolv})
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    with open(paths.operator_ready(app), "w") as f:
        f.write("ready\n")
    while not stop:
        nsinit.reap_all()
        time.sleep(0.2)
    os.kill(-1, signal.SIGTERM)
    time.sleep(1)
    os.kill(-1, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
