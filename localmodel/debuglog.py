"""The model's debug log, in the line format of ``juju debug-log``."""

import os
import threading
import time

_lock = threading.Lock()


def entity(unit):
    """``app/0`` -> ``unit-app-0`` as Juju names agents in the log."""
    return "unit-" + unit.replace("/", "-")


def write(path, source, level, module, message):
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    lines = str(message).rstrip("\n").splitlines() or [""]
    text = "".join("%s: %s %s %s %s\n" % (source, stamp, level, module, line) for line in lines)
    with _lock:
        with open(path, "a") as f:
            f.write(text)


def tail(path, lines=None):
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        data = f.readlines()
    if lines:
        data = data[-lines:]
    return "".join(data)
