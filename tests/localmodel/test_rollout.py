"""Rollout follows the pod template only; ConfigMap and Secret data reach running pods in place.

Kubernetes replaces a StatefulSet's pods when the pod template changes. The data of a ConfigMap
or Secret is not part of it: projected volumes change in running pods after the kubelet's sync
delay, and env from a Secret is read when a container starts. Juju writes the application's
charm-modified version into the template, so every charm upgrade and every attach of a resource
with new bytes rolls the pods.
"""

import re
import time

from conftest import ECHO, ask, deploy_echo, hooks, set_spec

DELAY = 4.0
SPREAD_DELAY = 12.0  # pods see a change between a quarter of it and all of it




def identity(model, pod="echo-0"):
    """What changes when a pod or its container is replaced: address, pod init, restarts."""
    st = model.status()["pods"][pod]
    rc, out, _ = model.exec(pod, "cut -d' ' -f22 /proc/1/stat")
    return st["address"], out.strip(), st["containers"]["echo"]["restarts"], st["spec-hash"]


def wait_for_answer(address, command, expected, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ask(address, command) == [expected]:
            return time.time()
        time.sleep(0.2)
    raise AssertionError("%s never answered %r" % (command, expected))


def motd(spec, text):
    files = spec["containers"][0]["volumeConfig"][0]["files"]
    next(f for f in files if f["path"] == "motd.txt")["content"] = text


def test_configmap_content_change_replaces_no_pod_and_each_pod_follows_on_its_own_sync(
        make_model, tmp_path):
    model = make_model(volume_sync_delay=SPREAD_DELAY)
    pods = ("echo-0", "echo-1", "echo-2")
    deploy_echo(model, n=3)
    before = {p: identity(model, p) for p in pods}
    a = before["echo-0"][0]
    assert ask(a, "CAT /srv/lm-echo/conf/motd.txt") == ["port 7000\n"]
    changed = time.time()
    set_spec(model, tmp_path, lambda spec: motd(spec, "changed in place\n"))
    # Not yet: the kubelet has synced no pod so soon.
    for pod in pods:
        assert ask(before[pod][0], "CAT /srv/lm-echo/conf/motd.txt") == ["port 7000\n"]
    model.wait(30)
    seen = {}
    for pod in pods:
        seen[pod] = wait_for_answer(model.pod_address(pod), "CAT /srv/lm-echo/conf/motd.txt",
                                    "changed in place\n", SPREAD_DELAY + 15) - changed
        assert SPREAD_DELAY * 0.25 - 0.5 <= seen[pod] <= SPREAD_DELAY + 2
    # Each pod on its own timer: not all at one moment (the kubelet logs when, per pod).
    logged = {pod: float(after) for pod, after in re.findall(
        r"pod (echo-\d): ConfigMap and Secret volumes updated \(([\d.]+) s after",
        model.debug_log())}
    assert set(logged) == set(pods)
    assert max(logged.values()) - min(logged.values()) >= 1.0
    # Kubernetes' atomic writer layout: the names are links through ..data.
    rc, out, _ = model.exec("echo-0", "readlink /srv/lm-echo/conf/motd.txt; "
                            "ls -a /srv/lm-echo/conf | grep -c '^\\.\\.'")
    assert out.splitlines()[0] == "..data/motd.txt"
    assert {p: identity(model, p) for p in pods} == before
    assert "rolling" not in model.debug_log()


def test_secret_change_keeps_running_env_updates_files_and_a_restarted_container_sees_it(
        make_model, tmp_path):
    model = make_model(volume_sync_delay=DELAY)
    deploy_echo(model)

    def mount_secret(spec):
        spec["containers"][0]["volumeConfig"].append(
            {"name": "sec", "mountPath": "/srv/lm-echo/sec", "secret": {"name": "echo-secret"}})
    set_spec(model, tmp_path, mount_secret)   # a new volume: a template change, a new pod
    model.wait(60)
    before = identity(model)
    a = before[0]
    assert ask(a, "HELLO", "CAT /srv/lm-echo/sec/greeting") == ["hello from echo-0", "hello"]

    def rotate(spec):
        spec["kubernetesResources"]["secrets"][0]["stringData"]["greeting"] = "rotated"
    set_spec(model, tmp_path, rotate)
    model.wait(30)
    # The running container keeps the value it started with.
    assert ask(a, "HELLO", "CAT /srv/lm-echo/sec/greeting") == ["hello from echo-0", "hello"]
    rc, out, _ = model.exec("echo-0", "echo $GREETING")
    assert out == "hello\n"
    wait_for_answer(a, "CAT /srv/lm-echo/sec/greeting", "rotated", DELAY + 15)
    assert ask(a, "HELLO") == ["hello from echo-0"]
    assert identity(model) == before
    # A crash: the restarted container reads the Secret again.
    model.kill("echo-0", "echo")
    model.wait_for(lambda s: s["pods"]["echo-0"]["containers"]["echo"]["restarts"] == 1
                   and s["pods"]["echo-0"]["ready"], timeout=30)
    assert ask(a, "HELLO") == ["rotated from echo-0"]
    assert model.pod_address("echo-0") == a


def test_an_env_config_value_change_rolls_the_pods(model, tmp_path):
    deploy_echo(model, n=2)
    before = {n: p["address"] for n, p in model.status()["pods"].items()}

    def add_env(spec):
        spec["containers"][0]["envConfig"]["EXTRA"] = "two"
    set_spec(model, tmp_path, add_env)
    model.wait(90)
    after = model.status()["pods"]
    assert all(after[n]["address"] != before[n] for n in before)
    assert ask(after["echo-0"]["address"], "ENV EXTRA") == ["two"]


def template_version(model):
    """The charm-modified version annotation of the StatefulSet's pod template."""
    return re.findall(r"juju.io/charm-modified-version: '(\d+)'", model.manifests("echo"))


def test_an_upgrade_rolls_every_pod_highest_ordinal_first(model):
    deploy_echo(model, n=2)
    before = {n: p["address"] for n, p in model.status()["pods"].items()}
    assert template_version(model) == ["0"]
    model.upgrade("echo", ECHO)
    model.wait(120)
    after = model.status()["pods"]
    assert all(after[n]["address"] != before[n] for n in before)
    assert template_version(model) == ["1"]
    log = model.debug_log()
    assert log.index("rolling echo-1") < log.index("rolling echo-0")


def test_new_resource_bytes_roll_the_pods_an_operator_restart_does_not(model, tmp_path):
    deploy_echo(model)
    first = identity(model)
    text = tmp_path / "motd.txt"
    text.write_text("hello\n")
    model.attach_resource("echo", "motd", str(text))
    model.wait(90)
    second = identity(model)
    assert second[0] != first[0] and second[3] != first[3]
    assert template_version(model) == ["1"]
    # The same bytes again bump nothing; an operator restart runs upgrade-charm (the leader's
    # commits the pod spec again) with the charm-modified version unchanged: no roll.
    model.attach_resource("echo", "motd", str(text))
    before = len(hooks(model, "echo/0"))
    model.restart_operator("echo")
    model.wait(90)
    assert ("upgrade-charm", "") in hooks(model, "echo/0")[before:]
    assert identity(model) == second
