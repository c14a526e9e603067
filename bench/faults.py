"""One fault under a steady write load that follows the relation data, and what it cost."""

import time

from testbed.load import WriteLoad

from bench.deployment import identity, settle, wait_changed


class Outcome:
    """What one fault did: when it hit, the load's record, the master after it, the writes lost."""

    def __init__(self, moment, load, master, lost):
        self.moment = moment
        self.load = load
        self.master = master
        self.lost = lost

    def visible_s(self):
        """Seconds from the fault to the first write acknowledged after the first write that
        failed after it: what a client of the relation sees. None if no write ever failed."""
        failed = next((at for at in list(self.load.failures) if at > self.moment), None)
        if failed is None:
            return None
        success = self.load.first_success_after(failed)
        return None if success is None else success - self.moment

    def relation_moved_s(self):
        """Seconds from the fault until the relation data named another endpoint, when the load
        keeps that timeline (``WriteLoad.endpoints``); None otherwise."""
        moves = [at for at, _ in getattr(self.load, 'endpoints', []) if at > self.moment]
        return moves[0] - self.moment if moves else None


def wait_writes(load, more, timeout):
    target = len(load.acknowledged) + more
    deadline = time.monotonic() + timeout
    while len(load.acknowledged) < target and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(load.acknowledged) >= target


def under_load(cluster, prefix, fault, changed, units, timeout=240):
    """Run ``fault()`` (returns the monotonic time it took effect) under a write load, wait until
    ``changed(before, now)`` holds for the pods' identities and the cluster is healthy again with
    ``units`` units, and count the acknowledged writes missing from the master then.

    Raises ``TimeoutError`` if the cluster does not recover within ``timeout``.
    """
    load = WriteLoad(cluster, prefix=prefix).start()
    try:
        if not wait_writes(load, 50, 30):
            raise RuntimeError('the write load could not write before the fault ({})'.format(
                prefix))
        before = identity(cluster)
        moment = fault()
        wait_changed(cluster, before, changed, timeout)
        master = settle(cluster, units, timeout)
        # Writes on the settled master too, so the count covers the whole episode.
        wait_writes(load, 20, 10)
    finally:
        load.stop()
    return Outcome(moment, load, master, len(load.lost(master)))


def killed(model, pod, container=None):
    """SIGKILL and return the moment the kill was done (the return of the model's call)."""
    model.kill(pod, container)
    return time.monotonic()


def recreated(pod):
    def changed(before, now):
        return pod in now and now[pod][0] != before[pod][0]
    return changed


def restarted(pod):
    def changed(before, now):
        return pod in now and now[pod] != before[pod]
    return changed
