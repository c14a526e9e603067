"""Live view and control of the Redis master, replicas and sentinels (redis-py).

Every function takes ``connect(host, port, password) -> redis.Redis``; the default connects
directly. Pass another to reach pods through a different address map (tests, proxies).
Hosts are pod DNS names, ports integers; unreachable instances are skipped, never fatal,
unless a function says otherwise.
"""

import hashlib
import time
from collections import Counter
from dataclasses import dataclass

import redis

from .naming import pod_name_of
from .settings import expected_quorum  # noqa: F401  (part of this module's API)

TIMEOUT_S = 2.0
UNANSWERED_S = 10.0
_unanswered = {}  # (host, port) -> monotonic time it last timed out


def default_connect(host: str, port: int, password) -> redis.Redis:
    """Return a client with short timeouts: a dead pod must not stall a hook."""
    return redis.Redis(host=host, port=int(port), password=password or None, socket_timeout=TIMEOUT_S,
                       socket_connect_timeout=TIMEOUT_S, decode_responses=True)


def _call(connect, host, port, password, fn):
    client = (connect or default_connect)(host, port, password)
    try:
        return fn(client)
    finally:
        client.close()


def _try(connect, host, port, password, fn):
    """``fn(client)``, or None when the instance does not answer.

    An instance that timed out is not asked again for ``UNANSWERED_S``: a frozen master (or a
    partitioned pod) must cost a hook one timeout, not one per question.
    """
    key = (host, int(port))
    since = _unanswered.get(key)
    if since is not None and time.monotonic() - since < UNANSWERED_S:
        return None
    try:
        result = _call(connect, host, port, password, fn)
    except redis.TimeoutError:
        _unanswered[key] = time.monotonic()
        return None
    except (redis.RedisError, OSError):
        return None
    _unanswered.pop(key, None)
    return result


def sentinel_views(hosts, sentinel_port: int, master_name: str, password, connect=None) -> dict:
    """Return ``{sentinel host: (master host, master port)}`` for every sentinel that answers."""
    views = {}
    for host in hosts:
        addr = _try(connect, host, sentinel_port, password,
                    lambda c: c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_name))
        if addr and len(addr) == 2 and addr[0]:
            views[host] = (addr[0], int(addr[1]))
    return views


def master_from_sentinels(hosts, sentinel_port: int, master_name: str, password, connect=None):
    """Return ``(host, port)`` of the master most reachable sentinels report, or None.

    Ties go to the address reported by the sentinel listed first in ``hosts``.
    """
    views = sentinel_views(hosts, sentinel_port, master_name, password, connect)
    if not views:
        return None
    counts = Counter(views.values())
    order = [views[h] for h in hosts if h in views]
    return max(order, key=lambda addr: (counts[addr], -order.index(addr)))


def promoted_replica(hosts, sentinel_port: int, master_name: str, password, connect=None):
    """Return ``(host, port)`` of the replica a sentinel has promoted in a failover it has not
    announced yet, or None.

    Between ``+promoted-slave`` and ``+switch-master`` (a second or more: the leading sentinel
    first points the other replicas at it) the promoted replica already takes writes, and a
    failover that got this far always ends with the switch to it. Only the leading sentinel
    knows: its entry for the replica is flagged ``promoted`` and reports the role ``master``.
    Before that (the replica selected, told to become master, not yet seen as master) the
    failover may still be aborted, so the replica's own answer is not enough.
    """
    for host in hosts:
        replicas = _try(connect, host, sentinel_port, password,
                        lambda c: c.execute_command("SENTINEL", "REPLICAS", master_name))
        for entry in map(_as_dict, replicas or []):
            if ("promoted" in str(entry.get("flags", "")).split(",")
                    and entry.get("role-reported") == "master"):
                return entry.get("ip"), int(entry.get("port", 0))
    return None


def replication_info(host: str, port: int, password, connect=None) -> dict:
    """Return ``INFO replication`` of one redis as a dict (raises when unreachable)."""
    return _call(connect, host, port, password, lambda c: c.info("replication"))


def set_quorum(hosts, sentinel_port: int, master_name: str, password, quorum: int, connect=None) -> list:
    """Set the quorum on every reachable sentinel; return the hosts now using ``quorum``."""
    done = []
    for host in hosts:
        ok = _try(connect, host, sentinel_port, password,
                  lambda c: c.execute_command("SENTINEL", "SET", master_name, "quorum", str(quorum)))
        if ok:
            done.append(host)
    return done


def set_min_replicas(hosts, port: int, password, to_write: int, max_lag: int, replicas: int,
                     connect=None) -> list:
    """Apply ``min-replicas-to-write`` / ``min-replicas-max-lag`` live on every reachable redis,
    and ``repl-diskless-sync-max-replicas`` = ``replicas`` (the other pods: a full sync starts
    once they all asked for it).

    Every node gets them, not only the master, so a replica promoted later enforces them too.
    Returns the hosts updated.
    """
    done = []
    for host in hosts:
        ok = _try(connect, host, port, password,
                  lambda c: c.config_set("min-replicas-to-write", to_write)
                  and c.config_set("min-replicas-max-lag", max_lag)
                  and c.config_set("repl-diskless-sync-max-replicas", max(0, replicas)))
        if ok:
            done.append(host)
    return done


def _sentinel_master_state(connect, host, sentinel_port, password, master_name):
    return _try(connect, host, sentinel_port, password,
                lambda c: c.execute_command("SENTINEL", "MASTER", master_name))


def _as_dict(reply):
    if isinstance(reply, dict):
        return reply
    if isinstance(reply, (list, tuple)):
        return dict(zip(reply[::2], reply[1::2]))
    return {}


def stale_sentinels(hosts, settings, password, connect=None) -> list:
    """Return the pods whose sentinel remembers instances that no longer exist.

    An instance exists when it is one of ``hosts`` on the configured port (redis) or sentinel port,
    or still answers: in the middle of a port change the pods not restarted yet serve at the old
    port, and forgetting them then would only unsettle the sentinels. Entries for removed pods
    (scale-down) or a port no longer served would otherwise stay forever and skew what sentinels
    count; ``SENTINEL RESET`` makes a sentinel forget them. Nothing is stale while some pod's
    redis does not answer on the configured port yet, or while the sentinels follow a master that
    is not one of ``hosts`` (its failover needs the replicas they know).
    """
    hosts = list(hosts)
    if any(_try(connect, host, settings.port, password, lambda c: c.ping()) is None for host in hosts):
        return []  # a pod is (re)starting: the roll is not over, and a reset now only unsettles
    followed = master_from_sentinels(hosts, settings.sentinel_port, settings.master_name, password, connect)
    if followed is None or followed[0] not in hosts:
        return []  # the master left: a reset now would make the sentinels forget whom to promote
    answers = {}
    wanted_redis = {(host, int(settings.port)) for host in hosts}
    wanted_sentinels = {(host, int(settings.sentinel_port)) for host in hosts}
    stale = []
    for host in hosts:
        def views(client):
            replicas = client.execute_command("SENTINEL", "REPLICAS", settings.master_name)
            sentinels = client.execute_command("SENTINEL", "SENTINELS", settings.master_name)
            return replicas, sentinels
        answer = _try(connect, host, settings.sentinel_port, password, views)
        if answer is None:
            continue
        replicas, sentinels = ([_as_dict(entry) for entry in group] for group in answer)
        known_redis = {(r.get("ip", ""), int(r.get("port", 0))) for r in replicas}
        known_sentinels = {(s.get("ip", ""), int(s.get("port", 0))) for s in sentinels}
        unknown = (known_redis - wanted_redis) | (known_sentinels - wanted_sentinels)
        for address in unknown - set(answers):
            answers[address] = _try(connect, address[0], address[1], password, lambda c: c.ping())
        if any(answers[address] is None for address in unknown):
            stale.append(host)
    return stale


def reset_sentinels(hosts, sentinel_port: int, master_name: str, password, expected_replicas: int = None,
                    timeout: float = 10.0, connect=None, targets=None) -> list:
    """``SENTINEL RESET`` each sentinel in turn, after a scale-down, so removed pods are forgotten.

    One at a time: each must see the master, ``expected_replicas`` replicas and the other
    sentinels that answered before the resets began, before the next is reset, so a majority
    always knows the topology. Sentinels that do not answer, or are failing over, are skipped.
    Returns the hosts reset and re-synchronised within ``timeout`` seconds each.
    ``expected_replicas`` defaults to one less than the sentinels that answer. ``targets`` limits
    the resets to those hosts (default: every host).
    """
    states = {h: _as_dict(_sentinel_master_state(connect, h, sentinel_port, password, master_name)) for h in hosts}
    reachable = [h for h in hosts if states[h]]
    if expected_replicas is None:
        expected_replicas = max(0, len(reachable) - 1)
    done = []
    for host in reachable:
        if targets is not None and host not in targets:
            continue
        if "failover_in_progress" in str(states[host].get("flags", "")):
            continue
        if _try(connect, host, sentinel_port, password,
                lambda c: c.execute_command("SENTINEL", "RESET", master_name)) is None:
            continue
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = _as_dict(_sentinel_master_state(connect, host, sentinel_port, password, master_name))
            if (state and int(state.get("num-slaves", -1)) >= expected_replicas
                    and int(state.get("num-other-sentinels", -1)) >= len(reachable) - 1):
                done.append(host)
                break
            time.sleep(0.2)
    return done


def _replicas_caught_up(info: dict) -> bool:
    offset = int(info.get("master_repl_offset", 0))
    replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
    return all(int(r.get("offset", -1)) >= offset for r in replicas)


def failover_if_master(host: str, port: int, sentinel_hosts, sentinel_port: int, master_name: str, password,
                       timeout: float = 60.0, connect=None) -> bool:
    """Move the master role away from ``host`` (a pod about to be removed) if it holds it.

    Writes are paused on the master and the replicas allowed to catch up first, so the
    promoted replica has every acknowledged write. Returns True when another pod is master
    on return, False when ``host`` was not master. Raises RuntimeError when the failover fails
    (writes are resumed then).
    """
    current = master_from_sentinels(sentinel_hosts, sentinel_port, master_name, password, connect)
    if current is None or current[0] != host:
        return False
    pause_ms = int((timeout + 10) * 1000)
    _try(connect, host, port, password, lambda c: c.execute_command("CLIENT", "PAUSE", pause_ms, "WRITE"))
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            info = _try(connect, host, port, password, lambda c: c.info("replication"))
            if info is None or _replicas_caught_up(info):
                break
            time.sleep(0.1)
        asked = False
        order = [h for h in sentinel_hosts if h != host] + [h for h in sentinel_hosts if h == host]
        # NOGOODSLAVE can be transient (a sentinel reconnecting, a replica's INFO being refreshed).
        deadline = time.monotonic() + min(5.0, timeout)
        while not asked:
            for sentinel in order:
                try:
                    _call(connect, sentinel, sentinel_port, password,
                          lambda c: c.execute_command("SENTINEL", "FAILOVER", master_name))
                    asked = True
                    break
                except redis.ResponseError as e:
                    if "INPROG" in str(e):
                        asked = True
                        break
                except (redis.RedisError, OSError):
                    continue
            if asked or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if not asked:
            raise RuntimeError("no sentinel accepted a failover of {}".format(master_name))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = master_from_sentinels(sentinel_hosts, sentinel_port, master_name, password, connect)
            if current is not None and current[0] != host:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("{} is still master {}s after the failover request".format(host, timeout))
    except BaseException:
        _try(connect, host, port, password, lambda c: c.execute_command("CLIENT", "UNPAUSE"))
        raise
    # Sentinel only converts the old master after several INFO periods (tens of seconds), and
    # while paused it could not follow the new master anyway: make it a replica now, then resume.
    # Writes that waited for the pause then fail with READONLY: none is acknowledged and lost.
    new_host, new_port = current
    _try(connect, host, port, password, lambda c: c.execute_command("REPLICAOF", new_host, str(new_port)))
    _try(connect, host, port, password, lambda c: c.execute_command("CLIENT", "UNPAUSE"))
    return True


def apply_live_settings(hosts, settings, password, connect=None) -> bool:
    """Apply what depends on the unit count without restarting anything: the sentinel quorum
    and ``min-replicas-to-write`` / ``min-replicas-max-lag``, from ``settings`` (its unit count).

    Returns True when every host's sentinel and redis took them; False means some pod was not
    reachable and the caller should try again later (what was reached is applied).
    """
    hosts = list(hosts)
    quorum_set = set_quorum(hosts, settings.sentinel_port, settings.master_name, password,
                            settings.quorum, connect)
    replicas_set = set_min_replicas(hosts, settings.port, password, settings.min_replicas_to_write,
                                    settings.min_replicas_max_lag, settings.unit_count - 1,
                                    connect)
    return len(quorum_set) == len(hosts) and len(replicas_set) == len(hosts)


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


def _serves(info: dict, host: str, master) -> bool:
    """Whether a redis serves under the sentinels' master: it is that master, or a replica of it
    with the link up."""
    if master is None:
        return False
    if info.get("role") == "master":
        return host == master[0]
    return info.get("master_link_status") == "up" and _follows(info, master)


def health(hosts, settings, password, connect=None) -> Health:
    """Return the :class:`Health` of the pods ``hosts``; never raises for unreachable pods.

    A pod is ready when its redis serves under the master the sentinels name (is it, or replicates
    from it with the link up) and its sentinel answers.
    """
    hosts = list(hosts)
    master = master_from_sentinels(hosts, settings.sentinel_port, settings.master_name, password, connect)
    roles = {}
    ready = 0
    version = ""
    for host in hosts:
        info = _try(connect, host, settings.port, password, lambda c: c.info())
        if info is None:
            roles[host] = None
            continue
        roles[host] = info.get("role")
        if master is not None and host == master[0]:
            version = str(info.get("redis_version", ""))
        sentinel_up = _try(connect, host, settings.sentinel_port, password, lambda c: c.ping())
        if _serves(info, host, master) and sentinel_up:
            ready += 1
    return Health(master=master, ready=ready, version=version, roles=roles)


def _authenticated(connect, host, port, candidates):
    """A client to ``host:port`` logged in with the first of ``candidates`` that works, or None."""
    for password in candidates:
        try:
            client = (connect or default_connect)(host, port, password)
        except (redis.RedisError, OSError):
            return None
        try:
            client.ping()
            return client
        except redis.AuthenticationError:
            client.close()
        except (redis.RedisError, OSError):
            client.close()
            return None
    return None


def _each(connect, endpoints, candidates, action):
    reached = 0
    for host, port in endpoints:
        client = _authenticated(connect, host, port, candidates)
        if client is None:
            continue
        try:
            action(client, port)
            reached += 1
        except (redis.RedisError, OSError):
            pass
        finally:
            client.close()
    return reached


def rotate_password(hosts, settings, old_password: str, new_password: str, connect=None) -> bool:
    """Change the password of every redis and sentinel live, without a restart or a failed link.

    In three passes over all pods: the default user accepts both passwords; replicas
    (``masterauth``) and sentinels (``auth-pass``, ``sentinel-pass``) switch to the new one; the
    old one is removed. Update the Secret in the same hook, so that restarted containers come
    back with the new password. Returns True when every redis and sentinel of ``hosts`` went
    through all passes; False means some were unreachable: call again (it is idempotent, and a
    pod already on the new password is recognised).
    """
    if old_password == new_password:
        return True
    hosts = list(hosts)
    redises = [(h, settings.port) for h in hosts]
    sentinels = [(h, settings.sentinel_port) for h in hosts]
    both = [old_password, new_password]
    new_only = [new_password]
    total = len(redises) + len(sentinels)

    def accept_new(client, port):
        client.execute_command("ACL", "SETUSER", "default", "on", ">" + new_password)

    def switch_outgoing(client, port):
        if port == settings.sentinel_port:
            client.execute_command("SENTINEL", "SET", settings.master_name, "auth-pass", new_password)
            client.execute_command("SENTINEL", "CONFIG", "SET", "sentinel-pass", new_password)
        else:
            client.config_set("masterauth", new_password)

    old_digest = hashlib.sha256(old_password.encode()).hexdigest()

    def drop_old(client, port):
        # Redis keeps SHA-256 digests; removing an absent password is an error that echoes it.
        user = _as_dict(client.execute_command("ACL", "GETUSER", "default"))
        digests = [d.decode() if isinstance(d, bytes) else d for d in user.get("passwords", [])]
        if old_digest in digests:
            client.execute_command("ACL", "SETUSER", "default", "<" + old_password)

    done = [
        _each(connect, redises + sentinels, both, accept_new),
        _each(connect, redises + sentinels, new_only, switch_outgoing),
        _each(connect, redises + sentinels, new_only, drop_old),
    ]
    # A new auth-pass makes each sentinel reconnect; until it has, it could not fail over.
    deadline = time.monotonic() + 10
    for host in hosts:
        while time.monotonic() < deadline:
            state = _as_dict(_sentinel_master_state(connect, host, settings.sentinel_port, new_password,
                                                    settings.master_name))
            if not state or "disconnected" not in str(state.get("flags", "")):
                break
            time.sleep(0.1)
    return all(n == total for n in done)


def _replica_offset(info: dict) -> int:
    return int(info.get("slave_repl_offset", info.get("master_repl_offset", -1)))


def _choose_master(infos: dict, hosts: list):
    """The pod to serve as master after its master left: a pod already master (the sentinels may
    have promoted it before they lost track), else the most up-to-date replica; None when no pod answers.

    Promoting a replica while another pod is master would make two masters, so a master always wins;
    among several, the one with the most replicas linked, then the most data.
    """
    answering = [h for h in hosts if infos[h]]
    masters = [h for h in answering if infos[h].get("role") == "master"]
    if masters:
        return max(masters, key=lambda h: (int(infos[h].get("connected_slaves", 0)),
                                           int(infos[h].get("master_repl_offset", 0)), -hosts.index(h)))
    replicas = [h for h in answering if infos[h].get("role") == "slave"]
    if not replicas:
        return None
    return max(replicas, key=lambda h: (_replica_offset(infos[h]), -hosts.index(h)))


def _sentinels_gave_up(connect, hosts, settings, password, followed) -> bool:
    """Whether every sentinel that answers still names ``followed``, has seen it down for a whole
    ``failover-timeout`` and is not failing over: only then can no failover of theirs be on the way.

    A departing master hands over on its way out; promoting a replica beside the sentinels' own
    choice would make two masters, and writes to one of them would be lost.
    """
    views = sentinel_views(hosts, settings.sentinel_port, settings.master_name, password, connect)
    if not views or any(view != followed for view in views.values()):
        return False
    for host in views:
        state = _as_dict(_sentinel_master_state(connect, host, settings.sentinel_port, password,
                                                settings.master_name))
        flags = str(state.get("flags", ""))
        if "failover" in flags or "s_down" not in flags:
            return False
        if int(state.get("s-down-time", 0)) < int(settings.failover_timeout_ms):
            return False
    return True


def recover_lost_master(hosts, settings, password, connect=None):
    """Heal the state no sentinel can leave: the master they follow is gone with its pod.

    After a scale-down that removed the master together with most sentinels, the sentinels that
    remain cannot fail over (they still count the removed ones) and the replicas follow a master
    that no longer resolves. When the master the sentinels name is not one of ``hosts``, does not
    answer, and the sentinels have given up on it (see :func:`_sentinels_gave_up`), keep the pod
    that is already master (a failover may have half-completed) or else promote
    the most up-to-date replica, re-point every other pod to it, and make every sentinel monitor it
    afresh.

    Returns the master host, or None when there was nothing to heal (or no pod to make master).
    """
    hosts = list(hosts)
    followed = master_from_sentinels(hosts, settings.sentinel_port, settings.master_name, password, connect)
    if followed is None or followed[0] in hosts:
        return None
    if _try(connect, followed[0], followed[1], password, lambda c: c.ping()) is not None:
        return None  # still alive: a graceful failover can still happen
    if not _sentinels_gave_up(connect, hosts, settings, password, followed):
        return None
    infos = {h: _try(connect, h, settings.port, password, lambda c: c.info("replication")) for h in hosts}
    chosen = _choose_master(infos, hosts)
    if chosen is None:
        return None
    if infos[chosen].get("role") != "master" and _try(
            connect, chosen, settings.port, password,
            lambda c: c.execute_command("REPLICAOF", "NO", "ONE")) is None:
        return None
    for host in hosts:
        if host != chosen and infos[host]:  # a replica already linked to it takes this as a no-op
            _try(connect, host, settings.port, password,
                 lambda c: c.execute_command("REPLICAOF", chosen, settings.port))
    for host in hosts:
        _monitor_afresh(connect, host, settings, password, (chosen, settings.port))
    return chosen


def _monitor_afresh(connect, host, settings, password, master):
    """Make the sentinel of ``host`` forget what it knew and monitor ``master``; False if unreachable."""
    def monitor(client):
        try:
            client.execute_command("SENTINEL", "REMOVE", settings.master_name)
        except redis.ResponseError:
            pass  # this sentinel did not monitor it
        client.execute_command("SENTINEL", "MONITOR", settings.master_name, master[0], master[1],
                               settings.quorum)
        client.execute_command(
            "SENTINEL", "SET", settings.master_name,
            "auth-pass", password or "",
            "down-after-milliseconds", settings.down_after_ms,
            "failover-timeout", settings.failover_timeout_ms,
            "parallel-syncs", 1)
        return True
    return _try(connect, host, settings.sentinel_port, password, monitor) is not None


def repoint_strays(hosts, settings, password, connect=None) -> list:
    """Make every pod that does not serve under the sentinels' master its replica; return them.

    A stray is a pod acting as master beside the named one, or a replica following any other
    address (a pod that asked the sentinels in the middle of a port change can follow the master at
    its old port and never link). A sentinel repoints the replicas it knows, but never learns of a
    pod that never linked, nor of one it was told to forget. Acts only when every sentinel that
    answers (a majority of ``hosts``) names the same master, that master is one of ``hosts`` and
    answers as master, and no sentinel sees it down or failing over.
    """
    hosts = list(hosts)
    views = sentinel_views(hosts, settings.sentinel_port, settings.master_name, password, connect)
    if len(views) <= len(hosts) // 2 or len(set(views.values())) != 1:
        return []
    master_host, master_port = next(iter(views.values()))
    if not _settled_master(connect, hosts, views, settings, password, (master_host, master_port)):
        return []
    strays = []
    for host in hosts:
        if host == master_host:
            continue
        info = _try(connect, host, settings.port, password, lambda c: c.info("replication"))
        if not info or _follows(info, (master_host, master_port)):
            continue
        if _try(connect, host, settings.port, password,
                lambda c: c.execute_command("REPLICAOF", master_host, master_port)) is not None:
            strays.append(host)
    return strays


def _follows(info: dict, master) -> bool:
    """Whether a redis is configured as a replica of ``master`` (linked or not yet)."""
    return (info.get("role") == "slave"
            and pod_name_of(str(info.get("master_host", ""))) == pod_name_of(master[0])
            and int(info.get("master_port", 0)) == int(master[1]))


def _settled_master(connect, hosts, views, settings, password, master) -> bool:
    """Whether ``master`` is one of ``hosts``, answers as master, and no sentinel of ``views``
    sees it down or is failing over: the moment to align stragglers with it is safe."""
    if master[0] not in hosts:
        return False
    for host in views:
        state = _as_dict(_sentinel_master_state(connect, host, settings.sentinel_port, password,
                                                settings.master_name))
        flags = str(state.get("flags", "")) if state else "down"
        if "failover" in flags or "down" in flags:
            return False
    info = _try(connect, master[0], master[1], password, lambda c: c.info("replication"))
    return bool(info) and info.get("role") == "master"


def realign_sentinels(hosts, settings, password, connect=None) -> list:
    """Make sentinels that name a master the others left behind monitor the current one; return them.

    A sentinel whose master address went away with a port change or a restart, while it missed the
    failover, hears no more announcements (they travel through the instances it monitors) and
    would follow that address forever. When a majority of ``hosts``' sentinels name a settled
    master (see :func:`repoint_strays`) and a straggler's master does not answer as master, the
    straggler monitors the majority's master afresh.
    """
    hosts = list(hosts)
    views = sentinel_views(hosts, settings.sentinel_port, settings.master_name, password, connect)
    if not views:
        return []
    counts = Counter(views.values())
    master, votes = counts.most_common(1)[0]
    if votes <= len(hosts) // 2 or votes == len(views):
        return []
    majority = {host: named for host, named in views.items() if named == master}
    if not _settled_master(connect, hosts, majority, settings, password, master):
        return []
    realigned = []
    for host, named in sorted(views.items()):
        if named == master:
            continue
        info = _try(connect, named[0], named[1], password, lambda c: c.info("replication"))
        if info and info.get("role") == "master":
            continue  # a second live master is not a straggler's mistake to undo here
        if _monitor_afresh(connect, host, settings, password, master):
            realigned.append(host)
    return realigned


def follow_moved_master(hosts, settings, password, connect=None):
    """Make the sentinels follow a master that restarted on the configured port; return it or None.

    A master that stopped without handing over (no replica was ready) comes back on its pod as
    master with its data, but a port change moved it: the sentinels still watch the old port, see
    it down and have no replica to promote. When the master most sentinels name is one of
    ``hosts`` on another port that no longer answers as master, and that pod's redis is master on
    the configured port, every sentinel monitors it there afresh.
    """
    hosts = list(hosts)
    followed = master_from_sentinels(hosts, settings.sentinel_port, settings.master_name, password, connect)
    if followed is None or followed[0] not in hosts or int(followed[1]) == int(settings.port):
        return None
    old = _try(connect, followed[0], followed[1], password, lambda c: c.info("replication"))
    if old and old.get("role") == "master":
        return None
    new = _try(connect, followed[0], settings.port, password, lambda c: c.info("replication"))
    if not new or new.get("role") != "master":
        return None
    for host in hosts:
        _monitor_afresh(connect, host, settings, password, (followed[0], settings.port))
    return followed[0]
