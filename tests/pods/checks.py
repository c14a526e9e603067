"""Assertions about a running Cluster, shared by the pod tests."""

import redis

from harness import wait_for


def sentinel_state(pod, app):
    return pod.sentinel_client().sentinel_master(app)


def healthy(cluster, master):
    """True when ``master`` is the only master, every other running pod replicates it with the
    link up, and every running sentinel reports it with all replicas and all other sentinels."""
    pods = [p for p in cluster.pods if p.redis.running() and p.sentinel.running()]
    n = len(pods)
    info = master.client().info("replication")
    if info["role"] != "master" or info["connected_slaves"] != n - 1:
        return False
    for pod in pods:
        if pod is master:
            continue
        r = pod.client().info("replication")
        if r["role"] != "slave" or r["master_host"] != master.fqdn or r["master_link_status"] != "up":
            return False
    for pod in pods:
        s = sentinel_state(pod, cluster.app)
        if s["ip"] != master.fqdn or s["num-slaves"] != n - 1 or s["num-other-sentinels"] != n - 1:
            return False
        if s.get("is_sdown") or s.get("is_odown"):
            return False
    return True


def wait_healthy(cluster, master, timeout=60):
    return wait_for(lambda: healthy(cluster, master), timeout, what="{} master of a healthy cluster".format(master.name))


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
