"""One observation of the cluster per hook: every sentinel's view, every pod's replication state.

A :class:`Snapshot` asks each question at most once, when first needed, and keeps the answer:
the check (who is master), the heal steps and the status all read the same snapshot, so a hook
asks every sentinel "who is the master?" once, not once per step. Unreachable instances read
as None (or empty); nothing here raises for them. A snapshot describes the cluster as it was: after
a heal step acted, take a new one.
"""

from . import rules
from .connection import Pods, as_dict, call


class Snapshot:
    """The cluster as the leader (or any unit) sees it in one hook, read lazily.

    Args:
        pods: the :class:`redis_k8s.connection.Pods` to ask.
    """

    def __init__(self, pods: Pods):
        self.pods = pods
        self.hosts = pods.hosts
        self.settings = pods.settings
        self._views = None
        self._sentinels_up = set()
        self._states = {}
        self._replicas = {}
        self._sentinels = {}
        self._infos = {}
        self._pings = {}
        self._down = None

    # --- what the sentinels say -------------------------------------------------------------

    def _ask_views(self):
        if self._views is None:
            views = {}
            for host in self.hosts:
                # Wrapped, so that a sentinel that knows no master (nil) reads as up.
                answer = self.pods.sentinel(host, lambda c: [c.execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.settings.master_name)])
                if answer is None:
                    continue
                self._sentinels_up.add(host)
                addr = rules.master_addr(answer[0])
                if addr is not None:
                    views[host] = addr
            self._views = views
        return self._views

    @property
    def views(self) -> dict:
        """``{sentinel host: (master host, master port)}`` of every sentinel naming a master."""
        return dict(self._ask_views())

    @property
    def sentinels_up(self) -> set:
        """The hosts whose sentinel answered."""
        self._ask_views()
        return set(self._sentinels_up)

    @property
    def current_views(self) -> dict:
        """The views of the sentinels that know the newest configuration
        (:func:`redis_k8s.rules.current_views`); their epochs are asked only when the views
        disagree."""
        views = self._ask_views()
        if rules.unanimous(views) is not None:
            return dict(views)
        return rules.current_views(
            views, {host: rules.config_epoch(self.sentinel_state(host)) for host in views})

    @property
    def master(self):
        """The master by the vote of the sentinels that know the newest configuration
        (:func:`redis_k8s.rules.master_by_vote` of :attr:`current_views`), or None."""
        return rules.master_by_vote(self.current_views)

    def sentinel_state(self, host) -> dict:
        """``SENTINEL MASTER`` of the sentinel of ``host`` (flags, counts...); ``{}`` unreachable."""
        if host not in self._states:
            self._states[host] = as_dict(self.pods.sentinel_command(host, "MASTER"))
        return self._states[host]

    def forget_sentinel_state(self, host):
        """Drop what ``SENTINEL MASTER`` said on ``host`` (its settings were just changed)."""
        self._states.pop(host, None)

    def sentinel_replicas(self, host):
        """The replicas the sentinel of ``host`` knows (entries as dicts), or None unreachable."""
        if host not in self._replicas:
            reply = self.pods.sentinel_command(host, "REPLICAS")
            self._replicas[host] = None if reply is None else [as_dict(entry) for entry in reply]
        return self._replicas[host]

    def sentinel_peers(self, host):
        """The other sentinels the sentinel of ``host`` knows, or None unreachable."""
        if host not in self._sentinels:
            reply = self.pods.sentinel_command(host, "SENTINELS")
            self._sentinels[host] = None if reply is None else [as_dict(entry) for entry in reply]
        return self._sentinels[host]

    @property
    def promoted(self):
        """The replica a sentinel has promoted in a failover it has not announced yet, or None
        (:func:`redis_k8s.rules.promoted`): every sentinel is asked, in order, until one knows.
        A replica flagged promoted that the sentinel has not seen as master yet is asked itself."""
        for host in self.hosts:
            entries = self.sentinel_replicas(host) or []
            infos = {address: self.info(*address) for address in
                     rules.promotion_candidates(entries, self.settings.failover_timeout_ms)}
            found = rules.promoted(entries, infos, self.settings.failover_timeout_ms)
            if found is not None:
                return found
        return None

    def flagged_down(self) -> set:
        """``{(host, port)}`` of the redis instances the sentinels flag down
        (:func:`redis_k8s.rules.flagged_down`): they are not asked, as if they had timed out."""
        if self._down is None:
            up = [host for host in self.hosts if host in self.sentinels_up]
            self._down = rules.flagged_down({host: self.sentinel_state(host) for host in up},
                                            {host: self.sentinel_replicas(host) for host in up})
        return self._down

    # --- what the redis instances say --------------------------------------------------------

    def info(self, host, port=None):
        """``INFO`` of the redis at ``host`` (on ``port``, default the configured one), or None
        (it does not answer, or the sentinels flag it down)."""
        key = (host, int(self.settings.port if port is None else port))
        if key not in self._infos:
            self._infos[key] = None if key in self.flagged_down() else \
                self.pods.ask(key[0], key[1], lambda c: c.info())
        return self._infos[key]

    def infos(self) -> dict:
        """``{host: INFO or None}`` of every pod's redis on the configured port."""
        return {host: self.info(host) for host in self.hosts}

    def answers(self, host, port) -> bool:
        """Whether anything answers ``PING`` at ``host:port`` (asked even when the sentinels flag
        it down: the safety checks that read this must not act on a master that still answers)."""
        key = (host, int(port))
        if key not in self._pings:
            self._pings[key] = self.pods.ask(host, port, lambda c: c.ping()) is not None
        return self._pings[key]

    def health(self) -> rules.Health:
        """The :class:`redis_k8s.rules.Health` of the pods, for the status."""
        return rules.health(self.hosts, self.master, self.infos(), self.sentinels_up)


def observe(hosts, settings, password, connect=None) -> Snapshot:
    """A new, lazy :class:`Snapshot` of the pods ``hosts``."""
    return Snapshot(Pods(hosts, settings, password, connect))


def replication_info(host: str, port: int, password, connect=None) -> dict:
    """Return ``INFO replication`` of one redis as a dict (raises when unreachable)."""
    return call(connect, host, port, password, lambda c: c.info("replication"))
