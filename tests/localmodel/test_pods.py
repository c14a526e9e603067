"""The pod runtime: real processes, probes, restarts, scale, storage, DNS, mounts, Services."""

import json
import os
import signal
import time

import pytest

from conftest import ask, deploy_echo, hooks, set_spec
from localmodel import validate
from localmodel.client import Model, ModelError


def pods(m):
    return m.status()["pods"]


def test_crashed_container_is_restarted(model):
    deploy_echo(model)
    address = model.pod_address("echo-0")
    model.kill("echo-0", "echo")
    st = model.wait_for(lambda s: s["pods"]["echo-0"]["containers"]["echo"]["restarts"] >= 1
                        and s["pods"]["echo-0"]["ready"] and s["pods"]["echo-0"], timeout=30)
    assert st["address"] == address
    assert ask(address, "PING") == ["PONG echo-0"]


def test_probes_drive_readiness_and_restarts(model):
    deploy_echo(model, n=2)
    address = model.pod_address("echo-1")
    assert ask(address, "FREEZE") == ["OK"]
    model.wait_for(lambda s: not s["pods"]["echo-1"]["ready"], timeout=20)
    svc = model.service_address("echo")
    assert {ask(svc, "PING")[0] for _ in range(4)} == {"PONG echo-0"}
    # The liveness probe fails three times in a row: the container is restarted in place.
    model.wait_for(lambda s: s["pods"]["echo-1"]["containers"]["echo"]["restarts"] == 1
                   and s["pods"]["echo-1"]["ready"], timeout=40)
    assert model.pod_address("echo-1") == address


def test_killed_pod_is_recreated_with_a_new_address_and_dns_follows(model):
    deploy_echo(model, n=2)
    old = model.pod_address("echo-1")
    model.kill("echo-1")
    model.wait_for(lambda s: s["pods"].get("echo-1", {}).get("ready") and
                   s["pods"]["echo-1"]["address"] != old, timeout=30)
    new = model.pod_address("echo-1")
    fqdn = "echo-1.echo-endpoints.test.svc.cluster.local"
    assert ask(model.pod_address("echo-0"), "RESOLVE " + fqdn, "RESOLVE echo-1") == [new, new]
    rc, out, _ = model.run("echo/0", "getent hosts %s" % fqdn, operator=True)
    assert out.split()[0] == new
    assert ask(new, "PING") == ["PONG echo-1"]


def test_delete_pod_is_graceful_and_storage_survives(model):
    deploy_echo(model)
    old = model.pod_address("echo-0")
    assert ask(old, "WRITE kept across pods") == ["OK"]
    model.delete_pod("echo-0")
    assert pods(model)["echo-0"]["phase"] == "Terminating"
    model.wait(60)
    new = model.pod_address("echo-0")
    assert new != old
    assert ask(new, "READ") == ["kept across pods\n"]
    assert "Terminating" not in [p["phase"] for p in pods(model).values()]
    # The pod's init process ended cleanly: nothing was left to kill after the grace period.
    with open(os.path.join(model.paths.logs, "pod-echo-0.log")) as log:
        assert "Traceback" not in log.read()


def test_a_terminating_pod_keeps_its_name_until_it_is_gone(model, tmp_path):
    # Juju's headless service has publishNotReadyAddresses: the endpoints controller keeps a
    # terminating pod in it (ShouldPodBeInEndpoints), so its DNS name still answers.
    deploy_echo(model, config={"grace": 4})  # a StatefulSet keeps its first grace period

    def stubborn(spec):
        spec["containers"].append({
            "name": "stubborn", "imageDetails": {"imagePath": "redis:7.0"},
            "command": ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.2; done"]})
    set_spec(model, tmp_path, stubborn)
    model.wait(60)
    old = model.pod_address("echo-0")
    fqdn = "echo-0.echo-endpoints.test.svc.cluster.local"
    model.delete_pod("echo-0")
    assert pods(model)["echo-0"]["phase"] == "Terminating"
    time.sleep(1.5)  # the model's loop has seen the deletion (it ran twice meanwhile)
    assert pods(model)["echo-0"]["phase"] == "Terminating"
    rc, out, _ = model.run("echo/0", "getent hosts %s" % fqdn, operator=True)
    assert (rc, out.split()[:1]) == (0, [old])
    model.wait_for(lambda s: s["pods"].get("echo-0", {}).get("ready")
                   and s["pods"]["echo-0"]["address"] != old, timeout=30)
    rc, out, _ = model.run("echo/0", "getent hosts %s" % fqdn, operator=True)
    assert out.split()[0] == model.pod_address("echo-0")


def test_scale_up_and_down(model):
    deploy_echo(model, n=1)
    assert ask(model.pod_address("echo-0"), "WRITE zero") == ["OK"]
    model.scale("echo", 3)
    model.wait(90)
    st = model.status()
    assert sorted(st["pods"]) == ["echo-0", "echo-1", "echo-2"]
    assert all(p["ready"] for p in st["pods"].values())
    assert sorted(st["applications"]["echo"]["units"]) == ["echo/0", "echo/1", "echo/2"]
    assert ask(model.pod_address("echo-2"), "WRITE two") == ["OK"]
    model.scale("echo", 1)
    model.wait(90)
    st = model.status()
    assert sorted(st["pods"]) == ["echo-0"]
    assert sorted(st["applications"]["echo"]["units"]) == ["echo/0"]
    assert ("cluster-relation-departed", "echo/2") in hooks(model, "echo/0")
    assert hooks(model, "echo/2")[-3:] == [("data-storage-detaching", ""), ("stop", ""),
                                           ("remove", "")]
    rc, out, _ = model.run("echo/0", "getent hosts echo-2 || echo gone", operator=True)
    assert out == "gone\n"
    model.scale("echo", 3)
    model.wait(90)
    assert ask(model.pod_address("echo-2"), "READ") == ["two\n"]
    assert ask(model.pod_address("echo-0"), "READ") == ["zero\n"]


def test_files_secrets_and_env_are_where_the_spec_says(model):
    deploy_echo(model, config={"greeting": "bonjour", "port": 7001})
    a = model.pod_address("echo-0")
    assert ask(a, "CAT /srv/lm-echo/conf/motd.txt", "STAT /srv/lm-echo/conf/motd.txt",
               "STAT /srv/lm-echo/conf/server.py", "HELLO", "ENV POD_IP", "ENV POD_NAME",
               "CAT /etc/hostname", port=7001) == [
        "port 7001\n", "0o600", "0o755", "bonjour from echo-0", a, "echo-0", "echo-0\n"]
    rc, out, err = model.exec("echo-0", "hostname; cat /srv/lm-echo/conf/motd.txt; "
                              "echo $POD_NAME $ECHO_PORT; touch /srv/lm-echo/conf/x")
    assert rc == 1 and out == "echo-0\nport 7001\necho-0 7001\n"
    assert "Read-only file system" in err
    rc, out, _ = model.run("echo/0", "test -e /srv/lm-echo/conf/motd.txt && echo host-sees-it"
                           " || echo private", operator=True)
    assert out == "private\n"


def test_service_forwards_to_ready_pods(model):
    deploy_echo(model, n=2)
    svc = model.service_address("echo")
    # Settled hooks do not mean both pods passed their readiness probe yet; and the Service
    # picks a ready pod per connection.
    seen, deadline = set(), time.time() + 30
    while seen != {"PONG echo-0", "PONG echo-1"} and time.time() < deadline:
        seen.add(ask(svc, "PING")[0])
    assert seen == {"PONG echo-0", "PONG echo-1"}
    # Juju 2.9 (networkinfocaas.go): the Service's address is the unit's private and ingress
    # address; its bind address is its own pod's (the cloud container address, machine-local).
    rc, out, _ = model.run("echo/0", "unit-get private-address; network-get cluster "
                           "--ingress-address; network-get cluster --bind-address; "
                           "network-get cluster --egress-subnets", operator=True)
    assert out.split() == [svc, svc, pods(model)["echo-0"]["address"], svc + "/32"]
    rc, out, _ = model.run("echo/1", "network-get cluster --bind-address", operator=True)
    assert out.split() == [pods(model)["echo-1"]["address"]]


def test_pod_template_change_rolls_pods_highest_ordinal_first(model):
    deploy_echo(model, n=2)
    before = {n: p["address"] for n, p in pods(model).items()}
    # The container's port is in the pod template; the greeting is Secret data only.
    model.config("echo", {"greeting": "rolled", "port": 7001})
    model.wait(90)
    after = pods(model)
    assert all(after[n]["address"] != before[n] for n in before)
    log = model.debug_log()
    assert log.index("rolling echo-1") < log.index("rolling echo-0")
    assert ask(after["echo-0"]["address"], "HELLO", port=7001) == ["rolled from echo-0"]


def test_a_statefulsets_pods_keep_the_pod_level_fields_it_was_created_with(model):
    # Juju's ensureStatefulSet copies a new spec's containers onto the existing StatefulSet,
    # not Spec.Template.Spec's other fields: terminationGracePeriodSeconds stays the first one.
    deploy_echo(model, n=1, config={"grace": 7})
    before = {n: p["address"] for n, p in pods(model).items()}
    model.config("echo", {"grace": 20})
    model.wait(60)
    assert {n: p["address"] for n, p in pods(model).items()} == before  # nothing rolled
    assert "terminationGracePeriodSeconds: 7" in model.manifests("echo")
    model.scale("echo", 2)  # a pod made now gets the StatefulSet's template
    model.wait(90)
    assert pod_graces(model) == {"echo-0": 7, "echo-1": 7}
    # A change to the containers rolls the pods, still with the first grace period.
    model.config("echo", {"port": 7001})
    model.wait(90)
    assert all(model.pod_address(n) != before[n] for n in before)
    assert pod_graces(model) == {"echo-0": 7, "echo-1": 7}
    assert "terminationGracePeriodSeconds: 7" in model.manifests("echo")


def pod_graces(model):
    """``{pod: the grace period its SIGTERM gets}``, from each pod's runtime config."""
    graces = {}
    for name in pods(model):
        with open(os.path.join(model.paths.pod(name), "pod.json")) as f:
            graces[name] = json.load(f)["grace"]
    return graces


def test_controller_crash_loses_nothing(model):
    deploy_echo(model, n=2)
    before = {n: p["address"] for n, p in pods(model).items()}
    svc = model.service_address("echo")
    os.kill(model.controller_pid(), signal.SIGKILL)
    time.sleep(0.3)
    assert not model.is_up()
    # Pods and Services run on without their controller.
    assert ask(svc, "PING")[0].startswith("PONG")
    model.up()
    model.wait(60)
    assert {n: p["address"] for n, p in pods(model).items()} == before
    model.config("echo", {"greeting": "after-crash", "port": 7001})
    model.wait(90)
    assert model.pod_address("echo-0") != before["echo-0"]
    assert ask(model.pod_address("echo-0"), "HELLO", port=7001) == ["after-crash from echo-0"]


def test_remove_application(model):
    deploy_echo(model, n=2)
    model.remove_application("echo")
    model.wait_for(lambda s: not s["applications"] and not s["pods"], timeout=60)
    assert hooks(model, "echo/0")[-1] == ("remove", "")


def test_every_volume_kind_and_env_source(model, tmp_path):
    deploy_echo(model)
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "from-host.txt").write_text("host file\n")
    rc, out, _ = model.run("echo/0", "pod-spec-get", operator=True)
    spec = json.loads(out)
    c = spec["containers"][0]
    c["volumeConfig"] += [
        {"name": "scratch", "mountPath": "/srv/lm-echo/scratch", "emptyDir": {}},
        {"name": "hp", "mountPath": "/srv/lm-echo/host", "hostPath": {"path": str(host_dir)}},
        {"name": "cm", "mountPath": "/srv/lm-echo/cm",
         "configMap": {"name": "echo-cm", "files": [{"key": "a", "path": "a.txt"}]}},
        {"name": "sec", "mountPath": "/srv/lm-echo/sec", "secret": {"name": "echo-secret"}}]
    c["envConfig"]["FROM_CM"] = {"config-map": {"name": "echo-cm", "key": "a"}}
    c["envConfig"]["NS"] = {"field": {"path": "metadata.namespace"}}
    c["envConfig"]["FLAG"] = True
    spec["configMaps"] = {"echo-cm": {"a": "value a"}}
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    rc, _, err = model.run("echo/0", "pod-spec-set --file %s" % spec_file, operator=True)
    assert rc == 0, err
    model.wait(60)
    a = model.pod_address("echo-0")
    assert ask(a, "CAT /srv/lm-echo/host/from-host.txt", "CAT /srv/lm-echo/cm/a.txt",
               "CAT /srv/lm-echo/sec/greeting", "STAT /srv/lm-echo/sec/greeting",
               "ENV FROM_CM", "ENV NS", "ENV FLAG") == [
        "host file\n", "value a", "hello", "0o600", "value a", "test", "true"]
    assert ask(a, "CAT /srv/lm-echo/scratch/nothing")[0].startswith("ERR")


def test_init_containers_run_first_and_share_empty_dirs(model, tmp_path):
    deploy_echo(model)
    rc, out, _ = model.run("echo/0", "pod-spec-get", operator=True)
    spec = json.loads(out)
    scratch = {"name": "scratch", "mountPath": "/srv/lm-echo/scratch", "emptyDir": {}}
    spec["containers"][0]["volumeConfig"].append(scratch)
    spec["containers"].insert(0, {
        "name": "prepare", "init": True, "imageDetails": {"imagePath": "redis:7.0"},
        "command": ["/bin/sh", "-c", "sleep 0.5; echo prepared by $HOSTNAME > "
                    "/srv/lm-echo/scratch/init.txt"],
        "volumeConfig": [scratch]})
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    rc, _, err = model.run("echo/0", "pod-spec-set --file %s" % spec_file, operator=True)
    assert rc == 0, err
    model.wait_for(lambda s: s["pods"]["echo-0"]["phase"].startswith("Init:"), timeout=30)
    model.wait(60)
    assert ask(model.pod_address("echo-0"), "CAT /srv/lm-echo/scratch/init.txt") == [
        "prepared by echo-0\n"]
    assert "initContainers" in model.manifests("echo")
    assert validate.validate_text(model.manifests("echo")) == 5


def test_container_ignoring_sigterm_is_killed_after_the_grace_period(model, tmp_path):
    deploy_echo(model, config={"grace": 1})  # a StatefulSet keeps its first grace period
    rc, out, _ = model.run("echo/0", "pod-spec-get", operator=True)
    spec = json.loads(out)
    spec["containers"].append({
        "name": "stubborn", "imageDetails": {"imagePath": "redis:7.0"},
        "command": ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.2; done"]})
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    assert model.run("echo/0", "pod-spec-set --file %s" % spec_file, operator=True)[0] == 0
    model.wait(60)
    old = model.pod_address("echo-0")
    model.delete_pod("echo-0")
    model.wait_for(lambda s: s["pods"].get("echo-0", {}).get("ready")
                   and s["pods"]["echo-0"]["address"] != old, timeout=30)
    assert "Terminating" not in [p["phase"] for p in pods(model).values()]




def test_storage_is_mounted_in_the_first_container_only(model, tmp_path):
    deploy_echo(model)

    def add_containers(spec):
        spec["containers"].insert(0, {
            "name": "prepare", "init": True, "imageDetails": {"imagePath": "redis:7.0"},
            "command": ["/bin/true"]})
        spec["containers"].append({
            "name": "sidecar", "imageDetails": {"imagePath": "redis:7.0"},
            "command": ["/bin/sh", "-c", "while :; do sleep 1; done"]})
    set_spec(model, tmp_path, add_containers)
    model.wait(60)
    assert ask(model.pod_address("echo-0"), "WRITE on storage") == ["OK"]
    check = "cat /srv/lm-echo/data/data.txt 2>/dev/null || echo absent"
    # Juju mounts storage into podSpec.Containers[0]: the first container that is not init.
    assert model.exec("echo-0", check, container="echo")[1] == "on storage\n"
    assert model.exec("echo-0", check, container="sidecar")[1] == "absent\n"


def test_a_crash_looping_container_restarts_at_once_then_after_10s(model, tmp_path):
    deploy_echo(model)

    def add_crasher(spec):
        spec["containers"].append({
            "name": "crasher", "imageDetails": {"imagePath": "redis:7.0"},
            "command": ["/bin/sh", "-c", "exit 3"]})
    set_spec(model, tmp_path, add_crasher)

    def crasher(s):
        return s["pods"].get("echo-0", {}).get("containers", {}).get("crasher")
    # The first restart is immediate; the second crash waits in CrashLoopBackOff.
    c = model.wait_for(lambda s: (crasher(s) or {}).get("restarts") == 1 and
                       crasher(s)["reason"] == "CrashLoopBackOff" and crasher(s), timeout=60)
    assert c["state"] == "waiting"
    waiting_since = time.time()
    model.wait_for(lambda s: crasher(s)["restarts"] == 2, timeout=20)
    assert 7 <= time.time() - waiting_since <= 13
    # The third exit waits 20 s: back in CrashLoopBackOff as soon as the restarted one exits.
    model.wait_for(lambda s: crasher(s)["reason"] == "CrashLoopBackOff", timeout=5)
    assert model.status()["pods"]["echo-0"]["containers"]["echo"]["restarts"] == 0


def test_an_invalid_cluster_domain_is_refused(tmp_path):
    with pytest.raises(ModelError, match='invalid cluster domain "Not_A.Domain"'):
        Model(str(tmp_path)).up("test", "127.%d" % (int(os.environ.get("TEST_SUBNET_BASE", 60))),
                                cluster_domain="Not_A.Domain")
    assert not os.path.exists(tmp_path / "state.json")


def test_cluster_domain_names_and_resolv_conf(make_model):
    model = make_model(cluster_domain="k8s.example")
    deploy_echo(model, n=2)
    assert model.status()["model"]["cluster-domain"] == "k8s.example"
    a1 = model.pod_address("echo-1")
    fqdn = "echo-1.echo-endpoints.test.svc.k8s.example"
    assert ask(model.pod_address("echo-0"), "RESOLVE " + fqdn) == [a1]
    assert ask(model.pod_address("echo-0"),
               "RESOLVE echo-1.echo-endpoints.test.svc.cluster.local")[0].startswith("ERR")
    rc, out, _ = model.run("echo/0", "getent hosts echo.test.svc.k8s.example", operator=True)
    assert out.split()[0] == model.service_address("echo")
    resolv = ("nameserver 127.0.0.1\nsearch test.svc.k8s.example svc.k8s.example k8s.example\n"
              "options ndots:5\n")
    assert model.exec("echo-0", "cat /etc/resolv.conf")[1] == resolv
    assert model.run("echo/0", "cat /etc/resolv.conf", operator=True)[1] == resolv


@pytest.mark.parametrize("text,expanded", [
    ("--listen=$(POD_IP):9121", "--listen=127.0.0.9:9121"),
    ("$(POD_IP)$(EMPTY)$(POD_IP)", "127.0.0.9127.0.0.9"),
    ("$$(POD_IP)", "$(POD_IP)"),      # $$ escapes
    ("$$$(POD_IP)", "$127.0.0.9"),
    ("$(UNDEFINED)", "$(UNDEFINED)"),  # undefined: left as it is
    ("$(POD_IP", "$(POD_IP"),          # unterminated
    ("$HOME $", "$HOME $"),            # shell syntax means nothing here
])
def test_command_and_args_expand_the_containers_variables_as_the_kubelet_does(text, expanded):
    from localmodel.runtime import expansion
    assert expansion.expand(text, {"POD_IP": "127.0.0.9", "EMPTY": ""}) == expanded


def test_args_are_expanded_with_the_containers_env_without_a_shell(model, tmp_path):
    deploy_echo(model)
    rc, out, _ = model.run("echo/0", "pod-spec-get", operator=True)
    spec = json.loads(out)
    scratch = {"name": "scratch", "mountPath": "/srv/lm-echo/scratch", "emptyDir": {}}
    spec["containers"][0]["volumeConfig"].append(scratch)
    # The arguments reach the process expanded: the shell here only writes what it was given
    # ("$1" and "$2"), it expands nothing of the spec's.
    spec["containers"].append({
        "name": "args", "imageDetails": {"imagePath": "redis:7.0"},
        "command": ["/bin/sh", "-c", 'echo "$1|$2|$3" > /srv/lm-echo/scratch/args.txt; '
                    'exec sleep 3600', "sh"],
        "args": ["$(POD_IP):9121", "$$(POD_IP)", "$(FROM_SECRET)"],
        "envConfig": {"POD_IP": {"field": {"path": "status.podIP", "api-version": "v1"}},
                      "FROM_SECRET": {"secret": {"name": "echo-secret", "key": "greeting"}}},
        "volumeConfig": [scratch]})
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    rc, _, err = model.run("echo/0", "pod-spec-set --file %s" % spec_file, operator=True)
    assert rc == 0, err
    model.wait(60)
    a = model.pod_address("echo-0")
    assert ask(a, "CAT /srv/lm-echo/scratch/args.txt") == ["%s:9121|$(POD_IP)|hello\n" % a]


def test_tcp_and_http_probes_need_nothing_of_the_image(model, tmp_path):
    # The kubelet dials tcpSocket and httpGet probes itself: a container whose image has no
    # Python (redis:7.0 here) passes them as long as it listens.
    deploy_echo(model)
    rc, out, _ = model.run("echo/0", "pod-spec-get", operator=True)
    spec = json.loads(out)
    spec["containers"].append({
        "name": "listener", "imageDetails": {"imagePath": "redis:7.0"},
        "command": ["redis-server", "--port", "7777", "--bind", "$(POD_IP)",
                    "--protected-mode", "no", "--save", ""],
        "envConfig": {"POD_IP": {"field": {"path": "status.podIP", "api-version": "v1"}}},
        "kubernetes": {"readinessProbe": {"tcpSocket": {"port": 7777}, "periodSeconds": 1},
                       "livenessProbe": {"tcpSocket": {"port": 7777}, "periodSeconds": 1,
                                         "failureThreshold": 2}}})
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    rc, _, err = model.run("echo/0", "pod-spec-set --file %s" % spec_file, operator=True)
    assert rc == 0, err
    model.wait_for(lambda s: s["pods"].get("echo-0", {}).get("containers", {})
                   .get("listener", {}).get("ready"), timeout=60)
    time.sleep(4)  # liveness: 2 failures a second apart would have restarted it by now
    assert model.status()["pods"]["echo-0"]["containers"]["listener"]["restarts"] == 0


def test_a_failed_liveness_probe_stops_the_container_as_the_kubelet_does(model, tmp_path):
    # kuberuntime_container.go, killContainer: SIGTERM to the container's main process, SIGKILL
    # only once the grace period (the pod's, no probe-level one here) has passed.
    deploy_echo(model, config={"grace": 5})
    rc, out, _ = model.run("echo/0", "pod-spec-get", operator=True)
    spec = json.loads(out)
    failing = {"exec": {"command": ["/bin/sh", "-c", "exit 1"]}, "initialDelaySeconds": 1,
               "periodSeconds": 1, "failureThreshold": 1}
    for name, on_term in (("graceful", "exit 7"), ("stubborn", "")):
        spec["containers"].append({
            "name": name, "imageDetails": {"imagePath": "redis:7.0"},
            "command": ["/bin/sh", "-c", "trap '%s' TERM; while :; do sleep 0.1; done" % on_term],
            "kubernetes": {"livenessProbe": failing}})
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    rc, _, err = model.run("echo/0", "pod-spec-set --file %s" % spec_file, operator=True)
    assert rc == 0, err

    def restarted(status):
        containers = status["pods"].get("echo-0", {}).get("containers", {})
        if all(containers.get(n, {}).get("restarts", 0) >= 1 for n in ("graceful", "stubborn")):
            return containers
    containers = model.wait_for(restarted, timeout=90)
    assert containers["graceful"]["last-exit-code"] == 7  # its TERM handler ran
    assert containers["stubborn"]["last-exit-code"] == 137  # TERM ignored: SIGKILL after the grace
