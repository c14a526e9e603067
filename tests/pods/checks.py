"""Assertions about a running Cluster, shared by the pod tests."""

import dataclasses
import time

import redis

from harness import wait_for
from redis_k8s import observation, settings as settings_mod
from redis_k8s.connection import ask, call


def sentinel_state(pod, app):
    return pod.sentinel_client().sentinel_master(app)


def unhealthy_reason(cluster, master):
    """Why ``master`` is not yet the master of a healthy cluster, or None when it is: the only
    master, every other running pod replicating it with the link up, and every running sentinel
    reporting it with all replicas and all other sentinels."""
    pods = [p for p in cluster.pods if p.redis.running() and p.sentinel.running()]
    n = len(pods)
    info = master.client().info("replication")
    if info["role"] != "master" or info["connected_slaves"] != n - 1:
        return "{}: role {} with {} replicas".format(master.name, info["role"], info.get("connected_slaves"))
    for pod in pods:
        if pod is master:
            continue
        r = pod.client().info("replication")
        if r["role"] != "slave" or r["master_host"] != master.fqdn or r["master_link_status"] != "up":
            return "{}: role {} of {} link {}".format(pod.name, r["role"], r.get("master_host"),
                                                   r.get("master_link_status"))
    for pod in pods:
        s = sentinel_state(pod, cluster.app)
        if s["ip"] != master.fqdn or s["num-slaves"] != n - 1 or s["num-other-sentinels"] != n - 1:
            return "sentinel {}: master {} slaves {} others {} flags {}".format(
                pod.name, s["ip"], s["num-slaves"], s["num-other-sentinels"], s.get("flags"))
        if s.get("is_sdown") or s.get("is_odown"):
            return "sentinel {}: master flags {}".format(pod.name, s.get("flags"))
    return None


def healthy(cluster, master):
    return unhealthy_reason(cluster, master) is None


def wait_healthy(cluster, master, timeout=90):
    reasons = []

    def check():
        reason = unhealthy_reason(cluster, master)
        reasons.append(reason)
        return reason is None

    try:
        return wait_for(check, timeout, what="{} master of a healthy cluster".format(master.name))
    except TimeoutError as e:
        raise TimeoutError("{}; last state: {}".format(e, reasons[-1] if reasons else "unknown"))


def wait_new_master(cluster, old, timeout=60):
    """Wait until the sentinels agree on a master other than ``old``; return its Pod."""
    def check():
        m = cluster.master_from_sentinels()
        if m is None or m is old:
            return None
        return m if m.client().info("replication")["role"] == "master" else None
    return wait_for(check, timeout, what="a master other than {}".format(old.name))


def refused(fn):
    try:
        fn()
    except redis.AuthenticationError:
        return True
    except redis.ResponseError as e:
        return "NOAUTH" in str(e) or "WRONGPASS" in str(e)
    return False


def wait_settled(cluster, timeout=90):
    """Wait until the sentinels agree on a master and the cluster around it is healthy; return it.

    On this shared two-core machine a sentinel can miss a 1 s down-after window and fail over
    once more; what must hold is that the cluster settles, whichever pod ends up master.
    """
    reasons = []

    def check():
        master = cluster.master_from_sentinels()
        if master is None:
            reasons.append("no master known")
            return None
        reason = unhealthy_reason(cluster, master)
        reasons.append(reason)
        return master if reason is None else None

    try:
        return wait_for(check, timeout, what="a settled cluster")
    except TimeoutError as e:
        raise TimeoutError("{}; last state: {}".format(e, reasons[-1] if reasons else "unknown"))


def _master(hosts, sentinel_port, master_name, password, connect):
    """The master by sentinel vote, read through the charm's own observation."""
    parsed = dataclasses.replace(settings_mod.parse({}, len(hosts), app_name=master_name),
                                 sentinel_port=sentinel_port)
    snapshot = observation.observe(hosts, parsed, password, connect)
    try:
        return snapshot.master
    finally:
        snapshot.pods.close()


def _replicas_caught_up(info: dict) -> bool:
    offset = int(info.get("master_repl_offset", 0))
    replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
    return all(int(r.get("offset", -1)) >= offset for r in replicas)


def failover_if_master(host: str, port: int, sentinel_hosts, sentinel_port: int, master_name: str, password,
                       timeout: float = 60.0, connect=None) -> bool:
    """Move the master role away from ``host`` if it holds it: a test tool (the charm hands over
    in the stop script, in shell).

    Writes are paused on the master and the replicas allowed to catch up first, so the
    promoted replica has every acknowledged write. Returns True when another pod is master
    on return, False when ``host`` was not master. Raises RuntimeError when the failover fails
    (writes are resumed then).
    """
    current = _master(sentinel_hosts, sentinel_port, master_name, password, connect)
    if current is None or current[0] != host:
        return False
    pause_ms = int((timeout + 10) * 1000)
    ask(connect, host, port, password, lambda c: c.execute_command("CLIENT", "PAUSE", pause_ms, "WRITE"))
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            info = ask(connect, host, port, password, lambda c: c.info("replication"))
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
                    call(connect, sentinel, sentinel_port, password,
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
            current = _master(sentinel_hosts, sentinel_port, master_name, password, connect)
            if current is not None and current[0] != host:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("{} is still master {}s after the failover request".format(host, timeout))
    except BaseException:
        ask(connect, host, port, password, lambda c: c.execute_command("CLIENT", "UNPAUSE"))
        raise
    # Sentinel only converts the old master after several INFO periods (tens of seconds), and
    # while paused it could not follow the new master anyway: make it a replica now, then resume.
    # Writes that waited for the pause then fail with READONLY: none is acknowledged and lost.
    new_host, new_port = current
    ask(connect, host, port, password, lambda c: c.execute_command("REPLICAOF", new_host, str(new_port)))
    ask(connect, host, port, password, lambda c: c.execute_command("CLIENT", "UNPAUSE"))
    return True
