"""The pod network: pods' connections leave from their own address, partitions cut a pod off
from the other pods (both ways) while clients that are not pods still reach it, and a deleted
pod's address answers nothing."""

import json
import socket
import threading

import pytest

from conftest import ask, deploy_echo
from localmodel.runtime import network

# Runs in a pod's container (the lm-echo image has python3): OK when a connection to
# ADDRESS:PORT is accepted within 2 s, else FAIL.
CONNECT = ("import socket, sys\n"
           "try:\n"
           "    socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close()\n"
           "    print('OK')\n"
           "except OSError:\n"
           "    print('FAIL')\n")


def reaches(model, pod, address, port=7000):
    rc, out, err = model.exec(pod, ["/usr/bin/python3", "-c", CONNECT, address, str(port)])
    assert rc == 0, err
    return out.strip() == "OK"


def table_of(model):
    """The model's nftables table (named from the model's uuid, in its state)."""
    with open(model.paths.state) as f:
        return network.table_name(json.load(f)["model"]["uuid"])


def test_a_pods_connections_leave_from_its_own_address(model):
    """In a Kubernetes pod a connection's source is the pod's IP, never 127.0.0.1."""
    deploy_echo(model)
    subnet = model.status()["model"]["subnet"]
    listener = socket.socket()
    listener.bind(("%s.250.1" % subnet, 0))
    listener.listen(1)
    listener.settimeout(10)
    seen = []

    def accept():
        conn, peer = listener.accept()
        seen.append(peer[0])
        conn.close()
    t = threading.Thread(target=accept)
    t.start()
    try:
        assert reaches(model, "echo-0", "%s.250.1" % subnet, listener.getsockname()[1])
        t.join(10)
    finally:
        listener.close()
    assert seen == [model.pod_address("echo-0")]


def test_partition_cuts_a_pod_off_from_the_other_pods_only(make_model):
    model = make_model()
    deploy_echo(model, n=3)
    a, b, c = (model.pod_address("echo-%d" % i) for i in range(3))
    assert reaches(model, "echo-1", a) and reaches(model, "echo-0", b)

    model.partition("echo-0")
    assert model.status()["model"]["partitions"] == ["echo-0"]
    # Both directions between the partitioned pod and every other pod are dropped...
    assert not reaches(model, "echo-1", a)
    assert not reaches(model, "echo-0", b)
    assert not reaches(model, "echo-0", c)
    # ...while the pod still reaches itself, the others each other, and clients that are not
    # pods (the host, 127.0.0.1) the partitioned pod.
    assert reaches(model, "echo-0", a)
    assert reaches(model, "echo-1", c)
    assert ask(a, "PING") == ["PONG echo-0"]
    # To the kubelet the pod stays Running and Ready (its probes run in the pod, against its
    # own address), so its Service keeps it as an endpoint.
    pod = model.status()["pods"]["echo-0"]
    assert pod["phase"] == "Running" and pod["ready"]
    service = model.service_address("echo")
    assert "PONG echo-0" in {ask(service, "PING")[0] for _ in range(6)}

    # A second model's rules are its own: its partition and its `down` leave ours in place.
    other = make_model()
    deploy_echo(other, n=2)
    other.partition("echo-1")
    assert not reaches(other, "echo-0", other.pod_address("echo-1"))
    assert reaches(model, "echo-1", c)
    theirs = table_of(other)
    other.down()
    assert not network.exists(theirs)
    assert not reaches(model, "echo-1", a)
    assert reaches(model, "echo-1", c)

    model.heal("echo-0")
    assert model.status()["model"]["partitions"] == []
    assert reaches(model, "echo-1", a) and reaches(model, "echo-0", b)

    ours = table_of(model)
    assert network.exists(ours)
    model.down()
    assert not network.exists(ours)


def test_a_deleted_pods_address_times_out_instead_of_refusing(model):
    """fidelity.md: connections to a deleted pod's address time out (no RST): nothing routes to
    it any more. Where nothing ever was, the loopback still refuses at once."""
    deploy_echo(model)
    old = model.pod_address("echo-0")
    model.delete_pod("echo-0")
    model.wait_for(lambda s: s["pods"].get("echo-0", {}).get("ready")
                   and s["pods"]["echo-0"]["address"] != old, timeout=60)
    with pytest.raises(TimeoutError):
        socket.create_connection((old, 7000), 1.5).close()
    socket.create_connection((model.pod_address("echo-0"), 7000), 5).close()
    subnet = model.status()["model"]["subnet"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("%s.250.250" % subnet, 7000), 5).close()
