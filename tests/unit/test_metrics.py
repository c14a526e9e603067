import json

from redis_k8s import metrics


def test_two_jobs_with_fixed_names_wildcard_targets_at_metrics_port_and_a_component_label():
    jobs = metrics.scrape_jobs(9121)
    assert [j["job_name"] for j in jobs] == ["redis", "sentinel"]
    for job, component in zip(jobs, ("redis", "sentinel")):
        assert job["static_configs"] == [{"targets": ["*:9121"],
                                          "labels": {"redis_k8s_component": component}}]
    assert jobs[0]["metrics_path"] == "/metrics" and "relabel_configs" not in jobs[0]


def test_the_sentinel_job_asks_the_exporter_for_its_pods_sentinel_socket_by_relabelling():
    sentinel = metrics.scrape_jobs(9300)[1]
    assert sentinel["metrics_path"] == "/scrape"
    assert "params" not in sentinel  # dropped by the canonical library: not in its ALLOWED_KEYS
    (relabel,) = sentinel["relabel_configs"]
    assert relabel["source_labels"] == ["__address__"]
    assert relabel["target_label"] == "__param_target"
    # Prometheus' relabelling, applied to what the consumer expands "*:9300" to.
    import re
    address = "10.1.2.3:9300"
    assert re.fullmatch(relabel["regex"], address)
    # The socket in the exporter's own pod, whatever the TLS mode or the sentinel port.
    assert relabel["replacement"] == "unix:///run/redis-k8s/sentinel.sock"


def test_the_only_job_keys_are_those_the_canonical_library_keeps():
    allowed = {"job_name", "metrics_path", "static_configs", "scrape_interval", "scrape_timeout",
               "proxy_url", "relabel_configs", "metrics_relabel_configs", "sample_limit",
               "label_limit", "label_name_length_limit", "label_value_lenght_limit"}
    for job in metrics.scrape_jobs(9121):
        assert set(job) <= allowed


def test_app_data_is_json_text():
    data = metrics.scrape_app_data(9121, "prod", "uuid-1", "redis-k8s", "redis-k8s")
    assert json.loads(data["scrape_jobs"]) == metrics.scrape_jobs(9121)
    assert json.loads(data["scrape_metadata"]) == {"model": "prod", "model_uuid": "uuid-1",
                                                   "application": "redis-k8s",
                                                   "charm_name": "redis-k8s"}


def test_unit_data_names_the_pod_address_and_the_unit():
    assert metrics.scrape_unit_data("10.1.2.3", "redis-k8s/4") == {
        "prometheus_scrape_unit_address": "10.1.2.3", "prometheus_scrape_unit_name": "redis-k8s/4"}


def test_plain_prometheus_unit_data():
    data = metrics.prometheus_unit_data("10.1.2.3", 9121, "redis-k8s/4", "redis-k8s")
    assert {k: v for k, v in data.items() if k != "labels"} == {
        "hostname": "10.1.2.3", "port": "9121", "metrics_path": "/metrics"}
    assert json.loads(data["labels"]) == {"host": "redis-k8s-4", "juju_unit": "redis-k8s/4",
                                          "juju_application": "redis-k8s",
                                          "redis_k8s_component": "redis"}
