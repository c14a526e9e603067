import pytest

from redis_k8s import relation


def test_payload_has_every_key_as_strings():
    data = relation.payload("r-1.r-endpoints.m.svc.cluster.local", 6379, "pw12345678",
                            ["r-0.x", "r-1.x", "r-2.x"], 26379, "r")
    assert data == {
        "host": "r-1.r-endpoints.m.svc.cluster.local",
        "hostname": "r-1.r-endpoints.m.svc.cluster.local",
        "port": "6379",
        "password": "pw12345678",
        "sentinel-hosts": "r-0.x,r-1.x,r-2.x",
        "sentinel-port": "26379",
        "master-name": "r",
    }
    assert all(isinstance(v, str) for v in data.values())


def test_payload_needs_a_master():
    with pytest.raises(ValueError):
        relation.payload("", 6379, "pw", [], 26379, "r")
