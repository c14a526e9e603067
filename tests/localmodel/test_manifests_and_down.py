"""Manifests validate against the Kubernetes schema; down leaves no process behind."""

import os
import signal
import subprocess
import sys

import pytest
import yaml

from conftest import ask, deploy_echo
from localmodel import manifests, podspec, validate
from localmodel.client import Model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_manifests_validate(model):
    deploy_echo(model, n=2)
    text = model.manifests("echo")
    assert validate.validate_text(text, strict=True) == 5
    objs = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(text)}
    sts = objs[("StatefulSet", "echo")]
    assert sts["spec"]["replicas"] == 2
    assert sts["spec"]["serviceName"] == "echo-endpoints"
    assert [c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]] == ["echo-data"]
    c = sts["spec"]["template"]["spec"]["containers"][0]
    assert c["readinessProbe"]["exec"]["command"][-1] == "/srv/lm-echo/conf/probe.py"
    assert objs[("Service", "echo-endpoints")]["spec"]["clusterIP"] == "None"
    assert objs[("Service", "echo")]["spec"]["ports"][0]["port"] == 7000
    assert ("ConfigMap", "echo-conf-config") in objs
    assert ("Secret", "echo-secret") in objs


# Shaped like redis-k8s's: two containers, files volumes, an emptyDir both mount, env from
# fields and a Secret, probes, a grace period, a Secret in kubernetesResources, and storage.
TWO_CONTAINERS = """version: 3
containers:
- name: main
  imageDetails: {imagePath: "img:7", username: u, password: p}
  imagePullPolicy: IfNotPresent
  command: [/bin/sh, /scripts/main.sh]
  ports: [{name: main, containerPort: 6379, protocol: TCP}]
  envConfig:
    POD_IP: {field: {path: status.podIP, api-version: v1}}
    PORT: "6379"
    PASSWORD: {secret: {name: app-secret, key: password}}
    ALL: {secret: {name: app-secret}}
  volumeConfig:
  - {name: scripts, mountPath: /scripts, files: [{path: main.sh, content: "echo", mode: 0755}]}
  - {name: shared, mountPath: /shared, emptyDir: {}}
  kubernetes:
    readinessProbe: {exec: {command: [/bin/sh, /scripts/main.sh]}, periodSeconds: 2}
    livenessProbe: {exec: {command: [/bin/sh, /scripts/main.sh]}, initialDelaySeconds: 30}
- name: side
  imageDetails: {imagePath: "img:7"}
  command: [/bin/sh, /scripts/side.sh]
  ports: [{name: side, containerPort: 26379, protocol: TCP}]
  envConfig: {PASSWORD: {secret: {name: app-secret, key: password}}}
  volumeConfig:
  - {name: side-scripts, mountPath: /scripts, files: [{path: side.sh, content: "echo"}]}
  - {name: shared, mountPath: /shared, emptyDir: {}}
  kubernetes:
    readinessProbe: {tcpSocket: {port: 26379}}
"""
K8S_RESOURCES = """kubernetesResources:
  pod: {terminationGracePeriodSeconds: 45}
  secrets: [{name: app-secret, type: Opaque, stringData: {password: pw}}]
"""


def _objects(kind):
    spec = podspec.parse(TWO_CONTAINERS, K8S_RESOURCES)
    storage = {"data": {"type": "filesystem", "location": "/data"}} if kind == "StatefulSet" \
        else {}
    objs = manifests.render_objects("m", "app", spec, storage, 3, kind)
    for o in objs:
        validate.validate(o, strict=True)
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def test_manifests_of_a_two_container_spec_are_what_juju_creates():
    objs = _objects("StatefulSet")
    assert set(objs) == {("StatefulSet", "app"), ("Service", "app"),
                         ("Service", "app-endpoints"), ("ConfigMap", "app-scripts-config"),
                         ("ConfigMap", "app-side-scripts-config"), ("Secret", "app-secret")}
    sts = objs[("StatefulSet", "app")]["spec"]
    assert sts["serviceName"] == "app-endpoints"
    pod = sts["template"]["spec"]
    main, side = pod["containers"]
    mounts = {c["name"]: [m["mountPath"] for m in c["volumeMounts"]] for c in (main, side)}
    # Storage in the first container only; the emptyDir in both; Juju's agent in every one.
    assert mounts == {"main": ["/scripts", "/shared", "/data", "/var/lib/juju",
                               "/usr/bin/juju-run"],
                      "side": ["/scripts", "/shared", "/var/lib/juju", "/usr/bin/juju-run"]}
    assert [c["metadata"]["name"] for c in sts["volumeClaimTemplates"]] == ["app-data"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(volumes) == {"scripts", "side-scripts", "shared", "juju-data-dir"}
    assert volumes["shared"] == {"name": "shared", "emptyDir": {}}
    assert volumes["scripts"]["configMap"]["name"] == "app-scripts-config"
    assert [c["name"] for c in pod["initContainers"]] == ["juju-pod-init"]
    assert main["env"] == [
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-secret",
                                                            "key": "password"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP",
                                                      "apiVersion": "v1"}}},
        {"name": "PORT", "value": "6379"}]
    assert main["envFrom"] == [{"secretRef": {"name": "app-secret"}}]
    assert pod["terminationGracePeriodSeconds"] == 45
    assert side["readinessProbe"] == {"tcpSocket": {"port": 26379}}
    headless = objs[("Service", "app-endpoints")]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert [p["port"] for p in objs[("Service", "app")]["spec"]["ports"]] == [6379, 26379]
    secret = objs[("Secret", "app-secret")]
    assert secret["type"] == "Opaque" and set(secret["data"]) == {"password"}


def test_manifests_without_storage_are_a_deployment():
    objs = _objects("Deployment")
    dep = objs[("Deployment", "app")]["spec"]
    assert "volumeClaimTemplates" not in dep and "serviceName" not in dep
    assert all("/data" not in [m["mountPath"] for m in c["volumeMounts"]]
               for c in dep["template"]["spec"]["containers"])


def test_strict_validation_refuses_an_unknown_field():
    objs = _objects("Deployment")
    bad = objs[("Deployment", "app")]
    bad["spec"]["template"]["spec"]["containers"][0]["bogus"] = 1
    with pytest.raises(Exception):
        validate.validate(bad, strict=True)


def test_cli_status_json_shape_and_run_exit_code(model):
    deploy_echo(model)
    env = {"LOCALMODEL_HOME": model.home, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "localmodel", "status", "--format", "json"],
                         env=env, capture_output=True, text=True, check=True).stdout
    st = yaml.safe_load(out)
    u = st["applications"]["echo"]["units"]["echo/0"]
    assert u["provider-id"] == "echo-0" and u["leader"] is True
    assert set(u) >= {"workload-status", "juju-status", "address"}
    r = subprocess.run([sys.executable, "-m", "localmodel", "run", "echo/0", "exit", "4"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 4
    r = subprocess.run([sys.executable, "-m", "localmodel", "wait", "--timeout", "30"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0


def test_down_leaves_no_process(make_model):
    m = make_model()
    deploy_echo(m, n=2)
    m.run("echo/0", "setsid nohup sleep 600 >/dev/null 2>&1 &")
    procs = m.processes()
    assert len(procs) > 6
    m.down()
    assert m.processes() == []
    for pid in procs:
        try:
            with open("/proc/%d/stat" % pid) as f:
                assert f.read().split(")")[1].split()[0] in ("Z", "X")
        except FileNotFoundError:
            pass
    assert not Model(m.home).is_up()


def test_down_after_a_controller_crash_still_stops_everything(make_model):
    m = make_model()
    deploy_echo(m)
    os.kill(m.controller_pid(), signal.SIGKILL)
    m.down()
    assert m.processes() == []


def test_two_models_side_by_side(make_model):
    a, b = make_model(), make_model()
    deploy_echo(a)
    deploy_echo(b)
    assert a.service_address("echo") != b.service_address("echo")
    assert ask(a.pod_address("echo-0"), "PING") == ask(b.pod_address("echo-0"), "PING")


def test_up_refuses_without_root(tmp_path):
    env = {"LOCALMODEL_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, "-m", "localmodel", "up"], env=env, cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr == "ERROR the local model needs root (namespaces and bind mounts)\n"


def test_an_existing_statefulset_takes_a_new_specs_pod_annotations_and_no_other_pod_field():
    # ensureStatefulSet: existing.Spec.Template.SetAnnotations(...) beside the containers.
    first = {"containers": [], "kubernetesResources": {"pod": {
        "terminationGracePeriodSeconds": 7, "annotations": {"example.com/a": "1"}}}}
    later = {"containers": [], "kubernetesResources": {"pod": {
        "terminationGracePeriodSeconds": 20, "annotations": {"example.com/b": "2"}}}}
    kept = podspec.with_annotations_of(podspec.pod_fields(first), later)
    assert kept == {"terminationGracePeriodSeconds": 7, "annotations": {"example.com/b": "2"}}
    assert podspec.spec_hash(podspec.as_created(later, kept)) != \
        podspec.spec_hash(podspec.as_created(later, podspec.pod_fields(first)))
    # The charm-modified version is part of the template too.
    assert podspec.spec_hash(later, 1) != podspec.spec_hash(later, 2)
