import os

import yaml

from redis_k8s import naming, podspec, settings, templating

PASSWORD = "Sup3r-Secret-Pw"
IMAGE = {"registry_path": "registry.example/redis:7.0", "username": "puller", "password": "registry-pw"}
CONTAINER_KEYS = {"name", "imageDetails", "imagePullPolicy", "command", "args", "workingDir", "ports",
                  "envConfig", "volumeConfig", "kubernetes"}


def render(units=3, grace_s=None, **options):
    s = settings.parse(dict(options, password=PASSWORD), units)
    return podspec.render("redis-k8s", "prod", IMAGE, s, naming.secret_name("redis-k8s"),
                          grace_s=grace_s)


def grace_of(spec):
    return spec.k8s_resources["kubernetesResources"]["pod"]["terminationGracePeriodSeconds"]


def containers(spec):
    return {c["name"]: c for c in spec.spec["containers"]}


def test_version_3_with_redis_and_sentinel_containers():
    spec = render()
    assert spec.spec["version"] == 3
    c = containers(spec)
    assert set(c) == {"redis", "sentinel"}
    for container in c.values():
        assert set(container) <= CONTAINER_KEYS
        assert container["imageDetails"] == {"imagePath": "registry.example/redis:7.0", "username": "puller",
                                             "password": "registry-pw"}
    assert c["redis"]["command"] == ["/bin/sh", "/etc/redis-k8s/redis-start.sh"]
    assert c["sentinel"]["command"] == ["/bin/sh", "/etc/redis-k8s/sentinel-start.sh"]


def test_image_info_object_is_accepted():
    class Info:
        registry_path = "r/redis:7"
        username = ""
        password = ""
    s = settings.parse({}, 1)
    spec = podspec.render("a", "m", Info(), s, "a-auth")
    assert spec.spec["containers"][0]["imageDetails"]["imagePath"] == "r/redis:7"


def test_the_password_appears_nowhere_in_the_spec_or_its_configmap_files():
    spec = render()
    assert PASSWORD not in spec.text()
    assert PASSWORD not in yaml.safe_dump(spec.spec) + yaml.safe_dump(spec.k8s_resources)
    for container in spec.spec["containers"]:
        for volume in container["volumeConfig"]:
            for f in volume.get("files", []):
                assert PASSWORD not in f["content"]


def test_the_password_is_a_file_of_the_secret_volume_not_env_read_once_at_start():
    for container in render().spec["containers"]:
        volumes = {v["name"]: v for v in container["volumeConfig"]}
        assert volumes["auth"] == {"name": "auth", "mountPath": "/etc/redis-k8s-auth",
                                   "secret": {"name": "redis-k8s-auth", "defaultMode": 0o400}}
        assert not any(isinstance(v, dict) and "secret" in v for v in container["envConfig"].values())
    assert podspec.template_context("redis-k8s", settings.parse({}, 3))["password_file"] == \
        "/etc/redis-k8s-auth/password"


def test_both_containers_share_an_empty_dir_and_redis_comes_first_for_the_storage():
    c = render().spec["containers"]
    assert [x["name"] for x in c] == ["redis", "sentinel"]  # Juju mounts storage in container 0
    for container in c:
        volumes = {v["name"]: v for v in container["volumeConfig"]}
        assert volumes["shared"] == {"name": "shared", "mountPath": "/run/redis-k8s", "emptyDir": {}}
        assert not any(v["mountPath"].startswith("/var/lib/redis") for v in volumes.values())


def test_with_secret_adds_the_secret_without_touching_the_spec():
    spec = render()
    merged = podspec.with_secret(spec.k8s_resources, "redis-k8s-auth", PASSWORD)
    secrets = merged["kubernetesResources"]["secrets"]
    assert secrets == [{"name": "redis-k8s-auth", "type": "Opaque", "stringData": {"password": PASSWORD}}]
    assert "secrets" not in spec.k8s_resources["kubernetesResources"]
    again = podspec.with_secret(merged, "redis-k8s-auth", "Other-Pw-123")
    assert len(again["kubernetesResources"]["secrets"]) == 1


def test_environment():
    env = containers(render())["redis"]["envConfig"]
    assert env["POD_IP"] == {"field": {"path": "status.podIP", "api-version": "v1"}}
    assert env["POD_NAME"] == {"field": {"path": "metadata.name", "api-version": "v1"}}
    assert env["APP_NAME"] == "redis-k8s" and env["MODEL_NAME"] == "prod"
    assert env["PEER_DOMAIN"] == "redis-k8s-endpoints.prod.svc.cluster.local"
    assert env["MASTER_NAME"] == "redis-k8s"
    assert (env["REDIS_PORT"], env["SENTINEL_PORT"]) == ("6379", "26379")
    for value in env.values():
        assert isinstance(value, (str, dict))


def test_ports_follow_config():
    c = containers(render(port=7000, **{"sentinel-port": 27000}))
    assert c["redis"]["ports"] == [{"name": "redis", "containerPort": 7000, "protocol": "TCP"}]
    assert c["sentinel"]["ports"] == [{"name": "sentinel", "containerPort": 27000, "protocol": "TCP"}]
    assert c["redis"]["envConfig"]["REDIS_PORT"] == "7000"
    assert c["sentinel"]["envConfig"]["SENTINEL_PORT"] == "27000"
    sentinel_conf = [f for v in c["sentinel"]["volumeConfig"] for f in v.get("files", []) if f["path"] == "sentinel.conf"]
    assert "port 27000" in sentinel_conf[0]["content"]


def test_spec_does_not_depend_on_the_unit_count():
    texts = {render(units).text() for units in (0, 1, 2, 3, 5, 9)}
    assert len(texts) == 1
    assert render(1).digest() == render(7).digest()


def test_spec_changes_with_config():
    assert render().digest() != render(**{"down-after-milliseconds": 1000}).digest()


def template(spec):
    """What Kubernetes compares to decide a roll: the pod template (no ConfigMap contents)."""
    containers = []
    for c in spec.spec["containers"]:
        c = dict(c, volumeConfig=[{k: v for k, v in vol.items() if k != "files"} for vol in c["volumeConfig"]])
        containers.append(c)
    return containers, spec.k8s_resources["kubernetesResources"]["pod"]


LIVE_CHANGES = {"down-after-milliseconds": 1000, "failover-timeout": 60000, "min-replicas-to-write": 2,
                "min-replicas-max-lag": 3, "appendonly": False, "maxmemory": "64mb",
                "maxmemory-policy": "allkeys-lru"}


def test_options_applied_live_leave_the_pod_template_alone_ports_change_it():
    base = template(render())
    for option, value in LIVE_CHANGES.items():
        assert template(render(**{option: value})) == base, option
    assert template(render(port=7000)) != base
    assert template(render(**{"sentinel-port": 27000})) != base
    # The pods keep the grace period of the first spec: a later spec carries that one.
    first = grace_of(render())
    assert template(render(grace_s=first, **{"failover-timeout": 80000})) == base


def test_the_template_carries_a_digest_of_the_raw_template_sources(tmp_path, monkeypatch):
    env = containers(render())["redis"]["envConfig"]
    assert env["REDIS_K8S_SOURCES"] == podspec.sources_digest()
    assert containers(render(maxmemory="1gb"))["redis"]["envConfig"]["REDIS_K8S_SOURCES"] == env["REDIS_K8S_SOURCES"]
    for name in os.listdir(templating.TEMPLATES_DIR):
        (tmp_path / name).write_bytes(open(os.path.join(templating.TEMPLATES_DIR, name), "rb").read())
    monkeypatch.setattr(templating, "TEMPLATES_DIR", str(tmp_path))
    assert podspec.sources_digest() == env["REDIS_K8S_SOURCES"]
    with open(tmp_path / "redis-stop.sh", "a") as handle:
        handle.write("# an upgrade\n")
    assert podspec.sources_digest() != env["REDIS_K8S_SOURCES"]


def test_grace_period_steps():
    assert [podspec.grace_period(n) for n in (1, 60, 61, 121, 300)] == [60, 60, 120, 240, 480]


def test_the_first_spec_chooses_the_grace_period_and_later_ones_carry_it():
    assert grace_of(render()) == 120  # the default failover-timeout's stop needs 65 s
    assert grace_of(render(**{"failover-timeout": 200000})) == 240
    assert grace_of(render(grace_s=120, **{"failover-timeout": 1000})) == 120


def test_a_stop_that_would_outlast_the_pods_grace_period_is_refused_naming_the_fix():
    fits = settings.parse({"failover-timeout": 85000}, 3)
    podspec.check_stop_fits(fits, 120)  # 85 + 35 s: just fits
    podspec.check_stop_fits(fits, None)  # no spec sent yet: the first one will fit it
    too_long = settings.parse({"failover-timeout": 86000}, 3)
    try:
        podspec.check_stop_fits(too_long, 120)
    except settings.ConfigError as error:
        message = str(error)
    else:
        raise AssertionError("a stop of 121 s was accepted in a grace period of 120 s")
    assert message == ("failover-timeout: 86000 needs pods that may take 121 s to stop; these pods "
                       "were created with 120 s, which Juju keeps for the application's life: "
                       "set failover-timeout to 85000 or less")
    # The value it names fits.
    podspec.check_stop_fits(settings.parse({"failover-timeout": 85000}, 3), 120)


def test_volumes_and_mount_paths():
    c = containers(render())
    redis_volumes = {v["name"]: v for v in c["redis"]["volumeConfig"]}
    sentinel_volumes = {v["name"]: v for v in c["sentinel"]["volumeConfig"]}
    assert redis_volumes["redis-k8s-scripts"]["mountPath"] == "/etc/redis-k8s"
    assert sentinel_volumes["sentinel-scripts"]["mountPath"] == "/etc/redis-k8s"
    assert sentinel_volumes["sentinel-conf"]["mountPath"] == "/etc/redis-sentinel"
    assert {f["path"] for f in redis_volumes["redis-k8s-scripts"]["files"]} == set(podspec.REDIS_FILES)
    assert {f["path"] for f in sentinel_volumes["sentinel-conf"]["files"]} == {"sentinel.conf",
                                                                              "sentinel-master.conf"}
    # Juju makes one ConfigMap per files volume: names must be unique across containers.
    names = [v["name"] for container in c.values() for v in container["volumeConfig"] if "files" in v]
    assert len(names) == len(set(names))
    for volume in redis_volumes.values():
        if "files" not in volume:
            continue
        assert set(volume) == {"name", "mountPath", "files"}
        for f in volume["files"]:
            assert set(f) == {"path", "content"}


def test_probes():
    c = containers(render())
    k = c["redis"]["kubernetes"]
    assert k["readinessProbe"]["exec"]["command"] == ["/bin/sh", "/etc/redis-k8s/probe-redis.sh", "readiness"]
    assert k["livenessProbe"]["exec"]["command"] == ["/bin/sh", "/etc/redis-k8s/probe-redis.sh", "liveness"]
    assert k["livenessProbe"]["failureThreshold"] > k["readinessProbe"]["failureThreshold"]
    assert k["readinessProbe"]["timeoutSeconds"] > podspec.CLI_TIMEOUT_S
    s = c["sentinel"]["kubernetes"]
    assert s["readinessProbe"]["exec"]["command"] == ["/bin/sh", "/etc/redis-k8s/probe-sentinel.sh"]
    assert "livenessProbe" in s


def test_grace_period_covers_the_graceful_failover():
    for timeout_ms in (1000, 30000, 180000):
        spec = render(**{"failover-timeout": timeout_ms})
        grace = spec.k8s_resources["kubernetesResources"]["pod"]["terminationGracePeriodSeconds"]
        t = podspec.timings(settings.parse({"failover-timeout": timeout_ms}, 3))
        assert grace * 1000 > timeout_ms
        # Catch-up, two asks (the sentinels may give the first failover up), the new master.
        assert grace > 3 * t["catch_up_wait_s"] + t["failover_wait_s"] + podspec.SHUTDOWN_TIMEOUT_S
        assert t["pause_ms"] > (3 * t["catch_up_wait_s"] + t["failover_wait_s"]) * 1000


def test_spec_is_plain_yaml():
    spec = render()
    assert yaml.safe_load(spec.text())["version"] == 3


def test_with_secret_keeps_the_other_resources_and_replaces_by_name():
    base = {"kubernetesResources": {"pod": {"terminationGracePeriodSeconds": 60},
                                    "secrets": [{"name": "other", "type": "Opaque", "stringData": {}}]}}
    merged = podspec.with_secret(base, "s", "p1")
    merged = podspec.with_secret(merged, "s", "p2")
    assert merged["kubernetesResources"]["pod"] == {"terminationGracePeriodSeconds": 60}
    assert merged["kubernetesResources"]["secrets"] == [
        {"name": "other", "type": "Opaque", "stringData": {}},
        {"name": "s", "type": "Opaque", "stringData": {"password": "p2"}}]
    assert len(base["kubernetesResources"]["secrets"]) == 1


EXPORTER_IMAGE = {"registry_path": "registry.example/oliver006/redis_exporter:v1.45.0",
                  "username": "", "password": ""}


def render_with_exporter(units=3, **options):
    s = settings.parse(dict(options, password=PASSWORD), units)
    return podspec.render("redis-k8s", "prod", IMAGE, s, naming.secret_name("redis-k8s"),
                          exporter_image=EXPORTER_IMAGE)


def test_the_exporter_is_a_third_container_after_redis_which_keeps_the_storage():
    c = render_with_exporter().spec["containers"]
    assert [x["name"] for x in c] == ["redis", "sentinel", "redis-exporter"]
    exporter = c[2]
    assert set(exporter) <= CONTAINER_KEYS
    assert exporter["imageDetails"]["imagePath"] == "registry.example/oliver006/redis_exporter:v1.45.0"
    # The upstream image has no shell: the binary itself, configured by arguments.
    assert exporter["command"] == ["/redis_exporter"]
    # Only the pod's shared emptyDir (the sockets): neither the password nor the TLS Secret.
    assert exporter["volumeConfig"] == [{"name": "shared", "mountPath": "/run/redis-k8s", "emptyDir": {}}]


def test_the_exporter_listens_on_the_pod_address_at_metrics_port_and_reads_the_pods_redis():
    exporter = containers(render_with_exporter(**{"metrics-port": 9200, "port": 6380}))["redis-exporter"]
    assert "--web.listen-address=$(POD_IP):9200" in exporter["args"]
    # The redis socket in the shared emptyDir, whatever the TLS mode and the redis port.
    assert "--redis.addr=unix:///run/redis-k8s/redis.sock" in exporter["args"]
    assert not any("6380" in arg or "tls" in arg for arg in exporter["args"])
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9200, "protocol": "TCP"}]
    assert exporter["envConfig"]["POD_IP"] == {"field": {"path": "status.podIP", "api-version": "v1"}}
    assert exporter["kubernetes"]["livenessProbe"]["httpGet"] == {"path": "/health", "port": 9200}
    assert "readinessProbe" not in exporter["kubernetes"]  # pod readiness is redis', not the exporter's


def test_the_exporter_logs_in_as_the_metrics_user_with_its_secret_key_by_reference():
    spec = render_with_exporter()
    exporter = containers(spec)["redis-exporter"]
    # Its own user, whose password never rotates: a change of the main password (applied live,
    # no container restart) never reaches the password the exporter read when it started.
    assert exporter["envConfig"]["REDIS_USER"] == "redis-k8s-metrics"
    assert exporter["envConfig"]["REDIS_PASSWORD"] == {
        "secret": {"name": "redis-k8s-auth", "key": "metrics-password"}}
    assert not any("password" in arg or "user" in arg for arg in exporter["args"])
    assert PASSWORD not in spec.text()


def test_the_exporter_does_not_ask_config_get_which_would_answer_the_main_password():
    exporter = containers(render_with_exporter())["redis-exporter"]
    # It sends "<config-command> GET *": INFO answers unknown sections with nothing, no error.
    assert "--config-command=INFO" in exporter["args"]


def test_the_secret_carries_the_metrics_password_under_its_own_key():
    merged = podspec.with_secret({}, "redis-k8s-auth", PASSWORD, "Metrics-Pw-0123")
    assert merged["kubernetesResources"]["secrets"] == [{
        "name": "redis-k8s-auth", "type": "Opaque",
        "stringData": {"password": PASSWORD, "metrics-password": "Metrics-Pw-0123"}}]


def test_the_metrics_user_is_created_at_start_from_the_secret_file_by_its_digest():
    files = podspec.volume_files("redis-k8s", settings.parse({}, 3))
    lib = files[podspec.REDIS_SCRIPTS_VOLUME]["lib.sh"]
    assert 'METRICS_PASSWORD_FILE="/etc/redis-k8s-auth/metrics-password"' in lib
    assert 'echo "user redis-k8s-metrics reset on #$_digest $1"' in lib
    redis_start = files[podspec.REDIS_SCRIPTS_VOLUME]["redis-start.sh"]
    assert ('metrics_user_line "-@all +info +ping +client|setname +slowlog|get +slowlog|len '
            '+latency|latest"') in redis_start
    sentinel_start = files[podspec.SENTINEL_SCRIPTS_VOLUME]["sentinel-start.sh"]
    assert ('metrics_user_line "-@all +info +ping +client|setname +sentinel|masters '
            '+sentinel|sentinels +sentinel|slaves +sentinel|ckquorum"') in sentinel_start


def test_metrics_port_changes_the_template_the_exporter_image_too():
    assert render_with_exporter().digest() != render_with_exporter(**{"metrics-port": 9200}).digest()
    other = podspec.render("redis-k8s", "prod", IMAGE, settings.parse({}, 3), "redis-k8s-auth",
                           exporter_image=dict(EXPORTER_IMAGE, registry_path="r/redis_exporter:v1.46.0"))
    assert other.digest() != podspec.render("redis-k8s", "prod", IMAGE, settings.parse({}, 3),
                                            "redis-k8s-auth", exporter_image=EXPORTER_IMAGE).digest()


def test_with_tls_secret_replaces_the_secret_of_that_name_as_opaque_string_data():
    base = {"kubernetesResources": {"secrets": [{"name": "r-auth", "type": "Opaque", "stringData": {"p": "x"}},
                                                {"name": "r-tls", "type": "Opaque", "stringData": {"old": "1"}}]}}
    merged = podspec.with_tls_secret(base, "r-tls", {"tls.env": "TLS_ENABLED=no\n"})
    assert merged["kubernetesResources"]["secrets"] == [
        {"name": "r-auth", "type": "Opaque", "stringData": {"p": "x"}},
        {"name": "r-tls", "type": "Opaque", "stringData": {"tls.env": "TLS_ENABLED=no\n"}}]
    assert base["kubernetesResources"]["secrets"][1]["stringData"] == {"old": "1"}


# TLS (issue 12): the Secret is always mounted, the mode and material live only in it.

class _TLSSettings:
    """Settings with the TLS fields the charm side adds (``settings.Settings`` may lack them)."""

    def __init__(self, parsed, **fields):
        self._parsed = parsed
        self.__dict__.update(fields)

    def __getattr__(self, name):
        return getattr(self._parsed, name)


def render_tls(tls, non_tls_port=0, auth_clients="optional", **options):
    s = _TLSSettings(settings.parse(dict(options, password=PASSWORD), 3), tls=tls,
                     non_tls_port=non_tls_port, tls_auth_clients=auth_clients)
    return podspec.render("redis-k8s", "prod", IMAGE, s, naming.secret_name("redis-k8s"),
                          exporter_image=EXPORTER_IMAGE), s


def test_the_tls_secret_is_mounted_read_only_in_redis_and_sentinel_whatever_the_mode():
    for tls in (False, True):
        c = containers(render_tls(tls)[0])
        for name in ("redis", "sentinel"):
            volumes = {v["name"]: v for v in c[name]["volumeConfig"]}
            assert volumes["tls"] == {"name": "tls", "mountPath": "/etc/redis-k8s-tls",
                                      "secret": {"name": "redis-k8s-tls", "defaultMode": 0o400}}
        assert "tls" not in {v["name"] for v in c["redis-exporter"]["volumeConfig"]}


def test_the_tls_secret_name_can_be_given():
    s = settings.parse({"password": PASSWORD}, 3)
    spec = podspec.render("redis-k8s", "prod", IMAGE, s, "a", tls_secret_name="other-tls")
    volumes = {v["name"]: v for v in containers(spec)["redis"]["volumeConfig"]}
    assert volumes["tls"]["secret"]["name"] == "other-tls"
    assert naming.tls_secret_name("cache") == "cache-tls"


def test_switching_tls_or_its_client_auth_leaves_the_whole_spec_alone():
    plain, _ = render_tls(False)
    on, _ = render_tls(True)
    demanding, _ = render_tls(True, auth_clients="yes")
    assert plain.spec == on.spec == demanding.spec
    assert plain.k8s_resources == on.k8s_resources


def test_non_tls_port_is_a_second_redis_port_only_when_set():
    with_plain, _ = render_tls(True, non_tls_port=6380)
    assert containers(with_plain)["redis"]["ports"] == [
        {"name": "redis", "containerPort": 6379, "protocol": "TCP"},
        {"name": "redis-non-tls", "containerPort": 6380, "protocol": "TCP"}]
    assert [p["name"] for p in containers(with_plain)["sentinel"]["ports"]] == ["sentinel"]
    without, _ = render_tls(True)
    assert [p["name"] for p in containers(without)["redis"]["ports"]] == ["redis"]
    # A port name is an IANA_SVC_NAME: at most 15 characters.
    assert all(len(p["name"]) <= 15 for p in containers(with_plain)["redis"]["ports"])
    # Declaring it rolls the pods, as a port change does.
    assert template(with_plain) != template(without)


def test_with_tls_secret_merges_the_secret_beside_the_password_one():
    from redis_k8s import tls_env
    spec, s = render_tls(False)
    merged = podspec.with_secret(spec.k8s_resources, "redis-k8s-auth", PASSWORD)
    merged = podspec.with_tls_secret(merged, "redis-k8s-tls", tls_env.tls_secret_data_off(s))
    secrets = {x["name"]: x for x in merged["kubernetesResources"]["secrets"]}
    assert set(secrets) == {"redis-k8s-auth", "redis-k8s-tls"}
    assert secrets["redis-k8s-tls"]["type"] == "Opaque"
    assert set(secrets["redis-k8s-tls"]["stringData"]) == {"tls.env"}
    again = podspec.with_tls_secret(merged, "redis-k8s-tls", {"tls.env": "TLS_ENABLED=yes\n", "ca.pem": "x"})
    assert len(again["kubernetesResources"]["secrets"]) == 2
    assert set({x["name"]: x for x in again["kubernetesResources"]["secrets"]}["redis-k8s-tls"]["stringData"]) \
        == {"tls.env", "ca.pem"}
    assert "secrets" not in spec.k8s_resources["kubernetesResources"]
    try:
        podspec.with_tls_secret(merged, "redis-k8s-tls", {"ca.pem": "x"})
    except ValueError as e:
        assert "tls.env" in str(e)
    else:
        raise AssertionError("a TLS Secret without tls.env was accepted")
