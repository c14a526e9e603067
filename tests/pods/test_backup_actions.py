"""The backup and restore scripts (templates/backup.sh, restore.sh) on real pods of the harness.

An action runs as Juju runs it on a podspec charm: in the pod's `redis` container (its mounts and
environment), here with stand-in `action-get`/`action-set`/`action-fail`/`action-log` tools that
read the parameters from, and write the outcome to, a directory of the test. These cover what the
functional test cannot set up on the local model: a second master, a replica down, a master that
cannot load the backup in time; and they time a restore of a larger dataset.
"""

import os
import subprocess
import time

import pytest

from checks import wait_healthy
from harness import wait_for

TOOLS = {
    "action-get": 'sed -n "s/^$1=//p" "$ACTION_DIR/params"\n',
    "action-set": 'for kv in "$@"; do echo "$kv" >> "$ACTION_DIR/results"; done\n',
    "action-fail": 'echo "$*" > "$ACTION_DIR/failed"\n',
    "action-log": 'echo "$*" >> "$ACTION_DIR/log"\n',
}


class Outcome:
    def __init__(self, directory, returncode, output):
        self.returncode = returncode
        self.output = output
        self.failed = self._read(directory, "failed").strip() or None
        self.results = dict(line.split("=", 1) for line in self._read(directory, "results").splitlines())

    @staticmethod
    def _read(directory, name):
        path = os.path.join(directory, name)
        return open(path).read() if os.path.exists(path) else ""


def run_action(pod, script, **params):
    """Run ``/etc/redis-k8s/<script>`` in the pod's redis container with ``params``."""
    directory = os.path.join(pod.root, "action-{}".format(time.monotonic_ns()))
    tools = os.path.join(directory, "bin")
    os.makedirs(tools)
    for name, body in TOOLS.items():
        with open(os.path.join(tools, name), "w") as handle:
            handle.write("#!/bin/sh\n" + body)
        os.chmod(os.path.join(tools, name), 0o755)
    with open(os.path.join(directory, "params"), "w") as handle:
        handle.writelines("{}={}\n".format(k, v) for k, v in params.items())
    env = pod.redis.env()
    env.update(PATH=tools + ":" + env["PATH"], ACTION_DIR=directory)
    command = pod.redis.namespace_script(["/bin/sh", "/etc/redis-k8s/" + script])
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", command],
                          env=env, capture_output=True, text=True, timeout=600)
    outcome = Outcome(directory, proc.returncode, proc.stdout + proc.stderr)
    # A script ends with status 0 whether it succeeded or action-fail'ed (never a bare exit).
    assert outcome.returncode == 0, outcome.output
    return outcome


def master_and_replicas(cluster):
    """Pod 0 (the first master) once the cluster is healthy, and the other pods."""
    master = cluster.pods[0]
    wait_healthy(cluster, master)
    return master, cluster.pods[1:]


def dataset(pod):
    client = pod.client()
    return {key: client.get(key) for key in client.keys("*")}


def config_epoch(pod, cluster):
    reply = pod.sentinel_client().execute_command("SENTINEL", "MASTER", cluster.settings.master_name)
    return int(dict(zip(reply[::2], reply[1::2]))["config-epoch"])


def test_backup_refuses_a_pod_acting_as_second_master(make_cluster):
    cluster = make_cluster(3)
    master, replicas = master_and_replicas(cluster)
    stray = replicas[0]
    # A split brain the sentinels have not settled yet: this pod's snapshot is not the dataset.
    stray.client().execute_command("REPLICAOF", "NO", "ONE")
    outcome = run_action(stray, "backup.sh")
    assert outcome.failed and "acts as master but the sentinels name" in outcome.failed
    assert master.name in outcome.failed
    assert not os.path.exists(os.path.join(stray.storage, "backups")) or \
        not [f for f in os.listdir(os.path.join(stray.storage, "backups")) if f.endswith(".rdb")]


def test_restore_refuses_while_a_replica_is_down_and_changes_nothing(make_cluster):
    cluster = make_cluster(3)
    master, replicas = master_and_replicas(cluster)
    master.client().set("k", "before")
    taken = run_action(master, "backup.sh")
    assert taken.failed is None, taken.output
    master.client().set("k", "after")
    replicas[1].redis.stop()
    outcome = run_action(replicas[0], "restore.sh", name=taken.results["name"])
    assert outcome.failed and "no backup named" in outcome.failed  # the backup is on the master's storage
    outcome = run_action(master, "restore.sh", name=taken.results["name"])
    assert outcome.failed and replicas[1].name in outcome.failed and "nothing was changed" in outcome.failed
    assert master.client().get("k") == "after"


def test_restore_undoes_the_switch_when_the_master_cannot_load_the_backup_in_time(make_cluster):
    cluster = make_cluster(3)
    master, replicas = master_and_replicas(cluster)
    epoch = config_epoch(master, cluster)
    master.client().set("k", "before")
    taken = run_action(replicas[0], "backup.sh")
    assert taken.failed is None, taken.output
    master.client().set("k", "after")
    wait_for(lambda: all(r.client().get("k") == "after" for r in replicas), 10, what="replication")
    # The master cannot authenticate to the temporary server: its link never comes up.
    master.client().config_set("masterauth", "not-the-password")
    started = time.monotonic()
    outcome = run_action(replicas[0], "restore.sh", name=taken.results["name"])
    elapsed = time.monotonic() - started
    master.client().config_set("masterauth", cluster.password)
    assert outcome.failed and "did not load the backup within" in outcome.failed, outcome.output
    print("restore gave up after {:.1f} s".format(elapsed))
    # Master again, with its data, writes accepted; the sentinels never failed it over.
    assert master.client().execute_command("ROLE")[0] == "master"
    assert master.client().set("k2", "v")
    wait_for(lambda: all(dataset(r) == dataset(master) for r in replicas), 20, what="replicas in line")
    assert master.client().get("k") == "after"
    wait_healthy(cluster, master, timeout=30)
    assert {config_epoch(p, cluster) for p in cluster.pods} == {epoch}


@pytest.mark.parametrize("keys", [200000])
def test_restore_of_a_larger_dataset_keeps_the_master_and_every_replica_follows(make_cluster, keys):
    cluster = make_cluster(3, appendonly=True)
    master, replicas = master_and_replicas(cluster)
    epoch = config_epoch(master, cluster)
    client = master.client()
    pipe = client.pipeline(transaction=False)
    for i in range(keys):
        pipe.set("key:{}".format(i), "v" * 100)
        if i % 10000 == 9999:
            pipe.execute()
    pipe.execute()
    client.execute_command("WAIT", 2, 10000)
    started = time.monotonic()
    taken = run_action(replicas[1], "backup.sh", path="big")
    print("backup of {} keys ({} bytes) took {:.1f} s".format(keys, taken.results.get("size"),
                                                                time.monotonic() - started))
    assert taken.failed is None, taken.output
    assert taken.results["keys"] == str(keys)
    client.flushall()
    client.set("only-after", "x")
    started = time.monotonic()
    outcome = run_action(replicas[1], "restore.sh", name=taken.results["name"])
    print("restore of {} keys took {:.1f} s, the master refused writes for {} ms".format(
        keys, time.monotonic() - started, outcome.results.get("readonly-ms")))
    assert outcome.failed is None, outcome.output
    for pod in cluster.pods:
        assert pod.client().dbsize() == keys, pod.name
        assert pod.client().get("only-after") is None
    # The AOF matches: a restart of a replica from its own storage has the restored dataset.
    replicas[0].redis.stop()
    replicas[0].redis.start()
    wait_for(lambda: replicas[0].client().dbsize() == keys, 60, what="the restarted replica's data")
    wait_healthy(cluster, master, timeout=60)
    assert {config_epoch(p, cluster) for p in cluster.pods} == {epoch}
    # The temporary server is gone, and so is its directory.
    assert not [d for d in os.listdir(replicas[1].storage) if d.startswith(".restore")]


def test_restore_run_on_the_masters_own_unit(make_cluster):
    # The temporary server then shares the master's pod: the master replicates from its own address.
    cluster = make_cluster(3)
    master, replicas = master_and_replicas(cluster)
    epoch = config_epoch(master, cluster)
    master.client().mset({"a": "1", "b": "2"})
    taken = run_action(master, "backup.sh")
    assert taken.failed is None, taken.output
    master.client().set("a", "changed")
    master.client().set("c", "3")
    outcome = run_action(master, "restore.sh", name=taken.results["name"])
    assert outcome.failed is None, outcome.output
    assert outcome.results["master"] == master.name
    for pod in cluster.pods:
        assert dataset(pod) == {"a": "1", "b": "2"}, pod.name
    wait_healthy(cluster, master, timeout=30)
    assert {config_epoch(p, cluster) for p in cluster.pods} == {epoch}
