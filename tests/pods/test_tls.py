"""TLS in the pods (issue 12): the rendered scripts with the TLS Secret, as real processes.

One 3-pod cluster for the module, started with TLS on (client certificates demanded, a plain
port beside TLS), material from ``redis_k8s.certificates`` as the leader makes it. The tests
run in order on it: serving, the exporter's sockets, a graceful stop, then a live switch off
and on again done by hand the way the charm does it (the Secret, ``CONFIG SET`` on every redis,
``SHUTDOWN`` of every sentinel, which its container restarts).
"""

import os
import shutil
import signal
import stat
import subprocess
import threading
import time
import urllib.request

import pytest
import redis

from checks import wait_healthy, wait_new_master, wait_settled
from harness import wait_for
from redis_k8s import certificates, naming, tls_env

PLAIN_PORT = 16390  # non-tls-port: plain TCP beside TLS
EXPORTER = "/usr/bin/prometheus-redis-exporter"
EXPORTER_PORT = 19121


class _Fields:
    def __init__(self, **fields):
        self.__dict__.update(fields)


@pytest.fixture(scope="module")
def material():
    """A CA and a certificate per pod, made as the leader makes them (names as in the contract)."""
    app, model = "redis-k8s", "pods"
    ca_cert, ca_key = certificates.new_ca("redis-k8s test CA", 30)
    pairs = {}
    for n in range(3):
        pod = naming.pod_name(app, n)
        fqdn = naming.pod_fqdn(app, model, n)
        pairs[pod] = certificates.issue(ca_cert, ca_key, pod, [fqdn, "localhost"], ["127.0.0.1"], 10)
    return _Fields(ca=ca_cert, ca_key=ca_key, pairs=pairs)


def tls_fields(tls):
    return {"tls": tls, "tls_auth_clients": "yes", "non_tls_port": PLAIN_PORT}


def secret_on(material):
    return tls_env.secret_data(_Fields(**tls_fields(True)), material.ca, material.pairs)


def secret_off(material=None):
    """tls.env says no; with ``material``, the files are kept (the first step of switching off)."""
    if material is None:
        return tls_env.secret_data(_Fields(**tls_fields(False)))
    return tls_env.secret_data(_Fields(**tls_fields(False)), material.ca, material.pairs, keep_material=True)


def client_files(cluster, material):
    """The CA and pod 0's pair as files of the harness's own (the Secret's go away with TLS off)."""
    directory = os.path.join(cluster.root, "client-tls")
    os.makedirs(directory, exist_ok=True)
    cert, key = material.pairs["redis-k8s-0"]
    for name, text in (("ca.pem", material.ca), ("cert.pem", cert), ("key.pem", key)):
        with open(os.path.join(directory, name), "w") as f:
            f.write(text)
    return {"ssl": True, "ssl_ca_certs": os.path.join(directory, "ca.pem"),
            "ssl_certfile": os.path.join(directory, "cert.pem"), "ssl_keyfile": os.path.join(directory, "key.pem"),
            "ssl_check_hostname": False}


def use_tls_clients(cluster, on):
    """The harness's own clients: TLS with pod 0's certificate (client certificates are
    demanded), or plain. Host names are not checked: the harness connects by address."""
    cluster.client_tls = cluster.tls_client_options if on else None


@pytest.fixture(scope="module")
def tls_cluster(request, material):
    import conftest
    factory = conftest.Factory()
    failed = []
    request.addfinalizer(lambda: factory.finish(bool(failed)))
    cluster = factory(3, settings_fields=tls_fields(True), tls_data=secret_on(material),
                      down_after_milliseconds=2000)
    cluster.tls_client_options = client_files(cluster, material)
    use_tls_clients(cluster, True)
    cluster.failed_tests = failed
    return cluster


@pytest.fixture
def cluster(tls_cluster, request):
    yield tls_cluster
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        tls_cluster.failed_tests.append(request.node.name)


def plain_ping(ip, port, password):
    """PING without TLS: True, or the exception that refused it."""
    client = redis.Redis(host=ip, port=port, password=password, socket_timeout=3, socket_connect_timeout=2)
    try:
        return client.ping()
    except (redis.RedisError, OSError) as e:
        return e
    finally:
        client.close()


def all_probes_pass(cluster, label=None):
    started = time.monotonic()
    passed = all(pod.redis.probe("readiness") and pod.redis.probe("liveness") and pod.sentinel.probe("readiness")
                 for pod in cluster.pods)
    if label:
        print("\n{}: 3 probes x {} pods took {:.1f}s".format(label, len(cluster.pods), time.monotonic() - started))
    return passed


def test_a_tls_trio_serves_only_tls_replicates_and_its_sentinels_agree_over_tls(cluster):
    master = cluster.pods[0]
    wait_healthy(cluster, master)
    for pod in cluster.pods:
        config = pod.client().config_get("*")
        assert (config["tls-port"], config["port"], config["tls-replication"], config["tls-auth-clients"]) == (
            str(cluster.settings.port), str(PLAIN_PORT), "yes", "yes")
        # Plain TCP on the port is refused, and so is TLS without a client certificate.
        assert plain_ping(pod.ip, cluster.settings.port, cluster.password) is not True
        assert plain_ping(pod.ip, cluster.settings.sentinel_port, cluster.password) is not True
        no_cert = cluster.client(pod.ip, cluster.settings.port, ssl=True, ssl_check_hostname=False,
                                 ssl_ca_certs=cluster.tls_client_options["ssl_ca_certs"])
        with pytest.raises((redis.ConnectionError, OSError)):
            no_cert.ping()
    # The replicas' links and the sentinels' (to redis and to each other) are up: wait_healthy
    # saw every replica linked and every sentinel with its two peers, all TLS-only.
    assert all_probes_pass(cluster)
    for pod in cluster.pods:
        sentinel = pod.sentinel_client().info("server")
        assert sentinel["redis_mode"] == "sentinel"


def test_non_tls_port_serves_plain_beside_tls_on_redis_only(cluster):
    for pod in cluster.pods:
        assert plain_ping(pod.ip, PLAIN_PORT, cluster.password) is True
    master = cluster.master_from_sentinels()
    master.client().set("through-tls", "1")
    plain = redis.Redis(host=master.ip, port=PLAIN_PORT, password=cluster.password, decode_responses=True)
    assert plain.get("through-tls") == "1"
    plain.close()


def test_the_exporter_reads_redis_and_sentinel_through_their_unix_sockets(cluster):
    pod = cluster.pods[1]
    shared = os.path.join(pod.root, "emptydir", "shared")
    sockets = {name: os.path.join(shared, name) for name in ("redis.sock", "sentinel.sock")}
    for path in sockets.values():
        mode = os.stat(path).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o777  # the exporter runs as uid 59000
    assert shutil.which(EXPORTER), "scripts/setup.sh installs prometheus-redis-exporter"
    log = open(os.path.join(pod.root, "exporter.log"), "wb")
    exporter = subprocess.Popen(
        [EXPORTER, "--web.listen-address={}:{}".format(pod.ip, EXPORTER_PORT),
         "--redis.addr=unix://" + sockets["redis.sock"], "--redis-only-metrics", "--connection-timeout=3s"],
        env={"REDIS_PASSWORD": cluster.password}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        def get(path):
            with urllib.request.urlopen("http://{}:{}{}".format(pod.ip, EXPORTER_PORT, path), timeout=10) as r:
                return r.read().decode()

        redis_metrics = wait_for(lambda: get("/metrics"), 20, what="the exporter answering")
        assert "\nredis_up 1\n" in redis_metrics
        assert "\nredis_connected_slaves 0\n" in redis_metrics  # pod 1: a replica
        sentinel_metrics = get("/scrape?target=unix://" + sockets["sentinel.sock"])
        assert "\nredis_up 1\n" in sentinel_metrics
        assert "\nredis_sentinel_masters 1\n" in sentinel_metrics
    finally:
        os.killpg(exporter.pid, signal.SIGKILL)
        exporter.wait(10)


def test_a_graceful_stop_of_the_master_under_tls_hands_over_without_losing_a_write(cluster):
    old = cluster.master_from_sentinels()
    wait_healthy(cluster, old)
    acknowledged = []
    stop = threading.Event()

    def writer():
        master = old
        client = master.client()
        i = 0
        while not stop.is_set():
            try:
                client.set("tls-key:{}".format(i), i)
                acknowledged.append(i)
                i += 1
            except (redis.RedisError, OSError):
                time.sleep(0.05)
                found = cluster.master_from_sentinels()
                if found is not None and found is not master and found.redis.running():
                    master = found
                    client = master.client()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    wait_for(lambda: len(acknowledged) > 100, 30, what="writes flowing")
    statuses = old.terminate(timeout=60)
    new = wait_new_master(cluster, old, timeout=30)
    count = len(acknowledged)
    wait_for(lambda: len(acknowledged) > count + 50, 30, what="writes on the new master")
    stop.set()
    thread.join(15)
    assert statuses == {"redis": 0, "sentinel": 0}
    # The stop script handed over through TLS only (plain is refused on the port).
    assert "new master" in old.redis.log_text()
    keys = ["tls-key:{}".format(i) for i in acknowledged]
    values = new.client().mget(keys)
    assert [k for k, v in zip(keys, values) if v is None] == []
    old.start()
    wait_healthy(cluster, new)


def test_backup_and_restore_under_tls_the_temporary_server_serves_tls_to_the_master(cluster):
    from test_backup_actions import dataset, run_action
    master = wait_settled(cluster)
    replica = next(p for p in cluster.pods if p is not master)
    master.client().flushall()
    master.client().mset({"a": "1", "b": "2"})
    wait_for(lambda: dataset(replica) == {"a": "1", "b": "2"}, 30, what="the replica in sync")
    taken = run_action(replica, "backup.sh")
    assert taken.failed is None, taken.output
    master.client().set("a", "changed")
    outcome = run_action(replica, "restore.sh", name=taken.results["name"])
    assert outcome.failed is None, outcome.output
    for pod in cluster.pods:
        assert dataset(pod) == {"a": "1", "b": "2"}, pod.name
    wait_healthy(cluster, master, timeout=60)


def restart_sentinels(cluster, was_tls, now_tls):
    """What the charm does to change a sentinel's TLS mode: SHUTDOWN, one at a time; the
    container restarts it (here the harness, as the kubelet does) in the mode tls.env says."""
    for pod in cluster.pods:
        use_tls_clients(cluster, was_tls)
        try:
            pod.sentinel_client().execute_command("SHUTDOWN")
        except (redis.ConnectionError, OSError):
            pass  # the connection closes as it exits
        assert pod.sentinel.wait(30) == 0
        pod.sentinel.start()
        use_tls_clients(cluster, now_tls)
        wait_for(lambda: pod.sentinel_client().ping(), 60, what="{} sentinel back".format(pod.name))


def test_a_live_switch_off_then_on_keeps_the_master_and_the_probes_green(cluster, material):
    master = wait_settled(cluster)
    port = cluster.settings.port
    myids = {pod.name: pod.sentinel_client().execute_command("SENTINEL", "MYID") for pod in cluster.pods}

    # Off. The Secret first: tls.env says no while every server still serves TLS only (the
    # files stay until every server is plain): the scripts' calls fail plain, then retry with TLS.
    cluster.set_tls_secret(secret_off(material))
    assert all_probes_pass(cluster, "tls.env no, servers TLS (plain, then TLS)")
    for pod in cluster.pods:
        reply = pod.client().execute_command("CONFIG", "SET", "tls-port", "0", "port", str(port),
                                             "tls-replication", "no")
        assert reply in ("OK", True)
    for pod in cluster.pods:
        assert plain_ping(pod.ip, port, cluster.password) is True
    restart_sentinels(cluster, True, False)
    assert wait_settled(cluster) is master
    wait_healthy(cluster, master)
    # Every server plain: the material goes.
    cluster.set_tls_secret(secret_off())
    assert sorted(os.listdir(os.path.dirname(cluster.tls_file("tls.env")))) == ["tls.env"]
    assert all_probes_pass(cluster)
    for pod in cluster.pods:
        assert pod.sentinel_client().execute_command("SENTINEL", "MYID") == myids[pod.name]

    # On again. The Secret first: tls.env says yes while every server is plain: the scripts'
    # TLS calls fail, then retry plain.
    cluster.set_tls_secret(secret_on(material))
    assert all_probes_pass(cluster, "tls.env yes, servers plain (TLS times out, then plain)")
    for pod in cluster.pods:
        reply = pod.client().execute_command(
            "CONFIG", "SET", "tls-cert-file", "/etc/redis-k8s-tls/{}.pem".format(pod.name),
            "tls-key-file", "/etc/redis-k8s-tls/{}.key".format(pod.name),
            "tls-ca-cert-file", "/etc/redis-k8s-tls/ca.pem", "tls-auth-clients", "yes",
            "tls-replication", "yes", "port", str(PLAIN_PORT), "tls-port", str(port))
        assert reply in ("OK", True)
    restart_sentinels(cluster, False, True)
    assert wait_settled(cluster) is master
    wait_healthy(cluster, master)
    assert all_probes_pass(cluster, "tls.env yes, servers TLS")
    for pod in cluster.pods:
        assert plain_ping(pod.ip, port, cluster.password) is not True
        assert plain_ping(pod.ip, cluster.settings.sentinel_port, cluster.password) is not True
        assert pod.sentinel_client().execute_command("SENTINEL", "MYID") == myids[pod.name]


def test_a_pod_started_before_its_files_reach_it_waits_for_them_then_joins_over_tls(cluster, material):
    master = wait_settled(cluster)
    pod = cluster.add_pod()  # a scale-up: the Secret has no pair for the new pod yet
    pod.start()
    wait_for(lambda: all("is missing: waiting for them" in c.log_text() for c in (pod.redis, pod.sentinel)),
             30, what="both containers waiting for the pod's files")
    # Nothing served plain meanwhile; not ready, but alive (its role is not chosen yet).
    assert plain_ping(pod.ip, cluster.settings.port, cluster.password) is not True
    assert plain_ping(pod.ip, PLAIN_PORT, cluster.password) is not True
    assert not pod.redis.probe("readiness") and pod.redis.probe("liveness")
    # The leader issues its certificate; the Secret reaches the pod.
    fqdn = naming.pod_fqdn(cluster.app, cluster.model, pod.ordinal)
    pair = certificates.issue(material.ca, material.ca_key, pod.name, [fqdn], [], 10)
    pairs = dict(material.pairs, **{pod.name: pair})
    cluster.set_tls_secret(tls_env.secret_data(_Fields(**tls_fields(True)), material.ca, pairs))
    wait_healthy(cluster, master, timeout=120)
    assert "this pod's TLS files are here" in pod.redis.log_text()
    assert pod.client().config_get("tls-replication")["tls-replication"] == "yes"
