"""The kubelet's crash backoff for restarting a container, with an injectable clock.

Follows Kubernetes' pkg/kubelet/kuberuntime/kuberuntime_manager.go ``doBackOff`` over
k8s.io/client-go/util/flowcontrol/backoff.go (the kubelet creates it with ``backOffPeriod``
10 s and ``MaxContainerBackOff`` 300 s):

- when a container has exited, the kubelet asks whether it is still "in back-off since" the
  container's finish time: with no entry (the first crash) it is not, so the FIRST restart is
  immediate, and the entry starts at 10 s;
- on a later crash it waits until ``finished + backoff`` (reason ``CrashLoopBackOff``), then
  restarts and doubles the backoff, capped at 300 s;
- an entry older than 2 x max (600 s) at the next crash counts as expired: a container that ran
  10 minutes since its last restart starts over at an immediate restart.
"""

import time

INITIAL = 10.0
MAXIMUM = 300.0


class CrashBackoff:
    """One container's backoff entry (the kubelet keys entries by pod and container)."""

    def __init__(self, initial=INITIAL, maximum=MAXIMUM, clock=time.time):
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self.backoff = None       # None: no entry (never restarted, or expired)
        self.last_update = None

    def _expired(self, event_time):
        return event_time - self.last_update > 2 * self.maximum

    def in_backoff_since(self, finished):
        """True while a restart of a container that finished at ``finished`` must wait."""
        if self.backoff is None or self._expired(finished):
            return False
        return self.clock() - finished < self.backoff

    def restart_at(self, finished):
        """When the container that finished at ``finished`` may start again."""
        if self.backoff is None or self._expired(finished):
            return finished
        return finished + self.backoff

    def next(self, finished):
        """Record a restart decision for a container that finished at ``finished``."""
        if self.backoff is None or self._expired(finished):
            self.backoff = self.initial
        else:
            self.backoff = min(self.backoff * 2, self.maximum)
        self.last_update = self.clock()
