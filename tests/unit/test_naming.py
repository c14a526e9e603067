import pytest

from redis_k8s import naming


def test_pod_names_and_fqdns():
    assert naming.pod_name("redis-k8s", 2) == "redis-k8s-2"
    assert naming.pod_fqdn("redis-k8s", "prod", 0) == "redis-k8s-0.redis-k8s-endpoints.prod.svc.cluster.local"
    assert naming.all_pod_fqdns("r", "m", 3) == [
        "r-0.r-endpoints.m.svc.cluster.local",
        "r-1.r-endpoints.m.svc.cluster.local",
        "r-2.r-endpoints.m.svc.cluster.local",
    ]
    assert naming.all_pod_fqdns("r", "m", 0) == []
    assert naming.bootstrap_master("r", "m") == naming.pod_fqdn("r", "m", 0)


def test_ordinal_of_pod_names_and_fqdns():
    assert naming.ordinal_of("redis-k8s", "redis-k8s-12") == 12
    assert naming.ordinal_of("redis-k8s", naming.pod_fqdn("redis-k8s", "m", 3)) == 3
    for bad in ("other-1", "redis-k8s-", "redis-k8s-x", "redis-k8s"):
        with pytest.raises(ValueError):
            naming.ordinal_of("redis-k8s", bad)


def test_negative_ordinal_is_rejected():
    with pytest.raises(ValueError):
        naming.pod_name("r", -1)


def test_master_and_secret_names():
    assert naming.master_name("redis-k8s") == "redis-k8s"
    assert naming.secret_name("redis-k8s") == "redis-k8s-auth"
    assert naming.peer_domain("a", "b") == "a-endpoints.b.svc.cluster.local"


def test_pod_name_of_an_fqdn():
    assert naming.pod_name_of(naming.pod_fqdn("r", "m", 4)) == "r-4"
    assert naming.pod_name_of("r-0") == "r-0"
