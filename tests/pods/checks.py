"""Assertions about a running Cluster, shared by the pod tests."""

import redis

from harness import wait_for


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
