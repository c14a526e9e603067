"""On-disk model state: one JSON document, replaced atomically (a crash never leaves half)."""

import json
import os
import tempfile


def atomic_write(path, data, mode=0o644):
    """Write ``data`` (str or bytes) to ``path`` through a rename, so readers see old or new."""
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_in_place(path, text):
    """Rewrite a file keeping its inode, so bind mounts of it see the new content."""
    with open(path, "r+" if os.path.exists(path) else "w") as f:
        f.seek(0)
        f.write(text)
        f.truncate()


def load(path):
    with open(path) as f:
        return json.load(f)


def save(path, state):
    atomic_write(path, json.dumps(state, indent=1, sort_keys=True))


def new_state(name, subnet, update_status_interval, retry_delay,
              cluster_domain="cluster.local", volume_sync_delay=60.0):
    return {
        "model": {"name": name, "subnet": subnet, "uuid": os.urandom(16).hex(),
                  "update-status-interval": update_status_interval,
                  "retry-delay": retry_delay, "cluster-domain": cluster_domain,
                  "volume-sync-delay": volume_sync_delay},
        "counters": {"relation": 0, "pod-address": 0, "service-address": 0, "event": 0},
        "applications": {},
        "relations": {},
        "pods": {},
        "forwarders": {},
        "hook-durations": [],
        "hook-runs": [],
    }
