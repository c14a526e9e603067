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


def test_fqdn_helpers_take_the_cluster_domain():
    assert naming.peer_domain("a", "m", "k8s.test") == "a-endpoints.m.svc.k8s.test"
    assert naming.pod_fqdn("r", "m", 1, "k8s.test") == "r-1.r-endpoints.m.svc.k8s.test"
    assert naming.all_pod_fqdns("r", "m", 2, "k8s.test") == [
        "r-0.r-endpoints.m.svc.k8s.test", "r-1.r-endpoints.m.svc.k8s.test"]


KUBELET_RESOLV = """search prod.svc.k8s.test svc.k8s.test k8s.test
nameserver 10.152.183.10
options ndots:5
"""


@pytest.mark.parametrize("text, model, expected", [
    (KUBELET_RESOLV, "prod", "k8s.test"),
    # a multi-label domain, and a model whose name also reads like a label of it
    ("search svc.svc.a.b.c svc.a.b.c a.b.c\n", "svc", "a.b.c"),
    # another namespace's pod: the svc.<domain> entry still names the domain
    ("search other.svc.cluster.example svc.cluster.example cluster.example\n", "prod",
     "cluster.example"),
    # the last search line counts, as in the resolver; trailing dots are absolute names
    ("search prod.svc.old.example\nsearch prod.svc.new.example. svc.new.example.\n", "prod",
     "new.example"),
    # nothing to learn from: Kubernetes' default
    ("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", "prod", "cluster.local"),
    ("", "prod", "cluster.local"),
    ("search example.com\n", "prod", "cluster.local"),
    ("search prod.svc. svc.\n", "prod", "cluster.local"),
])
def test_cluster_domain_from_resolv_conf(text, model, expected):
    assert naming.cluster_domain(text, model) == expected


def test_the_pod_at_an_address_is_found_by_resolving_the_pods_names():
    names = {"r-0.r-endpoints.m.svc.cluster.local": "10.1.0.7",
             "r-2.r-endpoints.m.svc.cluster.local": "10.1.0.9"}

    def resolve(name):
        if name not in names:
            raise OSError("no such host")
        return names[name]

    fqdns = ["r-{}.r-endpoints.m.svc.cluster.local".format(n) for n in range(3)]
    assert naming.pod_at_address("10.1.0.9", fqdns, resolve) == "r-2"
    assert naming.pod_at_address("10.1.0.8", fqdns, resolve) is None


def test_the_tls_secret_is_named_after_the_application():
    assert naming.tls_secret_name("redis-k8s") == "redis-k8s-tls"
