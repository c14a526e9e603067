"""The juju-like CLI end to end, as the Makefile and scripts use it."""

import json
import os
import subprocess
import sys

import yaml

from conftest import ECHO

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_cli_flow(tmp_path):
    env = {"LOCALMODEL_HOME": str(tmp_path / "home"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

    def lm(*args, ok=True):
        r = subprocess.run([sys.executable, "-m", "localmodel"] + list(args), env=env,
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
        if ok:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    assert lm("status", ok=False).returncode == 1
    try:
        assert "up at" in lm("up", "--subnet", "127.67", "--model", "cli").stdout
        assert "already up" in lm("up").stdout
        lm("deploy", ECHO, "web", "-n", "2", "--resource", "echo-image=lm-echo:1",
           "--config", "greeting=hi")
        r = lm("deploy", ECHO, "web", ok=False)
        assert r.returncode == 1 and 'application "web": application already exists' in r.stderr
        lm("wait", "--timeout", "90")
        st = json.loads(lm("status", "--format", "json").stdout)
        assert st["model"]["name"] == "cli"
        assert st["applications"]["web"]["units"]["web/0"]["workload-status"]["current"] == \
            "active"
        assert "web/0*" in lm("status").stdout
        assert yaml.safe_load(lm("status", "--format", "yaml").stdout)["pods"]["web-1"]["ready"]
        cfg = yaml.safe_load(lm("config", "web").stdout)
        assert cfg["settings"]["greeting"]["value"] == "hi"
        r = lm("config", "web", "port=notanumber", ok=False)
        assert 'option "port" expected int, got "notanumber"' in r.stderr
        lm("config", "web", "--reset", "greeting")
        assert lm("run", "--operator", "web/1", "config-get", "greeting").stdout == "hello\n"
        assert lm("run", "web/1", "--operator", "hostname").stdout == "web-operator-0\n"
        assert lm("run", "web/1", "hostname").stdout == "web-1\n"
        assert json.loads(lm("pod-spec", "web").stdout)["version"] == 3
        assert "kind: StatefulSet" in lm("manifests", "web").stdout
        lm("wait", "--timeout", "90")
        assert lm("exec", "web-1", "-c", "echo", "--", "hostname").stdout == "web-1\n"
        assert lm("exec", "web-1", "--", "sh", "-c", "exit 5", ok=False).returncode == 5
        assert "HOOK install" in lm("debug-log", "--lines", "1000").stdout
        lm("restart-operator", "web")
        lm("wait", "--timeout", "90")
        assert "upgrade-charm" in lm("debug-log", "--lines", "20").stdout
        lm("scale", "web", "1")
        lm("wait", "--timeout", "90")
        assert list(json.loads(lm("status", "--format", "json").stdout)["pods"]) == ["web-0"]
        lm("kill", "web-0", "echo")
        lm("delete-pod", "web-0")
        r = lm("delete-pod", "nope-0", ok=False)
        assert r.stderr == 'ERROR pod "nope-0" not found\n'
        lm("wait", "--timeout", "90")
        lm("remove-application", "web")
        lm("wait", "--timeout", "90")
        assert json.loads(lm("status", "--format", "json").stdout)["applications"] == {}
    finally:
        lm("down")
    assert lm("status", ok=False).returncode == 1
