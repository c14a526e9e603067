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
    rc, _, err = model.run("echo/1", "pod-spec-get | pod-spec-set", operator=True)
    assert rc == 1 and err == "ERROR this unit is not the leader\n"
    rc, _, err = model.run("echo/1", "leader-set x=y", operator=True)
    assert err == "ERROR cannot write leadership settings: cannot write settings: " \
                  "not the leader\n"
    rc, _, err = model.run("echo/1", "status-set --application active hi", operator=True)
    assert rc == 1 and "not the leader" in err
    rc, out, err = model.run("echo/0", "pod-spec-get | pod-spec-set && echo ok", operator=True)
    assert out == "ok\n", err


def test_invalid_spec_fails_the_hook_and_keeps_the_previous_spec(model):
    deploy_echo(model)
    before = model.pod_spec("echo")
    model.config("echo", {"bad-spec": True})
    model.wait_for(lambda st: st["applications"]["echo"]["units"]["echo/0"]["juju-status"]
                   ["current"] == "error", timeout=30)
    assert 'ERROR json: unknown field "bogusKey"' in model.debug_log()
    assert model.pod_spec("echo") == before
    rc, _, err = model.run("echo/0", "echo 'version: 3' | pod-spec-set", operator=True)
    assert (rc, err) == (1, "ERROR require at least one container spec\n")
    model.config("echo", {"bad-spec": False})
    model.wait(60)
    assert model.unit_status("echo/0")["juju-status"]["current"] == "idle"


def test_spec_set_in_a_failed_hook_is_not_committed(model):
    # worker/uniter/runner/runner.go: a hook's non-zero exit is the error its context is
    # flushed with, and Flush writes nothing then.
    deploy_echo(model)
    before = model.pod_spec("echo")
    model.config("echo", {"fail-hook": "config-changed"})
    model.wait_for(lambda st: st["applications"]["echo"]["units"]["echo/0"]["juju-status"]
                   ["current"] == "error", timeout=30)
    # The charm logs this after its pod-spec-set succeeded.
    model.wait_for(lambda st: "failing config-changed on purpose" in model.debug_log(), timeout=30)
    assert "set-by-failed-hook" not in model.pod_spec("echo")
    assert model.pod_spec("echo") == before
    model.config("echo", {"fail-hook": ""})
    model.wait(60)


def test_spec_set_in_a_juju_run_that_exits_non_zero_is_committed(model):
    # juju/utils exec RunParams.Wait: "a non-zero return code ... does not classify as an
    # error", so RunCommands flushes the context of an --operator juju-run with no error.
    deploy_echo(model)
    rc, _, _ = model.run("echo/0", "pod-spec-get | sed s/lm-echo:1.0/other:2/ | pod-spec-set;"
                         " exit 1", operator=True)
    assert rc == 1
    assert "other:2" in model.pod_spec("echo")


def test_missing_resource_blocks_and_attach_resource_recovers(model):
    model.deploy(ECHO, "echo", num_units=1)
    model.wait(60)
    st = model.status()
    assert st["applications"]["echo"]["units"]["echo/0"]["workload-status"] == {
        "current": "blocked", "message": "missing echo-image resource"}
    assert st["pods"] == {}
    rc, _, err = model.run("echo/0", "resource-get echo-image", operator=True)
    assert rc == 1 and "resource#echo/echo-image not found" in err
    model.attach_resource("echo", "echo-image", "lm-echo:1.0")
    model.wait(60)
    assert model.status()["pods"]["echo-0"]["ready"]


def test_broken_image_makes_the_pod_fail(model, tmp_path):
    deploy_echo(model)
    # An empty image path is refused by pod-spec-set (caas/specs/types.go); a malformed one
    # passes and fails the pod.
    model.attach_resource("echo", "echo-image", "")
    model.wait_for(lambda st: st["applications"]["echo"]["units"]["echo/0"]["juju-status"]
                   ["current"] == "error", timeout=30)
    assert "ERROR spec image details is missing" in model.debug_log()
    model.attach_resource("echo", "echo-image", "Not//A:valid image")
    pod = model.wait_for(lambda st: st["pods"].get("echo-0", {}).get("containers", {})
                         .get("echo", {}).get("reason") == "InvalidImageName"
                         and st["pods"]["echo-0"], timeout=60)
    assert pod["phase"] == "Pending" and not pod["ready"]
    yaml_file = tmp_path / "image.yaml"
    yaml_file.write_text("registrypath: localhost:32000/lm-echo:1.0\nusername: u\npassword: p\n")
    model.attach_resource("echo", "echo-image", "@%s" % yaml_file)
    model.wait(60)
    assert model.status()["pods"]["echo-0"]["ready"]
    rc, out, _ = model.run("echo/0", "cat $(resource-get echo-image)", operator=True)
    assert out == yaml_file.read_text()


def _c(extra):
    """V3 with ``extra`` (YAML flow text) added to the container's map."""
    return V3 + "".join("  %s\n" % line for line in extra.splitlines())


@pytest.mark.parametrize("text,message", [
    (V3 + "bogus: 1\n", 'json: unknown field "bogus"'),
    (V3 + "  bogus: 1\n", 'json: unknown field "bogus"'),
    ("version: 3\ncontainers:\n- imageDetails: {imagePath: x}\n", "spec name is missing"),
    ("version: 3\ncontainers:\n- name: c\n", "spec image details is missing"),
    ("version: 4\ncontainers: []\n", "latest supported version 3, but got podspec version 4"),
    (_c("ports: [{containerPort: x}]"), "cannot unmarshal str"),
    # Unknown keys in every nested map: probes and their handlers, the security context ...
    (_c("kubernetes: {readinessProbe: {exec: {command: [a]}, periodSecond: 1}}"),
     'json: unknown field "periodSecond"'),
    (_c("kubernetes: {livenessProbe: {httpGet: {port: 80, pth: /}}}"),
     'json: unknown field "pth"'),
    (_c("kubernetes: {startupProbe: {tcpSocket: {port: x, hots: y}}}"),
     'json: unknown field "hots"'),
    (_c("kubernetes: {securityContext: {runAsUser: 1, capabilities: {ad: [X]}}}"),
     'json: unknown field "ad"'),
    (_c("kubernetes: {securityContext: {fsGroup: 1}}"), 'json: unknown field "fsGroup"'),
    (_c("kubernetes: {resources: {}}"), 'json: unknown field "resources"'),
    # ... envConfig's references ...
    (_c("envConfig: {A: {secret: {name: s, key: k, default: x}}}"),
     'json: unknown field "default"'),
    (_c("envConfig: {A: {field: {path: status.podIP, apiVersion: v1}}}"),
     'json: unknown field "apiVersion"'),
    (_c("envConfig: {A: {config-map: {name: c, ky: k}}}"), 'json: unknown field "ky"'),
    (_c("envConfig: {A: {secretKeyRef: {name: s, key: k}}}"),
     'json: unknown field "secretKeyRef"'),
    # ... volume sources and files ...
    (_c("volumeConfig: [{name: v, mountPath: /v, emptyDir: {medium: Memory, size: 1}}]"),
     'json: unknown field "size"'),
    (_c("volumeConfig: [{name: v, mountPath: /v, files: [{path: a, content: b, owner: 0}]}]"),
     'json: unknown field "owner"'),
    (_c("volumeConfig: [{name: v, mountPath: /v, secret: {name: s, items: []}}]"),
     'json: unknown field "items"'),
    (_c("volumeConfig: [{name: v, mountPath: /v, hostPath: {path: /x, kind: y}}]"),
     'json: unknown field "kind"'),
    # ... the pod, its security context, and the secrets.
    (V3 + "kubernetesResources: {pod: {nodeSelector: {a: b}}}\n",
     'json: unknown field "nodeSelector"'),
    (V3 + "kubernetesResources: {pod: {securityContext: {fsgroup: 1, runAsUsr: 1}}}\n",
     'json: unknown field "runAsUsr"'),
    (V3 + "kubernetesResources: {secrets: [{name: s, stringdata: {a: b}, kind: x}]}\n",
     'json: unknown field "kind"'),
    (V3 + "service: {scalePolicy: serial, replicas: 2}\n", 'json: unknown field "replicas"'),
    # Typed values: Go maps of strings take no numbers.
    (V3 + "kubernetesResources: {secrets: [{name: s, stringData: {a: 1}}]}\n",
     "cannot unmarshal int"),
    (V3 + "configMaps: {cm: {a: 1}}\n", "cannot unmarshal int"),
    # Env values: a scalar, or a map making exactly one reference.
    (_c("envConfig: {A: [1, 2]}"), 'config "A" with type []interface {} not supported'),
    (_c("envConfig: {A: null}"), 'config "A" with type <nil> not supported'),
    (_c("envConfig: {A: {field: {path: status.podIP}, secret: {name: s}}}"),
     'config format of "A" not supported'),
    (_c("envConfig: {A: {field: {api-version: v1}}}"), 'config format of "A" not supported'),
    (_c("envConfig: {A: {}}"), 'config format of "A" not supported'),
    # Volumes, as caas/specs/filesets.go validates them.
    (_c("volumeConfig: [{mountPath: /v, emptyDir: {}}]"), "file set name is missing"),
    (_c("volumeConfig: [{name: v, emptyDir: {}}]"), 'mount path is missing for file set "v"'),
    (_c("volumeConfig: [{name: v, mountPath: /v}]"), 'file set "v" requires volume source'),
    (_c("volumeConfig: [{name: v, mountPath: /v, emptyDir: {}, hostPath: {path: /x}}]"),
     'file set "v" can only have one volume source'),
    (_c("volumeConfig: [{name: v, mountPath: /v, files: [{path: a, content: ''}]}]"),
     'Content is missing for "v"'),
    (_c("volumeConfig: [{name: v, mountPath: /v, emptyDir: {}}, "
        "{name: w, mountPath: /v, emptyDir: {}}]"),
     'duplicated mount path "/v" in container "c" not valid'),
    (V3 + "- name: d\n  image: x\n  volumeConfig: [{name: v, mountPath: /v, emptyDir: {}}]\n"
     "- name: e\n  image: x\n  volumeConfig: [{name: v, mountPath: /v, "
     "emptyDir: {medium: Memory}}]\n",
     'duplicated file "v" with different volume spec not valid'),
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


def test_spec_accepts_what_juju_accepts():
    """Go's decoder matches field names case-insensitively; env scalars of every JSON type;
    one volume shared by two containers; secret and config-map references without a key."""
    spec = podspec.parse(
        "version: 3\nconfigmaps: {cm: {a: b}}\ncontainers:\n"
        "- name: c\n  imageDetails: {imagePath: x}\n"
        "  envConfig: {A: 1, B: true, C: 1.5, D: s, E: {secret: {name: s}},"
        " F: {config-map: {name: cm, key: a, optional: true}},"
        " G: {field: {path: metadata.name, api-version: v1}},"
        " H: {resource: {resource: limits.memory, divisor: 1Mi}}}\n"
        "  volumeConfig: [{name: shared, mountPath: /s, emptyDir: {medium: Memory}}]\n"
        "  kubernetes:\n"
        "    readinessProbe: {httpGet: {path: /, port: http, httpHeaders: [{name: a, value: b}]}}\n"
        "    securityContext: {runAsUser: 0, capabilities: {add: [NET_ADMIN]}}\n"
        "- name: d\n  image: x\n"
        "  volumeConfig: [{name: shared, mountPath: /t, emptyDir: {medium: Memory}}]\n"
        "kubernetesResources:\n"
        "  pod: {securityContext: {fsGroup: 1}, readinessGates: [{conditionType: x}]}\n")
    assert spec["configMaps"] == {"cm": {"a": "b"}}
    assert len(spec["containers"]) == 2
