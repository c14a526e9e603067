#!/usr/bin/env python3
"""Every hook of the echo charm: log the hook, then act with Juju's hook tools only."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ENV = os.environ


def tool(*args, stdin=None):
    # stderr is inherited: a tool's ERROR line lands in the hook's output, as in Juju.
    return subprocess.run(args, input=stdin, stdout=subprocess.PIPE, text=True,
                          check=True).stdout


def log(msg):
    tool("juju-log", msg)


def read(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read()


def image():
    try:
        path = tool("resource-get", "echo-image").strip()
    except subprocess.CalledProcessError as e:
        log("resource-get failed with exit status %d" % e.returncode)
        return None
    info = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip().strip("'\"")
    return info


def spec(cfg, img):
    container = {
        "name": "echo",
        "imageDetails": {"imagePath": img.get("registrypath", ""),
                         "username": img.get("username", ""),
                         "password": img.get("password", "")},
        "command": ["/usr/bin/python3", "/srv/lm-echo/conf/server.py"],
        "ports": [{"name": "echo", "containerPort": cfg["port"], "protocol": "TCP"}],
        "envConfig": {"POD_IP": {"field": {"path": "status.podIP"}},
                      "POD_NAME": {"field": {"path": "metadata.name"}},
                      "ECHO_PORT": cfg["port"], "DATA_DIR": "/srv/lm-echo/data",
                      "GREETING": {"secret": {"name": "echo-secret", "key": "greeting"}}},
        "volumeConfig": [{"name": "conf", "mountPath": "/srv/lm-echo/conf", "files": [
            {"path": "server.py", "content": read("server.py"), "mode": 0o755},
            {"path": "probe.py", "content": read("probe.py"), "mode": 0o755},
            {"path": "motd.txt", "content": "port %d\n" % cfg["port"], "mode": 0o600}]}],
        "kubernetes": {
            "readinessProbe": {"exec": {"command": ["/usr/bin/python3",
                                                    "/srv/lm-echo/conf/probe.py"]},
                               "periodSeconds": 1, "failureThreshold": 1},
            "livenessProbe": {"exec": {"command": ["/usr/bin/python3",
                                                   "/srv/lm-echo/conf/probe.py"]},
                              "initialDelaySeconds": 3, "periodSeconds": 2,
                              "failureThreshold": 3}},
    }
    if cfg["bad-spec"]:
        container["bogusKey"] = True
    return {"version": 3, "containers": [container],
            "kubernetesResources": {
                "pod": {"terminationGracePeriodSeconds": cfg["grace"]},
                "secrets": [{"name": "echo-secret", "type": "Opaque",
                             "stringData": {"greeting": cfg["greeting"]}}]}}


def main():
    hook = ENV["JUJU_HOOK_NAME"]
    unit = ENV["JUJU_UNIT_NAME"]
    log("HOOK %s unit=%s rel=%s remote=%s app=%s departing=%s" % (
        hook, unit, ENV.get("JUJU_RELATION_ID", ""), ENV.get("JUJU_REMOTE_UNIT", ""),
        ENV.get("JUJU_REMOTE_APP", ""), ENV.get("JUJU_DEPARTING_UNIT", "")))
    if hook.endswith(("-relation-departed", "-relation-broken")):
        # What a charm sees of a relation that is going away (charms.reactive looks it up).
        log("LEAVING %s remote=%s ids=%s members=%s" % (
            hook, ENV.get("JUJU_REMOTE_UNIT", ""), ",".join(json.loads(tool("relation-ids", "--format=json"))),
            ",".join(json.loads(tool("relation-list", "--format=json")))))
    cfg = json.loads(tool("config-get", "--format=json"))
    if cfg["fail-hook"] == hook:
        if json.loads(tool("is-leader", "--format=json")):
            # Set before the failure: a failed hook's context is not committed.
            tool("pod-spec-set", stdin=json.dumps(spec(cfg, {"registrypath":
                                                             "set-by-failed-hook:0"})))
        log("failing %s on purpose" % hook)
        return 1
    leader = json.loads(tool("is-leader", "--format=json"))
    if hook == "install":
        tool("status-set", "maintenance", "installing")
    if hook == "leader-elected":
        tool("leader-set", "leader=" + unit)
    if hook == "leader-settings-changed":
        log("LEADER " + tool("leader-get", "leader").strip())
    if hook in ("echo-relation-joined", "echo-relation-changed"):
        tool("relation-set", "host=" + tool("unit-get", "private-address").strip(),
             "port=%d" % cfg["port"])
        if leader:
            tool("relation-set", "--app", "greeting=" + cfg["greeting"])
    if hook == "upstream-relation-changed":
        remote = ENV.get("JUJU_REMOTE_UNIT")
        host = tool("relation-get", "host", remote).strip() if remote else ""
        app_data = json.loads(tool("relation-get", "--app", "--format=json", "-"))
        log("UPSTREAM host=%s greeting=%s" % (host, app_data.get("greeting", "")))
        if host:
            tool("status-set", "active", "upstream %s" % host)
            return 0
    if hook == "cluster-relation-changed":
        log("PEERS " + ",".join(json.loads(tool("relation-list", "--format=json"))))
    if hook in ("stop", "remove"):
        return 0
    img = image()
    if img is None:
        tool("status-set", "blocked", "missing echo-image resource")
        return 0
    if leader and hook in ("leader-elected", "config-changed", "upgrade-charm"):
        # A rejected spec must fail the hook, as with any charm checking tool errors.
        tool("pod-spec-set", stdin=json.dumps(spec(cfg, img)))
    if not hook.startswith("upstream"):
        tool("status-set", "active", "ready")
    return 0


sys.exit(main())
