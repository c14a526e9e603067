"""The cluster domain the charm learns in the operator reaches the pods' scripts."""

from redis_k8s import naming, podspec, settings


def test_the_pod_spec_carries_the_cluster_domain_to_both_containers():
    parsed = settings.parse({"password": "Sup3r-Secret-Pw"}, 3)
    spec = podspec.render("redis-k8s", "prod", {"registry_path": "redis:7.0"}, parsed,
                          naming.secret_name("redis-k8s"), domain="k8s.test")
    for container in spec.spec["containers"]:
        # the scripts name every pod $APP_NAME-<n>.$PEER_DOMAIN and themselves $POD_NAME.$PEER_DOMAIN
        assert container["envConfig"]["PEER_DOMAIN"] == "redis-k8s-endpoints.prod.svc.k8s.test"
    assert "cluster.local" not in spec.text()
