"""Heal steps: each reads one :class:`redis_k8s.observation.Snapshot`, acts only in the state it
names, and returns what it did (falsy when it did nothing).

:func:`heal` runs them in a fixed order and stops after the first that acts, as the RedisFailover
operator's check-and-heal loop does: the snapshot no longer describes the cluster once something
changed, so the next step waits for the next hook (the master watcher brings one within seconds,
since the change it made is a change it sees). Every step is idempotent.
"""

from . import live, naming, rules
from .connection import redis  # redis-py, loaded once an error reaches a clause naming it


def monitor_afresh(pods, host, master) -> bool:
    """Make the sentinel of ``host`` forget what it knew and monitor ``master``; False if
    unreachable."""
    settings = pods.settings

    def monitor(client):
        try:
            client.execute_command("SENTINEL", "REMOVE", settings.master_name)
        except redis.ResponseError:
            pass  # this sentinel did not monitor it
        client.execute_command("SENTINEL", "MONITOR", settings.master_name, master[0], master[1],
                               settings.quorum)
        # Everything the leader's live settings keep there (sentinel-config included), at once.
        values = ["auth-pass", pods.password or ""]
        for name, value in live.sentinel_settings(settings).items():
            values += [name, value]
        client.execute_command("SENTINEL", "SET", settings.master_name, *values)
        return True
    return pods.sentinel(host, monitor) is not None


def recover_lost_master(snapshot):
    """Heal the state no sentinel can leave: the master they follow is gone with its pod.

    After a scale-down that removed the master together with most sentinels, the sentinels that
    remain cannot fail over (they still count the removed ones) and the replicas follow a master
    that no longer resolves. When the master the sentinels name is not one of the pods, does not
    answer, and the sentinels have given up on it (:func:`redis_k8s.rules.gave_up`), keep the pod
    that is already master (a failover may have half-completed) or else promote the most
    up-to-date replica (:func:`redis_k8s.rules.choose_master`), re-point every other pod to it,
    and make every sentinel monitor it afresh.

    Returns the master host, or None when there was nothing to heal (or no pod to make master).
    """
    pods, hosts, settings = snapshot.pods, snapshot.hosts, snapshot.settings
    followed = snapshot.master
    if followed is None or followed[0] in hosts:
        return None
    if snapshot.answers(*followed):
        return None  # still alive: a graceful failover can still happen
    views = snapshot.views
    states = {host: snapshot.sentinel_state(host) for host in views}
    if not rules.gave_up(views, followed, states, settings.failover_timeout_ms):
        return None
    infos = snapshot.infos()
    chosen = rules.choose_master(infos, hosts)
    if chosen is None:
        return None
    if infos[chosen].get("role") != "master" and pods.redis(
            chosen, lambda c: c.execute_command("REPLICAOF", "NO", "ONE")) is None:
        return None
    for host in hosts:
        if host != chosen and infos[host]:  # a replica already linked to it takes this as a no-op
            pods.redis(host, lambda c: c.execute_command("REPLICAOF", chosen, settings.port))
    for host in hosts:
        monitor_afresh(pods, host, (chosen, settings.port))
    return chosen


def follow_moved_master(snapshot):
    """Make the sentinels follow a master that restarted on the configured port; return it or None.

    A master that stopped without handing over (no replica was ready) comes back on its pod as
    master with its data, but a port change moved it: the sentinels still watch the old port, see
    it down and have no replica to promote. When the master most sentinels name is one of the pods
    on another port that no longer answers as master, and that pod's redis is master on the
    configured port, every sentinel monitors it there afresh.
    """
    hosts, settings = snapshot.hosts, snapshot.settings
    followed = snapshot.master
    if followed is None or followed[0] not in hosts or int(followed[1]) == int(settings.port):
        return None
    old = snapshot.info(*followed)
    if old and old.get("role") == "master":
        return None
    new = snapshot.info(followed[0])
    if not new or new.get("role") != "master":
        return None
    for host in hosts:
        monitor_afresh(snapshot.pods, host, (followed[0], settings.port))
    return followed[0]


def demote_second_masters(snapshot) -> list:
    """Make every pod acting as master beside the one a majority of the sentinels name its
    replica, as soon as they have switched; return the pods demoted.

    An old master that was frozen or cut off while the sentinels failed it over comes back
    still master. The sentinels turn it into a replica only once they have seen it so (their
    INFO every 10 s, or every second while they fail over) and :func:`repoint_strays` waits for
    every sentinel to agree and nothing to be down; meanwhile every write it acknowledges is
    discarded at its demotion. The rule (:func:`redis_k8s.rules.second_masters`) never names
    the pod of the master the majority names, nor anything while a failover is under way.
    """
    master = rules.majority_master(snapshot.current_views, len(snapshot.hosts))
    if master is None:
        return []
    infos = snapshot.infos()
    named_pod = naming.pod_name_of(master[0])
    if not any(info and info.get("role") == "master" and naming.pod_name_of(host) != named_pod
               for host, info in infos.items()):
        return []  # the usual case: no sentinel state asked for
    views = snapshot.views
    states = {host: snapshot.sentinel_state(host) for host in views}
    demoted = []
    for host in rules.second_masters(master, snapshot.info(*master), views, states, infos):
        if snapshot.pods.redis(host, lambda c: c.execute_command("REPLICAOF", master[0], master[1])) is not None:
            demoted.append(host)
    return demoted


def _settled(snapshot, master, sentinel_hosts) -> bool:
    return master[0] in snapshot.hosts and rules.settled(
        master, snapshot.hosts, [snapshot.sentinel_state(host) for host in sentinel_hosts],
        snapshot.info(*master))


def realign_sentinels(snapshot) -> list:
    """Make sentinels that name a master the others left behind monitor the current one; return them.

    A sentinel whose master address went away with a port change or a restart, while it missed the
    failover, hears no more announcements (they travel through the instances it monitors) and
    would follow that address forever. When a majority of the pods' sentinels name a settled
    master (:func:`redis_k8s.rules.settled`) and a straggler's master does not answer as master,
    the straggler monitors the majority's master afresh.

    It counts every sentinel's view, not only the newest epoch's (:attr:`current_views`): a
    sentinel that :func:`monitor_afresh` missed keeps its older address at a higher config epoch
    than the ones it reset to 0, and is the very straggler to mend. What keeps a stale majority
    from undoing a newer failover here is the guard, not the count: a straggler whose master
    answers as master is left alone.
    """
    hosts = snapshot.hosts
    views = snapshot.views
    master = rules.master_by_vote(views)
    if master is None:
        return []
    votes = sum(1 for named in views.values() if named == master)
    if votes < rules.expected_quorum(len(hosts)) or votes == len(views):
        return []
    majority = [host for host, named in views.items() if named == master]
    if not _settled(snapshot, master, majority):
        return []
    realigned = []
    for host, named in sorted(views.items()):
        if named == master:
            continue
        info = snapshot.info(*named)
        if info and info.get("role") == "master":
            continue  # a second live master is not a straggler's mistake to undo here
        if monitor_afresh(snapshot.pods, host, master):
            realigned.append(host)
    return realigned


def repoint_strays(snapshot) -> list:
    """Make every pod that does not serve under the sentinels' master its replica; return them.

    A stray is a pod acting as master beside the named one, or a replica following any other
    address (a pod that asked the sentinels in the middle of a port change can follow the master at
    its old port and never link). A sentinel repoints the replicas it knows, but never learns of a
    pod that never linked, nor of one it was told to forget. Acts only when every sentinel that
    answers (a majority of the pods) names the same master, that master is one of the pods and
    answers as master, and no sentinel sees it down or failing over.
    """
    hosts = snapshot.hosts
    views = snapshot.views
    master = rules.unanimous(views)
    if len(views) < rules.expected_quorum(len(hosts)) or master is None:
        return []
    if not _settled(snapshot, master, views):
        return []
    strays = []
    for host in hosts:
        if host == master[0]:
            continue
        info = snapshot.info(host)
        if not info or rules.follows(info, master):
            continue
        if snapshot.pods.redis(host, lambda c: c.execute_command("REPLICAOF", master[0], master[1])) is not None:
            strays.append(host)
    return strays


def stale_sentinels(snapshot) -> list:
    """Return the pods whose sentinel remembers instances that no longer exist.

    An instance exists when it is one of the pods on the configured port (redis) or sentinel port,
    or still answers: in the middle of a port change the pods not restarted yet serve at the old
    port, and forgetting them then would only unsettle the sentinels. Entries for removed pods
    (scale-down) or a port no longer served would otherwise stay forever and skew what sentinels
    count; ``SENTINEL RESET`` makes a sentinel forget them. Nothing is stale while some pod's
    redis does not serve on the configured port yet, or while the sentinels follow a master that
    is not one of the pods (its failover needs the replicas they know).
    """
    hosts, settings = snapshot.hosts, snapshot.settings
    if not all(rules.answers_commands(snapshot.info(host)) for host in hosts):
        return []  # a pod is (re)starting: the roll is not over, and a reset now only unsettles
    followed = snapshot.master
    if followed is None or followed[0] not in hosts:
        return []  # the master left: a reset now would make the sentinels forget whom to promote
    stale = []
    for host in hosts:
        replicas, peers = snapshot.sentinel_replicas(host), snapshot.sentinel_peers(host)
        if replicas is None or peers is None:
            continue
        unknown = rules.unknown_instances(rules.addresses(replicas), rules.addresses(peers), hosts,
                                          settings.port, settings.sentinel_port)
        if any(not snapshot.answers(*address) for address in sorted(unknown)):
            stale.append(host)
    return stale


# The order matters: a lost or moved master first (nothing else is safe while the sentinels
# follow an address that is gone), then a second master (each write it takes is lost: no
# waiting for the sentinels to settle), then sentinels and pods that stray from the settled
# master, then the sentinels that remember removed instances (only once everything follows one
# master). Those are only found: the master watcher resets them (redis_k8s.sentinel_reset), as
# the waits of the resets would hold every hook of the application behind this one.
STEPS = (recover_lost_master, follow_moved_master, demote_second_masters, realign_sentinels,
         repoint_strays, stale_sentinels)


def heal(snapshot, steps=STEPS):
    """Run the heal ``steps`` in order on ``snapshot``; stop after the first that acts.

    Returns ``(step name, what it returned)`` for the step that acted, or None when the cluster
    needed nothing.
    """
    for step in steps:
        result = step(snapshot)
        if result:
            return step.__name__, result
    return None
