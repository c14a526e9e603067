"""Real redis-server and sentinel processes running the rendered start scripts, without Juju."""

import dataclasses
import os
import signal
import subprocess
import threading
import time

import pytest
import redis

from checks import (failover_if_master, healthy, refused, sentinel_state, wait_healthy, wait_new_master,
                    wait_settled)
from harness import wait_for
from conftest import FAST
from redis_k8s import live, observation, sentinel_reset, settings as settings_mod


def test_three_pods_start_with_pod_0_master_two_synced_replicas_and_agreeing_sentinels(healthy_shared_cluster):
    cluster = healthy_shared_cluster
    master = cluster.pods[0]
    wait_healthy(cluster, master)

    master.client().set("greeting", "hello")
    assert master.client().wait(2, 5000) == 2
    for pod in cluster.pods[1:]:
        assert pod.client().get("greeting") == "hello"
    for pod in cluster.pods:
        state = sentinel_state(pod, cluster.app)
        assert state["ip"] == master.fqdn and state["quorum"] == 2
    # Auto min-replicas-to-write with 3 pods: 1; a full sync starts once the 2 others ask.
    assert master.client().config_get("min-replicas-to-write")["min-replicas-to-write"] == "1"
    assert master.client().config_get("repl-diskless-sync-*") == {
        "repl-diskless-sync-delay": "1", "repl-diskless-sync-max-replicas": "2"}


def test_clients_without_the_password_are_refused(healthy_shared_cluster):
    cluster = healthy_shared_cluster
    pod = wait_settled(cluster)
    settings = cluster.settings
    assert refused(lambda: cluster.client(pod.ip, settings.port, password=None).set("k", "v"))
    assert refused(lambda: cluster.client(pod.ip, settings.port, password="wrong-password").get("k"))
    assert refused(lambda: cluster.client(pod.ip, settings.sentinel_port, password=None)
                   .sentinel_get_master_addr_by_name(cluster.app))
    assert pod.client().ping()


def test_the_password_shows_in_no_command_line_log_or_configmap_file(healthy_shared_cluster):
    cluster = healthy_shared_cluster
    secret = cluster.password.encode()
    groups = {c.proc.pid for p in cluster.pods for c in p.containers.values() if c.running()}
    seen = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) not in groups:
                continue
            with open("/proc/{}/cmdline".format(entry), "rb") as f:
                cmdline = f.read()
        except (OSError, ProcessLookupError):
            continue
        seen += 1
        assert secret not in cmdline, cmdline
    assert seen >= 4 * len(cluster.pods)  # start scripts and servers of both containers
    for pod in cluster.pods:
        for container in pod.containers.values():
            assert cluster.password not in container.log_text()
        for root, _, files in os.walk(os.path.join(pod.root, "volumes")):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    assert secret not in f.read()
        # The generated configurations hold it, readable by their owner only.
        for path in (os.path.join(pod.storage, "redis.conf"), sentinel_conf_path(pod)):
            assert os.stat(path).st_mode & 0o077 == 0


def test_probes_follow_the_processes(healthy_shared_cluster):
    cluster = healthy_shared_cluster
    master = wait_settled(cluster)
    pod = [p for p in cluster.pods if p is not master][0]
    assert pod.redis.probe("readiness") and pod.redis.probe("liveness")
    assert pod.sentinel.probe("readiness")
    # A replica that cannot sync from its live master (its link down: here a wrong masterauth)
    # answers PING, and is alive, but not ready: a rollout must not stop the next pod before this
    # one has synced.
    replica = pod.client()
    masterauth = replica.config_get("masterauth")["masterauth"]
    replica.config_set("masterauth", "not-the-password")
    try:
        replica.client_kill_filter(_type="master")
        wait_for(lambda: replica.info("replication")["master_link_status"] == "down", 10,
                 what="the link down")
        assert replica.ping()
        assert not pod.redis.probe("readiness")
        assert pod.redis.probe("liveness")
    finally:
        replica.config_set("masterauth", masterauth)
    wait_for(lambda: pod.redis.probe("readiness"), 60, what="readiness once the link is up")
    # A replica with no master to sync from waits for the sentinels, not for a sync: ready.
    _, master_host, master_port = replica.execute_command("ROLE")[:3]
    replica.execute_command("REPLICAOF", master.ip, 1)
    try:
        assert pod.redis.probe("readiness")
    finally:
        replica.execute_command("REPLICAOF", master_host, master_port)
    wait_for(lambda: replica.info("replication")["master_link_status"] == "up", 60,
             what="the link up again")
    assert master.redis.probe("readiness")  # a master is ready without any link
    pod.redis.kill_group(signal.SIGKILL)
    pod.redis.wait(10)
    assert not pod.redis.probe("readiness")
    assert not pod.redis.probe("liveness")
    assert pod.sentinel.probe("liveness")
    # Back as the kubelet would restart it, leaving the shared cluster healthy.
    pod.redis.start()
    wait_for(lambda: pod.redis.probe("readiness"), 60, what="readiness after restart")
    wait_settled(cluster)


def test_sigkill_of_the_master_promotes_a_replica_and_the_old_master_rejoins_as_replica(make_cluster):
    cluster = make_cluster(3)
    old = cluster.pods[0]
    wait_healthy(cluster, old)
    old.client().set("before", "kill")
    assert old.client().wait(2, 5000) == 2

    started = time.monotonic()
    old.redis.kill_group(signal.SIGKILL)
    old.redis.wait(10)
    new = wait_new_master(cluster, old, timeout=60)
    print("\nfailover after SIGKILL: {:.1f}s (down-after {} ms)".format(
        time.monotonic() - started, cluster.settings.down_after_ms))
    assert new.client().get("before") == "kill"

    old.redis.start()
    wait_for(lambda: old.client().info("replication").get("master_link_status") == "up", 60,
             what="old master replicating")
    assert old.client().info("replication")["role"] == "slave"
    wait_settled(cluster)
    assert old.client().get("before") == "kill"


def test_sigterm_to_the_master_fails_over_gracefully_without_losing_acknowledged_writes(make_cluster):
    cluster = make_cluster(3)
    old = cluster.pods[0]
    wait_healthy(cluster, old)

    acknowledged = []
    stop = threading.Event()
    errors = []

    def writer():
        master = old
        client = master.client()
        i = 0
        while not stop.is_set():
            try:
                client.set("key:{}".format(i), i)
                acknowledged.append(i)
                i += 1
            except (redis.RedisError, OSError) as e:
                errors.append(type(e).__name__)
                time.sleep(0.05)
                found = cluster.master_from_sentinels()
                if found is not None and found is not master and found.redis.running():
                    master = found
                    client = master.client()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    wait_for(lambda: len(acknowledged) > 200, 30, what="writes flowing")

    started = time.monotonic()
    old.redis.send(signal.SIGTERM)
    rc = old.redis.wait(60)
    stopped = time.monotonic() - started
    new = wait_new_master(cluster, old, timeout=30)
    count_at_switch = len(acknowledged)
    wait_for(lambda: len(acknowledged) > count_at_switch + 100, 30, what="writes on the new master")
    stop.set()
    thread.join(15)
    print("\ngraceful handover: redis container exited {:.1f}s after SIGTERM; {} writes acknowledged, "
          "{} client errors during the switch".format(stopped, len(acknowledged), len(errors)))

    assert rc == 0
    assert new is not old
    old.redis.start()
    wait_for(lambda: old.client().info("replication").get("master_link_status") == "up", 60,
             what="old master replicating")
    assert old.client().info("replication")["role"] == "slave"
    final = wait_settled(cluster)
    client = final.client()
    keys = ["key:{}".format(i) for i in acknowledged]
    values = []
    for start in range(0, len(keys), 1000):
        values.extend(client.mget(keys[start:start + 1000]))
    missing = [k for k, v in zip(keys, values) if v is None]
    assert missing == []


def test_a_master_that_comes_back_empty_does_not_overwrite_replicas_holding_data(make_cluster):
    cluster = make_cluster(3)
    old = cluster.pods[0]
    wait_healthy(cluster, old)
    old.client().set("precious", "data")
    assert old.client().wait(2, 5000) == 2

    old.redis.kill_group(signal.SIGKILL)
    old.redis.wait(10)
    old.wipe_storage()
    # Restarted at once: the sentinels still name it master, but it has nothing.
    old.redis.start()
    new = wait_new_master(cluster, old, timeout=60)
    wait_for(lambda: old.client().info("replication").get("master_link_status") == "up", 60,
             what="emptied pod replicating")
    assert old.client().info("replication")["role"] == "slave"
    settled = wait_settled(cluster)
    assert new.client().get("precious") == "data"
    for pod in cluster.pods:
        assert pod.client().get("precious") == "data", pod.name
    log = old.redis.log_text()
    assert "storage empty: replica-priority 0 until the first sync is done" in log
    wait_for(lambda: "first sync done: replica-priority 100" in old.redis.log_text(), 30,
             what="the emptied pod's priority released after its first sync")
    assert old.client().config_get("replica-priority") == {"replica-priority": "100"}
    assert settled is not None


def test_scale_down_and_up_with_topology_operations(make_cluster):
    cluster = make_cluster(3)
    wait_healthy(cluster, cluster.pods[0])
    s = cluster.settings
    name = cluster.app
    fqdns = [p.fqdn for p in cluster.pods]

    def sentinels():
        return [p.fqdn for p in cluster.pods]

    # Make the pod about to be removed the master, then move the role away as the leader would.
    assert failover_if_master(cluster.pods[2].fqdn, s.port, fqdns, s.sentinel_port, name,
                              cluster.password, connect=cluster.connect) is False
    assert failover_if_master(cluster.pods[0].fqdn, s.port, fqdns, s.sentinel_port, name,
                              cluster.password, timeout=30, connect=cluster.connect) is True
    # failover_if_master returns once one sentinel names another master; the others adopt the
    # new configuration from its hello messages, every 2 s.
    def named_master():
        named = observation.observe(fqdns, s, cluster.password, connect=cluster.connect).master
        return named and cluster.by_fqdn(named[0])

    wait_for(lambda: named_master() not in (None, cluster.pods[0]), 30,
             what="the sentinels' views following the failover away from pod 0")
    master = wait_settled(cluster)
    for _ in range(3):
        if master is not cluster.pods[2]:
            break
        assert failover_if_master(master.fqdn, s.port, fqdns, s.sentinel_port, name,
                                  cluster.password, timeout=30, connect=cluster.connect)
        master = wait_settled(cluster)
    assert master is not cluster.pods[2]

    cluster.remove_pod()
    remaining = sentinels()
    two = dataclasses.replace(s, unit_count=2)
    assert live.apply_settings(remaining, two, cluster.password, connect=cluster.connect) == []
    assert live.apply_settings(fqdns, two, cluster.password, connect=cluster.connect) != []
    # What the master watcher does when the leader's hook finds them stale.
    resets = {"port": s.sentinel_port, "password": cluster.password, "master_name": name,
              "sentinels": remaining}
    # In their reset order (the master's own pod's sentinel last), whatever the order asked.
    assert sorted(sentinel_reset.reset_in_turn(remaining, resets, timeout_s=30,
                                               connect=cluster.connect)) == sorted(remaining)
    for pod in cluster.pods:
        state = sentinel_state(pod, name)
        assert state["num-slaves"] == 1 and state["num-other-sentinels"] == 1 and state["quorum"] == 2
        assert pod.client().config_get("min-replicas-to-write")["min-replicas-to-write"] == "0"
        assert pod.client().config_get("repl-diskless-sync-max-replicas") == {
            "repl-diskless-sync-max-replicas": "1"}
    info = observation.replication_info(master.fqdn, s.port, cluster.password, connect=cluster.connect)
    assert info["connected_slaves"] == 1
    h = observation.observe(remaining, two, cluster.password, connect=cluster.connect).health()
    assert h.master == (master.fqdn, s.port) and h.ready == 2 and h.version.startswith("7.")

    # Scale up again: the same spec, a new pod joins as a replica of the current master.
    pod = cluster.add_pod()
    pod.start()
    wait_for(lambda: healthy(cluster, master), 60, what="new pod joined")


def test_deleting_the_master_pod_hands_over_and_every_container_exits_cleanly(make_cluster):
    cluster = make_cluster(3)
    old = cluster.pods[0]
    wait_healthy(cluster, old)
    old.client().set("survives", "yes")

    started = time.monotonic()
    statuses = old.terminate(timeout=60)
    print("\nmaster pod deleted: containers exited after {:.1f}s".format(time.monotonic() - started))
    assert statuses == {"redis": 0, "sentinel": 0}
    new = wait_new_master(cluster, old, timeout=30)
    assert new.client().get("survives") == "yes"

    replica = [p for p in cluster.pods if p is not old and p is not new][0]
    assert replica.terminate(timeout=30) == {"redis": 0, "sentinel": 0}


def test_a_restarted_sentinel_keeps_its_identity_and_follows_the_current_master(make_cluster):
    cluster = make_cluster(3)
    master = cluster.pods[0]
    wait_healthy(cluster, master)
    pod = cluster.pods[1]
    myid = pod.sentinel_client().execute_command("SENTINEL", "MYID")

    pod.sentinel.send(signal.SIGTERM)
    assert pod.sentinel.wait(30) == 0
    # The master moves while this sentinel is down: on restart it must follow the others.
    assert failover_if_master(master.fqdn, cluster.settings.port, [p.fqdn for p in cluster.pods],
                              cluster.settings.sentinel_port, cluster.app, cluster.password,
                              timeout=30, connect=cluster.connect)
    wait_new_master(cluster, master, timeout=30)
    pod.sentinel.start()
    wait_settled(cluster)
    assert pod.sentinel_client().execute_command("SENTINEL", "MYID") == myid
    for other in cluster.pods:
        assert sentinel_state(other, cluster.app)["num-other-sentinels"] == 2


def test_after_every_pod_restarts_at_once_the_data_survives_and_no_pod_bootstraps(make_cluster):
    # A realistic down-after: with 1 s the sentinels may fail over while the master's redis is
    # still starting, which is allowed (the replicas hold the data) but not what this test is about.
    cluster = make_cluster(3, down_after_milliseconds=3000)
    wait_healthy(cluster, cluster.pods[0])
    fqdns = [p.fqdn for p in cluster.pods]
    s = cluster.settings
    assert failover_if_master(cluster.pods[0].fqdn, s.port, fqdns, s.sentinel_port, cluster.app,
                              cluster.password, timeout=30, connect=cluster.connect)
    wait_new_master(cluster, cluster.pods[0], timeout=30)
    master = wait_settled(cluster)
    master.client().set("last", "words")
    assert master.client().wait(2, 5000) == 2

    # Every container killed at once (node loss), then all pods start again together: the
    # bootstrap rule (pod 0) must not apply, the sentinels' persisted state wins.
    for pod in cluster.pods:
        for container in pod.containers.values():
            container.kill_group(signal.SIGKILL)
            container.wait(10)
    log_sizes = {pod.name: len(pod.redis.log_text()) for pod in cluster.pods}
    cluster.start()
    wait_settled(cluster)
    for pod in cluster.pods:
        assert pod.client().get("last") == "words"
        restart_log = pod.redis.log_text()[log_sizes[pod.name]:]
        assert "bootstrap" not in restart_log
        assert "sentinels report" in restart_log


def test_without_any_sentinel_the_redis_containers_follow_their_pods_last_known_master(make_cluster):
    cluster = make_cluster(3)
    wait_healthy(cluster, cluster.pods[0])
    fqdns = [p.fqdn for p in cluster.pods]
    s = cluster.settings
    assert failover_if_master(cluster.pods[0].fqdn, s.port, fqdns, s.sentinel_port, cluster.app,
                              cluster.password, timeout=30, connect=cluster.connect)
    wait_new_master(cluster, cluster.pods[0], timeout=30)
    master = wait_settled(cluster)
    master.client().set("kept", "1")
    assert master.client().wait(2, 5000) == 2
    # Let every sentinel persist the new master before the crash.
    wait_for(lambda: all(persisted_master(p, cluster.app) == master.fqdn for p in cluster.pods),
             30, what="sentinel configurations rewritten")

    for pod in cluster.pods:
        for container in pod.containers.values():
            container.kill_group(signal.SIGKILL)
            container.wait(10)
    for pod in cluster.pods:
        pod.redis.start()
    # No sentinel runs: after waiting for them, each pod uses what its own sentinel last saw.
    wait_for(lambda: all(p.client().info("replication")["role"] == ("master" if p is master else "slave")
                         for p in cluster.pods), 60, what="roles from the persisted sentinel state")
    for pod in cluster.pods:
        pod.sentinel.start()
    wait_settled(cluster)
    for pod in cluster.pods:
        assert pod.client().get("kept") == "1"


def sentinel_conf_path(pod):
    """The sentinel's live configuration: in the pod's emptyDir (the storage is redis' only)."""
    return os.path.join(pod.root, "emptydir", "shared", "sentinel", "sentinel.conf")


def persisted_master(pod, app):
    with open(sentinel_conf_path(pod)) as f:
        for line in f:
            words = line.split()
            if words[:3] == ["sentinel", "monitor", app]:
                return words[3]
    return None


# Pod 0 refuses to start empty as master; the sentinels, restarted together, promote a replica,
# and pod 0 joins it as a replica with replica-priority 0 until its first sync is done: a sentinel
# that started late and fails over once more can never pick it while it is still empty (before the
# start script held its priority, that happened in 2 of 4 runs).
def test_a_master_that_lost_its_storage_in_a_full_restart_never_starts_empty_over_its_replicas(make_cluster):
    cluster = make_cluster(3)
    master = cluster.pods[0]
    wait_healthy(cluster, master)
    master.client().set("precious", "data")
    assert master.client().wait(2, 5000) == 2
    wait_for(lambda: all(persisted_master(p, cluster.app) == master.fqdn for p in cluster.pods),
             30, what="sentinel configurations persisted")

    for pod in cluster.pods:
        for container in pod.containers.values():
            container.kill_group(signal.SIGKILL)
            container.wait(10)
    master.wipe_storage()
    # Redis containers first, sentinels not yet running: nobody can tell pod 0 what happened.
    for pod in cluster.pods:
        pod.redis.start()
    assert master.redis.wait(60) == 1
    assert "refusing to start empty as master" in master.redis.log_text()

    for pod in cluster.pods:
        pod.sentinel.start()
    # The sentinels promote a replica that holds the data; pod 0 restarts (as the kubelet would)
    # until it can join as a replica.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        master.redis.start()
        try:
            master.redis.wait(20)
        except subprocess.TimeoutExpired:
            break  # still running: it found a master to replicate
        time.sleep(1)
    new = wait_settled(cluster)
    # Pod 0 refused to start empty (above); once it has replicated the promoted replica, the
    # sentinels may well make it master again later: what counts is that nobody lost the data.
    assert new.client().get("precious") == "data"
    for pod in cluster.pods:
        assert pod.client().get("precious") == "data", pod.name
    log = master.redis.log_text()
    assert "storage empty: replica-priority 0 until the first sync is done" in log
    wait_for(lambda: "first sync done: replica-priority 100" in master.redis.log_text(), 30,
             what="pod 0's priority released after its first sync")
    assert master.client().config_get("replica-priority") == {"replica-priority": "100"}


def test_password_rotation_is_live_keeps_probes_green_and_survives_a_failover_and_restarts(make_cluster):
    cluster = make_cluster(3)
    wait_healthy(cluster, cluster.pods[0])
    s = cluster.settings
    old_password, new_password = cluster.password, "N3w-Password-after-rotation"
    fqdns = [p.fqdn for p in cluster.pods]
    cluster.pods[0].client().set("before", "rotation")

    def probes_green():
        return all(pod.redis.probe("readiness") and pod.sentinel.probe("readiness") for pod in cluster.pods)

    # The leader's first step, in the hook that changes the Secret: both passwords are accepted,
    # replicas and sentinels use the new one. The pods' Secret files still hold the old one.
    assert live.rotate(fqdns, s, new_password, [old_password], retired_since=0, now=1,
                       connect=cluster.connect) is False
    assert probes_green()
    for pod in cluster.pods:
        for port in (s.port, s.sentinel_port):
            assert cluster.client(pod.ip, port, password=old_password).ping()
            assert cluster.client(pod.ip, port, password=new_password).ping()
        assert pod.client(password=new_password).config_get("masterauth")["masterauth"] == new_password
    # The kubelet syncs the file: nothing restarts, probes stay green.
    cluster.set_password(new_password)
    assert probes_green()
    # A container restarted meanwhile comes back with the new file and rejoins.
    replica = cluster.pods[2]
    replica.sentinel.kill_group(signal.SIGKILL)
    replica.sentinel.wait(10)
    replica.sentinel.start()
    wait_settled(cluster)
    # Later hooks: nothing is refused before the sync delay has passed; then the old one is.
    assert live.rotate(fqdns, s, new_password, [old_password], retired_since=0,
                       now=live.SECRET_SYNC_S - 1, connect=cluster.connect) is False
    assert cluster.client(cluster.pods[0].ip, s.port, password=old_password).ping()
    assert live.rotate(fqdns, s, new_password, [old_password], retired_since=0,
                       now=live.SECRET_SYNC_S, connect=cluster.connect) is True
    for pod in cluster.pods:
        assert refused(lambda: cluster.client(pod.ip, s.port, password=old_password).ping())
        assert refused(lambda: cluster.client(pod.ip, s.sentinel_port, password=old_password).ping())
        assert pod.client().ping() and pod.sentinel_client().ping()
    assert probes_green()
    assert live.rotate(fqdns, s, new_password, [old_password], 0, live.SECRET_SYNC_S,
                       connect=cluster.connect) is True

    # Sentinels still reach the redis and each other: a failover works with the new password.
    assert failover_if_master(cluster.pods[0].fqdn, s.port, fqdns, s.sentinel_port, cluster.app,
                              new_password, timeout=30, connect=cluster.connect)
    master = wait_settled(cluster)
    # A restarted pod reads the new password from the Secret's file and rejoins.
    pod = [p for p in cluster.pods if p is not master][0]
    pod.redis.kill_group(signal.SIGKILL)
    pod.redis.wait(10)
    pod.redis.start()
    wait_for(lambda: pod.client().info("replication").get("master_link_status") == "up", 60,
             what="restarted pod replicating")
    wait_settled(cluster)
    assert pod.client().get("before") == "rotation"
    assert probes_green()
    # The failover made the sentinels CONFIG REWRITE the redis configurations: still private.
    for p in cluster.pods:
        assert os.stat(os.path.join(p.storage, "redis.conf")).st_mode & 0o077 == 0, p.name


def test_options_apply_live_on_every_redis_and_sentinel_and_stay_after_a_restart(make_cluster):
    cluster = make_cluster(3)
    master = cluster.pods[0]
    wait_healthy(cluster, master)
    fqdns = [p.fqdn for p in cluster.pods]
    changed = settings_mod.parse(dict(FAST, **{
        "maxmemory": "64mb", "maxmemory-policy": "allkeys-lru", "appendonly": False,
        "min-replicas-to-write": 2, "min-replicas-max-lag": 3, "down-after-milliseconds": 1500,
        "failover-timeout": 7000}), 3, app_name=cluster.app)
    assert live.apply_settings(fqdns, changed, cluster.password, connect=cluster.connect) == []
    for pod in cluster.pods:
        got = pod.client().config_get("*")
        assert {k: got[k] for k in live.redis_settings(changed)} == live.redis_settings(changed)
        assert got["maxmemory"] == str(64 * 1024 * 1024)
        state = sentinel_state(pod, cluster.app)
        assert (state["down-after-milliseconds"], state["failover-timeout"], state["quorum"]) == (1500, 7000, 2)
    # Nothing left to do; an unreachable pod is reported, to be retried.
    assert live.apply_settings(fqdns, changed, cluster.password, connect=cluster.connect) == []
    replica = cluster.pods[1]
    replica.redis.kill_group(signal.SIGKILL)
    replica.redis.wait(10)
    assert live.apply_settings(fqdns, changed, cluster.password, connect=cluster.connect) == [
        (replica.fqdn, changed.port)]
    # Restarted with the old ConfigMap files (the kubelet had not synced them): the next pass
    # puts it right.
    replica.redis.start()
    wait_for(lambda: replica.client().ping(), 60, what="replica back")
    assert replica.client().config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    assert live.apply_settings(fqdns, changed, cluster.password, connect=cluster.connect) == []
    assert replica.client().config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"


def test_a_recreated_pod_without_its_sentinel_state_rejoins_under_the_current_master(make_cluster):
    # The sentinel's state is in the pod's emptyDir: a pod deleted and created again starts with
    # a new sentinel identity; the others replace its old entry and the pod follows the master.
    cluster = make_cluster(3)
    master = cluster.pods[0]
    wait_healthy(cluster, master)
    master.client().set("kept", "yes")
    pod = cluster.pods[2]
    assert pod.terminate(timeout=60) == {"redis": 0, "sentinel": 0}
    assert not os.path.exists(os.path.join(pod.storage, "sentinel"))  # nothing of sentinel's on storage
    pod.recreate()
    pod.start()
    wait_healthy(cluster, master)
    assert pod.client().get("kept") == "yes"
    for other in cluster.pods:
        assert sentinel_state(other, cluster.app)["num-other-sentinels"] == 2
