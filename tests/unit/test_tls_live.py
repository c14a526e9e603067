"""live.py's TLS switch and certificate reload, and connection's per-host fallback, against real
redis-server 7.0 processes on 127.42.0.x (a master and its replica, plain at first)."""

import datetime
import os

import pytest
import redis

from redis_k8s import certificates, connection, live, settings
from tls_tools import start_plain_redis, stop, wait_for, write

HOSTS = ["127.42.0.1", "127.42.0.2"]
PORT = 27301
POD = "127"  # naming.pod_name_of("127.42.0.x"): both servers read the same files
NOW = datetime.datetime.now(datetime.timezone.utc)


def issue(ca, ca_key):
    return certificates.issue(ca, ca_key, "pod", ["localhost"], HOSTS, 30, now=NOW)


@pytest.fixture(scope="module")
def material():
    ca, ca_key = certificates.new_ca("test CA", 30, now=NOW)
    return ca, ca_key, issue(ca, ca_key), issue(ca, ca_key)


@pytest.fixture
def cluster(tmp_path, material):
    ca, _, (cert, key), _ = material
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    write(tls_dir, "ca.pem", ca)
    write(tls_dir, POD + ".pem", cert)
    write(tls_dir, POD + ".key", key)
    master = start_plain_redis(tmp_path, HOSTS[0], PORT)
    replica_dir = tmp_path / "replica"
    replica_dir.mkdir()
    replica = start_plain_redis(replica_dir, HOSTS[1], PORT, ["--replicaof", HOSTS[0], str(PORT)])
    connection._modes.clear()
    connection._served.clear()
    connection.configure_tls(connection.Tls(enabled=True, ca=str(tls_dir / "ca.pem")))
    yield tls_dir
    connection.configure_tls(None)
    stop(replica)
    stop(master)


def wanted(tls_dir, cert, enabled=True):
    return live.TlsWanted(enabled=enabled, auth_clients="optional", non_tls_port=0,
                          directory=str(tls_dir), served={POD: certificates.fingerprint(cert)})


SETTINGS = settings.parse({"port": PORT, "sentinel-port": PORT + 1, "enable-tls": True}, 2, app_name="t")


def apply(tls, done=None):
    return [m for m in live.apply_settings(HOSTS, SETTINGS, None, tls=tls, tls_done=done)
            if m[1] == PORT]


def client(host, **extra):
    return connection.default_connect(host, PORT, None)


def test_a_plain_master_and_replica_switched_to_tls_keep_replicating_and_refuse_plain(cluster, material):
    cert = material[2][0]
    assert apply(wanted(cluster, cert)) == []  # the switch: one CONFIG SET each
    assert [connection.speaks_tls(h, PORT) for h in HOSTS] == [False, False]
    done = []
    assert apply(wanted(cluster, cert), done) == []  # reached over TLS now, in the wanted state
    assert [connection.speaks_tls(h, PORT) for h in HOSTS] == [True, True]
    assert [connection.served_fingerprint(h, PORT) for h in HOSTS] == [certificates.fingerprint(cert)] * 2
    assert done == HOSTS
    master = client(HOSTS[0])
    master.set("k", "after the switch")
    wait_for(lambda: client(HOSTS[1]).get("k") == "after the switch")
    assert master.config_get("port")["port"] == "0" and master.config_get("tls-port")["tls-port"] == str(PORT)
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host=HOSTS[0], port=PORT, socket_timeout=2).ping()
    # and off again: plain serves, replication goes on
    assert apply(wanted(cluster, cert, enabled=False)) == []
    assert apply(wanted(cluster, cert, enabled=False)) == []
    assert [connection.speaks_tls(h, PORT) for h in HOSTS] == [False, False]
    redis.Redis(host=HOSTS[0], port=PORT).set("k", "plain again")
    wait_for(lambda: redis.Redis(host=HOSTS[1], port=PORT, decode_responses=True).get("k") == "plain again")


def test_a_changed_certificate_is_reloaded_and_served(cluster, material):
    cert, new = material[2][0], material[3]
    apply(wanted(cluster, cert))
    apply(wanted(cluster, cert))
    write(cluster, POD + ".pem", new[0])
    write(cluster, POD + ".key", new[1])
    done = []
    assert apply(wanted(cluster, new[0]), done) == []  # told to re-read the files
    assert done == []
    connection._served.clear()
    done = []
    assert apply(wanted(cluster, new[0]), done) == []
    assert [connection.served_fingerprint(h, PORT) for h in HOSTS] == [certificates.fingerprint(new[0])] * 2
    assert done == HOSTS


def test_the_switch_fails_while_the_pod_lacks_its_files_and_nothing_changes(cluster, material):
    os.unlink(str(cluster / (POD + ".key")))
    assert apply(wanted(cluster, material[2][0])) == [(h, PORT) for h in HOSTS]
    assert [connection.speaks_tls(h, PORT) for h in HOSTS] == [False, False]
    assert redis.Redis(host=HOSTS[0], port=PORT).ping()


def test_tls_switch_arguments_are_in_the_contracts_order():
    tls = live.TlsWanted(True, "yes", 6380, "/d", {})
    assert live.tls_switch({"port": "6379", "tls-port": "0"}, tls, 6379, "r-0") == [
        "tls-cert-file", "/d/r-0.pem", "tls-key-file", "/d/r-0.key", "tls-ca-cert-file", "/d/ca.pem",
        "tls-auth-clients", "yes", "tls-replication", "yes", "port", "6380", "tls-port", "6379"]
    off = tls._replace(enabled=False)
    assert live.tls_switch({"port": "6380", "tls-port": "6379", "tls-replication": "yes"}, off, 6379, "r-0") == [
        "tls-port", "0", "port", "6379", "tls-replication", "no"]
    assert live.tls_switch({"port": "6379", "tls-port": "0", "tls-replication": "no"}, off, 6379, "r-0") == []
    assert live.tls_switch({"port": "6379"}, off, 6379, "r-0") == []


def test_the_modes_seen_are_kept_across_processes_as_text_keys():
    connection._modes.clear()
    try:
        connection.remember_modes({"r-0.x:6379": True, "r-1.x:26379": False, "junk": True})
        assert connection.modes() == {"r-0.x:6379": True, "r-1.x:26379": False}
        assert connection.speaks_tls("r-0.x", 6379) is True
    finally:
        connection._modes.clear()


def test_over_tls_a_refused_password_is_skipped_for_the_next_candidate(cluster, material):
    cert = material[2][0]
    apply(wanted(cluster, cert))
    client(HOSTS[0]).config_set("requirepass", "the-new-password-1")
    logged_in = live._login(None, HOSTS[0], PORT, ["an-old-password-1", "the-new-password-1"])
    try:
        assert logged_in is not None and connection.speaks_tls(HOSTS[0], PORT) is True
        assert logged_in.ping()
    finally:
        logged_in.close()


def test_a_client_without_socket_timeout_still_falls_back_from_a_tls_handshake_with_a_plain_server(
        cluster):
    # The watcher's subscribers read with no socket timeout; the handshake must still end.
    import threading
    opened = []
    opener = threading.Thread(target=lambda: opened.append(connection.client(
        HOSTS[0], PORT, None, timeout=None, connect_timeout=1, decode=False)), daemon=True)
    opener.start()
    opener.join(30)
    assert opened, "the handshake with a plain server never ended"
    subscriber = opened[0]
    try:
        assert connection.speaks_tls(HOSTS[0], PORT) is False
        assert subscriber.connection_pool.connection_kwargs["socket_timeout"] is None
        pubsub = subscriber.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe("events")
        redis.Redis(host=HOSTS[0], port=PORT).publish("events", "hello")
        wait_for(lambda: (pubsub.get_message(timeout=1.0) or {}).get("data") == b"hello")
        pubsub.close()
    finally:
        subscriber.close()
