"""pod-spec-set: leader only, strictly validated, committed only when the hook succeeds."""

import pytest

from conftest import ECHO, deploy_echo
from localmodel import podspec

V3 = """version: 3
containers:
- name: c
  imageDetails: {imagePath: "img:1"}
"""


def test_pod_spec_set_is_leader_only(model):
    deploy_echo(model, n=2)
    rc, _, err = model.run("echo/1", "pod-spec-get | pod-spec-set")
    assert rc == 1 and err == "ERROR this unit is not the leader\n"
    rc, _, err = model.run("echo/1", "leader-set x=y")
    assert err == "ERROR cannot write leadership settings: cannot write settings: " \
                  "not the leader\n"
    rc, _, err = model.run("echo/1", "status-set --application active hi")
    assert rc == 1 and "not the leader" in err
    rc, out, err = model.run("echo/0", "pod-spec-get | pod-spec-set && echo ok")
    assert out == "ok\n", err


def test_invalid_spec_fails_the_hook_and_keeps_the_previous_spec(model):
    deploy_echo(model)
    before = model.pod_spec("echo")
    model.config("echo", {"bad-spec": True})
    model.wait_for(lambda st: st["applications"]["echo"]["units"]["echo/0"]["juju-status"]
                   ["current"] == "error", timeout=30)
    assert 'ERROR json: unknown field "bogusKey"' in model.debug_log()
    assert model.pod_spec("echo") == before
    rc, _, err = model.run("echo/0", "echo 'version: 3' | pod-spec-set")
    assert (rc, err) == (1, "ERROR require at least one container spec\n")
    model.config("echo", {"bad-spec": False})
    model.wait(60)
    assert model.unit_status("echo/0")["juju-status"]["current"] == "idle"


def test_spec_set_in_a_failed_hook_is_not_committed(model):
    deploy_echo(model)
    before = model.pod_spec("echo")
    rc, _, _ = model.run("echo/0", "pod-spec-get | sed s/lm-echo:1.0/other:2/ | pod-spec-set;"
                         " exit 1")
    assert rc == 1
    assert model.pod_spec("echo") == before
    rc, _, _ = model.run("echo/0", "pod-spec-get | sed s/lm-echo:1.0/other:2/ | pod-spec-set")
    assert "other:2" in model.pod_spec("echo")


def test_missing_resource_blocks_and_attach_resource_recovers(model):
    model.deploy(ECHO, "echo", num_units=1)
    model.wait(60)
    st = model.status()
    assert st["applications"]["echo"]["units"]["echo/0"]["workload-status"] == {
        "current": "blocked", "message": "missing echo-image resource"}
    assert st["pods"] == {}
    rc, _, err = model.run("echo/0", "resource-get echo-image")
    assert rc == 1 and "resource#echo/echo-image not found" in err
    model.attach_resource("echo", "echo-image", "lm-echo:1.0")
    model.wait(60)
    assert model.status()["pods"]["echo-0"]["ready"]


def test_broken_image_makes_the_pod_fail(model, tmp_path):
    deploy_echo(model)
    model.attach_resource("echo", "echo-image", "")
    pod = model.wait_for(lambda st: st["pods"].get("echo-0", {}).get("containers", {})
                         .get("echo", {}).get("reason") == "InvalidImageName"
                         and st["pods"]["echo-0"], timeout=60)
    assert pod["phase"] == "Pending" and not pod["ready"]
    yaml_file = tmp_path / "image.yaml"
    yaml_file.write_text("registrypath: localhost:32000/lm-echo:1.0\nusername: u\npassword: p\n")
    model.attach_resource("echo", "echo-image", "@%s" % yaml_file)
    model.wait(60)
    assert model.status()["pods"]["echo-0"]["ready"]
    rc, out, _ = model.run("echo/0", "cat $(resource-get echo-image)")
    assert out == yaml_file.read_text()


@pytest.mark.parametrize("text,message", [
    (V3 + "bogus: 1\n", 'json: unknown field "bogus"'),
    (V3 + "  bogus: 1\n", 'json: unknown field "bogus"'),
    ("version: 3\ncontainers:\n- imageDetails: {imagePath: x}\n", "spec name is missing"),
    ("version: 3\ncontainers:\n- name: c\n", "spec image details is missing"),
    ("version: 4\ncontainers: []\n", "version 4 not supported"),
    (V3 + "  ports: [{containerPort: x}]\n", "cannot unmarshal str"),
    (V3 + "  envConfig: {A: {field: {path: status.podIP}, secret: {name: s}}}\n",
     "can only have one of"),
])
def test_spec_validation_messages(text, message):
    with pytest.raises(podspec.SpecError) as e:
        podspec.parse(text)
    assert message in str(e.value)


def test_spec_v2_is_normalized_and_k8s_resources_appended():
    spec = podspec.parse("version: 2\ncontainers:\n- name: c\n  image: x\n  config: {A: 1}\n"
                         "  files:\n  - name: f\n    mountPath: /m\n    files: {a.conf: hi}\n",
                         "kubernetesResources:\n  pod: {terminationGracePeriodSeconds: 7}\n")
    c = spec["containers"][0]
    assert c["envConfig"] == {"A": 1}
    assert c["volumeConfig"] == [{"name": "f", "mountPath": "/m",
                                  "files": [{"path": "a.conf", "content": "hi"}]}]
    assert podspec.grace_period(spec) == 7
