"""The rules the charm reads the cluster by: pure functions over what was observed.

No I/O here: :mod:`redis_k8s.observation` asks the pods, these functions decide, and
:mod:`redis_k8s.healing` acts. Each rule has one Python copy, this one (the quorum and
``min-replicas-to-write`` rules are :func:`redis_k8s.settings.expected_quorum` and
:func:`redis_k8s.settings.effective_min_replicas`); the pods' scripts have the shell copy in
``templates/lib.sh``, and ``tests/unit/test_shell_rules.py`` checks that the two agree.

A master address is ``(host, port)`` with an integer port; a redis ``INFO`` is a dict as redis-py
parses it; a sentinel entry (``SENTINEL MASTER``/``REPLICAS``/``SENTINELS``) a dict of strings.
"""

from collections import Counter
from dataclasses import dataclass

from .naming import pod_name_of
from .settings import effective_min_replicas, expected_quorum  # noqa: F401  (the other two rules)


def master_addr(reply):
    """The ``(host, port)`` of a ``SENTINEL GET-MASTER-ADDR-BY-NAME`` reply, or None when the
    sentinel knows no master (or answers something that is not an address)."""
    if not reply or len(reply) != 2 or not reply[0] or not str(reply[1]).isdigit():
        return None
    return str(reply[0]), int(reply[1])


def master_by_vote(views: dict):
    """The master most of the sentinels that answered name, or None when none names one.

    Args:
        views: ``{sentinel host: (master host, master port)}``, one entry per sentinel that
            named a master.

    Ties go to the smallest address, host first then port, compared as bytes: what ``sort``
    gives the pods' shell rule (``master_from_sentinels`` in ``templates/lib.sh``) in the C
    locale, so the scripts and the charm pick the same master.
    """
    counts = Counter((str(host), str(port)) for host, port in views.values())
    if not counts:
        return None
    (host, port), _ = min(counts.items(),
                          key=lambda item: (-item[1], item[0][0].encode(), item[0][1].encode()))
    return host, int(port)


def current_views(views: dict, epochs: dict) -> dict:
    """The views of the sentinels that know the newest configuration: those at the greatest
    config epoch of the master they name.

    Sentinel's own rule: a failover's new configuration carries a greater epoch, and every
    sentinel that hears of it adopts it, so until then one that missed the failover (it just
    started, or it was cut off) names the old master at the old epoch. Counting it as a vote
    would let two such sentinels outvote the one that took part: a redis starting then would
    take the old master's side, and the charm would publish it for a moment.

    Args:
        views: ``{sentinel host: (master host, port)}`` as for :func:`master_by_vote`.
        epochs: ``{sentinel host: config epoch}`` (``SENTINEL MASTER``'s ``config-epoch``);
            a sentinel missing from it counts as epoch -1.
    """
    if not views:
        return {}
    top = max(epochs.get(host, -1) for host in views)
    return {host: named for host, named in views.items() if epochs.get(host, -1) == top}


def config_epoch(state: dict) -> int:
    """The ``config-epoch`` of a ``SENTINEL MASTER`` entry, -1 when it has none."""
    value = str((state or {}).get("config-epoch", ""))
    return int(value) if value.isdigit() else -1


def unanimous(views: dict):
    """The master every sentinel of ``views`` names, or None when they disagree (or are none)."""
    named = set(views.values())
    return next(iter(named)) if len(named) == 1 else None


def follows(info: dict, master) -> bool:
    """Whether a redis is configured as a replica of ``master`` (linked or not yet)."""
    return (info.get("role") == "slave"
            and pod_name_of(str(info.get("master_host", ""))) == pod_name_of(master[0])
            and int(info.get("master_port", 0)) == int(master[1]))


def serves(info: dict, host: str, master) -> bool:
    """Whether a redis serves under the sentinels' master: it is that master, or a replica of it
    with the link up."""
    if master is None:
        return False
    if info.get("role") == "master":
        return host == master[0]
    return info.get("master_link_status") == "up" and follows(info, master)


def answers_commands(info) -> bool:
    """Whether a redis answered and serves commands (it is not loading its dataset)."""
    return bool(info) and str(info.get("loading", "0")) != "1"


# Sentinel asks a replica INFO once a second while its master fails over (Redis 7.0 sentinel.c,
# ``sentinelSendPeriodicCommands``); a failover timeout that leaves it fewer tries than this
# before ``-failover-abort-slave-timeout`` could still abort a promotion the replica has taken.
EARLY_PROMOTION_MIN_TIMEOUT_MS = 5000


def promoted(replica_entries, infos=None, failover_timeout_ms=0):
    """The replica a sentinel flags ``promoted`` that has taken the master role, or None.

    Between ``+promoted-slave`` and ``+switch-master`` (a second or more: the leading sentinel
    first points the other replicas at it) the promoted replica already takes writes, and a
    failover that got this far always ends with the switch to it. Only the leading sentinel
    knows.

    A second earlier, the leading sentinel has sent the replica ``SLAVEOF NO ONE`` and waits for
    its next INFO (``WAIT_PROMOTION``, at most a second). In that state Redis 7.0's sentinel
    aborts only when ``failover-timeout`` passes (``sentinelFailoverWaitPromotion``), so once
    the replica itself answers role master (``infos``, its INFO, asked directly) the failover
    can no longer abort while the leading sentinel runs, provided the timeout leaves it
    several INFO tries (:data:`EARLY_PROMOTION_MIN_TIMEOUT_MS`). Before that (selected, not
    yet told, or not yet master) it may still abort, and the replica is not taken.

    Args:
        replica_entries: ``SENTINEL REPLICAS`` entries of one sentinel.
        infos: ``{(host, port): INFO or None}`` of replicas flagged ``promoted``.
        failover_timeout_ms: the sentinels' ``failover-timeout``.
    """
    early = int(failover_timeout_ms) >= EARLY_PROMOTION_MIN_TIMEOUT_MS
    for entry in replica_entries:
        if not _flagged_promoted(entry):
            continue
        address = _address(entry)
        if entry.get("role-reported") == "master":
            return address
        info = (infos or {}).get(address)
        if early and info and info.get("role") == "master":
            return address
    return None


def promotion_candidates(replica_entries, failover_timeout_ms) -> list:
    """``[(host, port)]`` of the replicas whose own INFO :func:`promoted` would read: flagged
    ``promoted`` (selected for a failover), not yet seen reporting role master, and only when
    ``failover_timeout_ms`` lets the replica's own word count."""
    if int(failover_timeout_ms) < EARLY_PROMOTION_MIN_TIMEOUT_MS:
        return []
    return [_address(entry) for entry in replica_entries
            if _flagged_promoted(entry) and entry.get("role-reported") != "master"]


def _flagged_promoted(entry) -> bool:
    return "promoted" in str(entry.get("flags", "")).split(",")


def _address(entry):
    return entry.get("ip"), int(entry.get("port", 0))


def quiet(states) -> bool:
    """Whether no sentinel of ``states`` (``SENTINEL MASTER`` entries, ``{}`` when unreachable)
    sees the master down or is failing over."""
    for state in states:
        flags = str(state.get("flags", "")) if state else "down"
        if "failover" in flags or "down" in flags:
            return False
    return True


def settled(master, hosts, states, master_info) -> bool:
    """Whether ``master`` is one of ``hosts``, answers as master (``master_info``, its INFO) and
    no sentinel sees it down or is failing over (``states``): aligning stragglers is safe."""
    return (master[0] in hosts and quiet(states)
            and bool(master_info) and master_info.get("role") == "master")


def majority_master(views: dict, pod_count: int):
    """The master at least a quorum of the ``pod_count`` pods' sentinels name, or None.

    A sentinel that has not heard of a finished failover yet (the others tell it within about
    two seconds) still names the old master; a majority naming the new one is what the
    sentinels have decided. ``views``: the current ones (:func:`current_views`), so that
    sentinels that missed the newest failover cannot make a quorum for the old master."""
    master = master_by_vote(views)
    if master is None:
        return None
    votes = sum(1 for named in views.values() if named == master)
    return master if votes >= expected_quorum(pod_count) else None


def second_masters(master, master_info, views: dict, states: dict, infos: dict) -> list:
    """The pods acting as master beside ``master`` (the one a majority of sentinels name, see
    :func:`majority_master`), to be made its replicas; sorted, ``[]`` when none or unsafe.

    A second master is an old master that missed its own demotion (frozen, or cut off, while
    the sentinels failed it over): whatever it acknowledges is discarded when the sentinels
    turn it into a replica, so it must be demoted as soon as they have switched. The pod of
    ``master`` is never one, whatever port it answers on. Nothing is returned unless
    ``master`` answers as master (``master_info``, its INFO), no sentinel is failing over and
    none of those naming ``master`` sees it down or names another master in its state: in a
    failover under way the replica being promoted acts as master before the sentinels name it,
    and it is the one that must win.

    Args:
        master: ``(host, port)`` the sentinel majority names.
        master_info: INFO of ``master`` (None when it does not answer).
        views: ``{sentinel host: (master host, port)}`` as for :func:`master_by_vote`.
        states: ``{sentinel host: SENTINEL MASTER entry}`` of the sentinels of ``views``
            (``{}`` when one did not answer).
        infos: ``{host: INFO or None}`` of every pod's redis.
    """
    if master is None or not master_info or master_info.get("role") != "master":
        return []
    for state in states.values():
        flags = str(state.get("flags", "")) if state else ""
        if "failover" in flags:
            return []
    naming_it = [states.get(host) or {} for host, named in views.items() if named == master]
    if not quiet(naming_it):
        return []
    # The views were read before the states: a sentinel whose state names another master ended
    # a failover in between, and the pod it promoted (acting as master in the INFO read between
    # the two) is the one that must win.
    if not all(_address(state) == (master[0], int(master[1])) for state in naming_it):
        return []
    named_pod = pod_name_of(master[0])
    return sorted(host for host, info in infos.items()
                  if info and info.get("role") == "master" and pod_name_of(host) != named_pod)


def gave_up(views: dict, followed, states: dict, failover_timeout_ms: int) -> bool:
    """Whether every sentinel that answers still names ``followed``, has seen it down for a whole
    failover timeout and is not failing over: only then can no failover of theirs be on the way.

    A departing master hands over on its way out; promoting a replica beside the sentinels' own
    choice would make two masters, and writes to one of them would be lost.
    """
    if not views or any(view != followed for view in views.values()):
        return False
    for host in views:
        state = states.get(host) or {}
        flags = str(state.get("flags", ""))
        if "failover" in flags or "s_down" not in flags:
            return False
        if int(state.get("s-down-time", 0)) < int(failover_timeout_ms):
            return False
    return True


# A sentinel pings every instance once a second and a redis that runs answers within
# milliseconds: one whose oldest unanswered ping is older than this does not answer (Redis 7.0
# sentinel.c: ``last-ping-sent`` is the age of the oldest unanswered PING, 0 when none is
# pending; a new entry counts from its creation).
UNANSWERED_PING_MS = 500


def flagged_down(states: dict, replicas: dict) -> set:
    """``{(host, port)}`` of the redis instances that more than half of the answering sentinels
    see down: flagged subjectively down (``s_down``), or with a PING unanswered for more than
    :data:`UNANSWERED_PING_MS`.

    Such an instance is dead, frozen or cut off. Asking it costs a hook a whole timeout when it
    is frozen or cut off (the connection opens, the answer never comes), and every hook queued
    behind that one waits too, the new master's among them. ``s_down`` alone would leave a gap:
    after a failover the sentinels watch the old master as a new replica entry, which starts
    without the flag, while the unanswered ping counts from the entry's creation. A majority,
    so that the sentinel of a partitioned pod, which sees everybody else down, does not hide
    healthy pods.

    Args:
        states: ``{sentinel host: SENTINEL MASTER entry}`` of the sentinels that answered.
        replicas: ``{sentinel host: SENTINEL REPLICAS entries, or None}`` of the same.
    """
    answering = [host for host, state in states.items() if state]
    votes = Counter()
    for host in answering:
        for entry in [states[host]] + list(replicas.get(host) or []):
            unanswered = str(entry.get("last-ping-sent", "0"))
            if ("s_down" in str(entry.get("flags", "")).split(",")
                    or (unanswered.isdigit() and int(unanswered) > UNANSWERED_PING_MS)):
                votes[(entry.get("ip", ""), int(entry.get("port", 0)))] += 1
    return {address for address, count in votes.items() if count * 2 > len(answering)}


def _replica_offset(info: dict) -> int:
    return int(info.get("slave_repl_offset", info.get("master_repl_offset", -1)))


def choose_master(infos: dict, hosts: list):
    """The pod to serve as master after its master left: a pod already master (the sentinels may
    have promoted it before they lost track), else the most up-to-date replica; None when no pod
    answers.

    Promoting a replica while another pod is master would make two masters, so a master always
    wins; among several, the one with the most replicas linked, then the most data.
    """
    answering = [h for h in hosts if infos.get(h)]
    masters = [h for h in answering if infos[h].get("role") == "master"]
    if masters:
        return max(masters, key=lambda h: (int(infos[h].get("connected_slaves", 0)),
                                           int(infos[h].get("master_repl_offset", 0)), -hosts.index(h)))
    replicas = [h for h in answering if infos[h].get("role") == "slave"]
    if not replicas:
        return None
    return max(replicas, key=lambda h: (_replica_offset(infos[h]), -hosts.index(h)))


def unknown_instances(known_redis, known_sentinels, hosts, port, sentinel_port) -> set:
    """The addresses a sentinel knows (``(host, port)`` of replicas and of other sentinels) that
    are not one of ``hosts`` on the configured ``port`` / ``sentinel_port``."""
    wanted_redis = {(host, int(port)) for host in hosts}
    wanted_sentinels = {(host, int(sentinel_port)) for host in hosts}
    return (set(known_redis) - wanted_redis) | (set(known_sentinels) - wanted_sentinels)


def addresses(entries) -> set:
    """``{(ip, port)}`` of sentinel entries (``SENTINEL REPLICAS`` or ``SENTINELS``)."""
    return {(entry.get("ip", ""), int(entry.get("port", 0))) for entry in entries}


@dataclass(frozen=True)
class Health:
    """What a status line needs: the master the sentinels agree on, pods ready, Redis version."""

    master: object  # (host, port) or None
    ready: int
    version: str
    roles: dict  # host -> "master" / "slave" / None when unreachable

    @property
    def other_masters(self) -> list:
        """Pods that act as master beside the one the sentinels name (a split brain), sorted."""
        named = self.master[0] if self.master else None
        return sorted(host for host, role in self.roles.items() if role == "master" and host != named)


def health(hosts, master, infos: dict, sentinels_up) -> Health:
    """The :class:`Health` of ``hosts``: a pod is ready when its redis serves under ``master``
    (is it, or replicates from it with the link up) and its sentinel answers.

    Args:
        hosts: the pods.
        master: the master by sentinel vote, or None.
        infos: ``{host: INFO}`` (None when the redis does not answer).
        sentinels_up: the hosts whose sentinel answers.
    """
    roles = {}
    ready = 0
    version = ""
    for host in hosts:
        info = infos.get(host)
        if info is None:
            roles[host] = None
            continue
        roles[host] = info.get("role")
        if master is not None and host == master[0]:
            version = str(info.get("redis_version", ""))
        if serves(info, host, master) and host in sentinels_up:
            ready += 1
    return Health(master=master, ready=ready, version=version, roles=roles)
