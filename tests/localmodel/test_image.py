"""The image: containers run in a root built from Debian packages, found by the image name."""

import json
import os
import time
import uuid

import pytest

import conftest
from conftest import ask, deploy_echo
from localmodel import images
from localmodel.runtime import podinit

DIGEST = "@sha256:" + "0" * 64


def set_spec(model, tmp_path, change):
    conftest.set_spec(model, tmp_path, change)
    model.wait(90)


# ---- names and the store ------------------------------------------------------------------

@pytest.mark.parametrize("ref,selected", [
    ("redis:7.0", ("redis", "7.0")),
    ("docker.io/library/redis:7.0", ("redis", "7.0")),
    ("localhost:32000/team/redis:7.0" + DIGEST, ("redis", "7.0")),
    ("redis", ("redis", "latest")),
    ("redis" + DIGEST, ("redis", "latest")),
    ("localhost:5000/lm-echo", ("lm-echo", "latest")),
])
def test_image_names_select_the_last_path_element_and_the_tag(ref, selected):
    assert images.parse_reference(ref) == selected


def test_names_map_to_recipes_and_unknown_ones_to_nothing():
    assert images.recipe_for("redis:7.0").name == "redis"
    assert images.recipe_for("localhost:32000/lm-echo:1.0").name == "lm-echo"
    for missing in ("redis", "redis:6.2", "busybox:1", "lm-echo:9.9"):
        assert images.recipe_for(missing) is None
        assert images.lookup(missing) is None
    with pytest.raises(images.ImageError, match="no recipe"):
        images.build("busybox:1")


def test_built_images_are_found_and_kept_by_recipe(monkeypatch):
    root = images.lookup("redis:7.0")
    assert root and os.path.isdir(os.path.join(root, "usr/bin"))
    assert root.startswith(images.store_dir() + "/")
    with open(os.path.join(os.path.dirname(root), "stamp.json")) as f:
        stamp = json.load(f)
    assert any(p.startswith("redis-server 5:7.0.") for p in stamp["packages"])
    # Built once: a second build reuses it without running mmdebstrap.
    monkeypatch.setattr(images.subprocess, "run", lambda *a, **k: pytest.fail("rebuilt"))
    assert images.build("redis") == root
    # A changed recipe is another build: the old tree no longer answers for the name.
    monkeypatch.setattr(images, "BUILD_VERSION", images.BUILD_VERSION + 1)
    assert images.lookup("redis:7.0") is None


def test_the_redis_image_has_what_redis_7_0_has_and_no_python():
    root = images.lookup("redis:7.0")
    images.check_tree(images.recipe_for("redis:7.0"), root)
    with open(os.path.join(root, "usr/lib/os-release")) as f:
        assert "VERSION_CODENAME=bookworm" in f.read()
    assert not os.path.lexists(os.path.join(root, "usr/bin/python3"))


def test_a_tree_with_python_or_without_the_redis_user_fails_the_build(tmp_path):
    root = tmp_path / "root"
    for d in ("bin", "usr/bin", "etc"):
        (root / d).mkdir(parents=True)
    for f in list(images.BASE_REQUIRED) + ["usr/bin/redis-server", "usr/bin/redis-sentinel",
                                           "usr/bin/redis-cli", "usr/bin/python3"]:
        (root / f).touch()
    (root / "etc/os-release").write_text("VERSION_CODENAME=bookworm\n")
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    with pytest.raises(images.ImageError, match="has /usr/bin/python3; no user redis"):
        images.check_tree(images.recipe_for("redis:7.0"), str(root))
    (root / "usr/bin/python3").unlink()
    (root / "etc/passwd").write_text("redis:x:100:101::/var/lib/redis:/usr/sbin/nologin\n")
    images.check_tree(images.recipe_for("redis:7.0"), str(root))


def test_pull_backs_off_like_the_kubelet_and_finds_the_image_once_built(tmp_path):
    pod = {"name": "p-0", "marker": "x", "images": str(tmp_path), "dir": str(tmp_path)}
    spec = {"name": "c", "image": "redis:7.0", "env": {}, "command": ["/bin/true"], "args": []}
    c = podinit.Container(pod, spec, str(tmp_path))
    t = time.time()
    assert c.pull(t) is None
    assert (c.state, c.pull_retry_at, c.status()["reason"]) == ("waiting", t + 10, "ErrImagePull")
    c.pull_failed_at -= 2  # the next sync, still in backoff
    assert c.status()["reason"] == "ImagePullBackOff"
    assert c.pull(t + 10) is None and c.pull_retry_at == t + 30
    for delay in (30, 70, 150, 310):
        c.pull(t + delay)
    assert c.pull_retry_at == t + 310 + 300
    built = tmp_path / ("redis-" + images.recipe_for("redis:7.0").key())
    (built / "rootfs").mkdir(parents=True)
    (built / "stamp.json").write_text("{}")
    assert c.pull(t + 610) == str(built / "rootfs")


# ---- containers in their image ------------------------------------------------------------

def test_containers_run_in_their_image_and_see_nothing_else_of_the_host(model, tmp_path):
    deploy_echo(model)
    host_only = tmp_path / "host-only.txt"
    host_only.write_text("host\n")
    conf = "/srv/lm-image-%s/conf" % uuid.uuid4().hex[:8]

    def add_redis(spec):
        spec["containers"].append({
            "name": "redis", "imageDetails": {"imagePath": "redis:7.0"},
            "workingDir": os.path.dirname(conf),
            "command": ["/bin/sh", "-c",
                        # A probe reaches $POD_IP from the pod's own address, as in a pod:
                        # not loopback, so without a password protected mode would refuse it.
                        "exec redis-server --bind $POD_IP --port 7379 --save '' "
                        "--protected-mode no"],
            "envConfig": {"POD_IP": {"field": {"path": "status.podIP"}}},
            "volumeConfig": [{"name": "rconf", "mountPath": conf,
                              "files": [{"path": "a.txt", "content": "in the spec\n"}]}],
            # Probes run in the container's root: the host's file is not there, redis-cli is.
            "kubernetes": {"readinessProbe": {"exec": {"command": [
                "/bin/sh", "-c", "test ! -e %s && grep -q bookworm /etc/os-release && "
                "redis-cli -h $POD_IP -p 7379 ping | grep -q PONG" % host_only]},
                "periodSeconds": 1}}})
    set_spec(model, tmp_path, add_redis)
    pod = model.status()["pods"]["echo-0"]
    assert pod["ready"] and pod["containers"]["redis"]["ready"], pod
    address = model.pod_address("echo-0")
    assert ask(address, "PING", port=7379) == ["+PONG"]

    rc, out, err = model.exec("echo-0", [
        "/bin/sh", "-c",
        "grep VERSION_CODENAME /etc/os-release; test -e /usr/bin/python3 || echo no-python; "
        "test -e %s || echo no-host-file; redis-server --version | cut -d' ' -f3; "
        "getent hosts echo-0 | cut -d' ' -f1; cat %s/a.txt; id -un redis; hostname; "
        "echo $POD_IP; /bin/pwd; ls; ls -a /" % (host_only, conf)], container="redis")
    assert rc == 0, err
    lines = out.splitlines()
    # exec starts in the working directory, inside the container's root.
    assert lines[9:11] == [os.path.dirname(conf), "conf"]
    del lines[9:11]
    assert lines[3].startswith("v=7.0."), lines
    assert lines[:3] + lines[4:9] == ["VERSION_CODENAME=bookworm", "no-python", "no-host-file",
                                      address, "in the spec", "redis", "echo-0", address]
    root = images.lookup("redis:7.0")
    assert set(lines[9:]) == set(os.listdir(root)) | {".", ".."}
    # The echo container runs its own image, python included.
    rc, out, _ = model.exec("echo-0", "grep VERSION_CODENAME /etc/os-release; "
                            "ls /usr/bin/python3; test -e %s || echo no-redis-conf" % conf)
    assert out.split() == ["VERSION_CODENAME=bookworm", "/usr/bin/python3", "no-redis-conf"]
    # Mount points were made inside the containers, not on the host.
    assert not os.path.exists(os.path.dirname(conf))
    assert ask(address, "CAT /etc/hostname", "RESOLVE echo-0") == ["echo-0\n", address]


def test_the_writable_layer_is_private_and_fresh_at_each_start(model):
    deploy_echo(model)
    rc, out, err = model.exec("echo-0", "echo mine > /etc/written && cat /etc/written")
    assert (rc, out) == (0, "mine\n"), err
    layer = os.path.join(model.home, "pods", "echo-0", "rootfs", "echo", "upper", "etc")
    assert os.path.exists(os.path.join(layer, "written"))
    assert not os.path.exists(os.path.join(images.lookup("lm-echo:1.0"), "etc", "written"))
    assert ask(model.pod_address("echo-0"), "CAT /etc/written") == ["mine\n"]
    model.kill("echo-0", "echo")
    model.wait_for(lambda s: s["pods"]["echo-0"]["containers"]["echo"]["restarts"] == 1
                   and s["pods"]["echo-0"]["ready"], timeout=40)
    rc, out, _ = model.exec("echo-0", "test -e /etc/written || echo fresh")
    assert out == "fresh\n"


def test_an_image_missing_from_the_store_is_err_image_pull_until_a_known_one(model):
    deploy_echo(model, resources={"echo-image": "lm-echo:9.9"})
    pod = model.wait_for(lambda s: s["pods"].get("echo-0", {}).get("containers", {})
                         .get("echo", {}).get("reason") == "ImagePullBackOff"
                         and s["pods"]["echo-0"], timeout=30)
    assert pod["phase"] == "Pending" and not pod["ready"]
    assert pod["containers"]["echo"]["state"] == "waiting"
    # Another registry, a path and a digest: the same image, found by name and tag.
    model.attach_resource("echo", "echo-image", "localhost:32000/tests/lm-echo:1.0" + DIGEST)
    model.wait(90)
    assert model.status()["pods"]["echo-0"]["ready"]
    assert ask(model.pod_address("echo-0"), "PING") == ["PONG echo-0"]


def test_the_exporter_image_has_the_binary_where_the_upstream_image_has_it():
    # oliver006/redis_exporter:v1.45.0 runs /redis_exporter; Debian's 1.45.0 package is linked there.
    assert images.recipe_for("oliver006/redis_exporter:v1.45.0").name == "redis_exporter"
    root = images.lookup("docker.io/oliver006/redis_exporter:v1.45.0")
    assert root
    images.check_tree(images.recipe_for("redis_exporter:v1.45.0"), root)
    assert os.readlink(os.path.join(root, "redis_exporter")) == "/usr/bin/prometheus-redis-exporter"
    with open(os.path.join(os.path.dirname(root), "stamp.json")) as f:
        assert any(p.startswith("prometheus-redis-exporter 1.45.0") for p in json.load(f)["packages"])
