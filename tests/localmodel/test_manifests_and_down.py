"""Manifests validate against the Kubernetes schema; down leaves no process behind."""

import os
import signal
import subprocess
import sys

import yaml

from conftest import ask, deploy_echo
from localmodel import validate
from localmodel.client import Model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_manifests_validate(model):
    deploy_echo(model, n=2)
    text = model.manifests("echo")
    assert validate.validate_text(text) == 5
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
