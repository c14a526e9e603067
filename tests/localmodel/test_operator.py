"""The operator: one charm directory per unit, and what an operator pod restart does."""

import os
import shutil

from conftest import ECHO, deploy_echo, hooks


def test_each_unit_has_its_own_charm_directory(model):
    deploy_echo(model, n=2)
    dirs = {}
    for unit in ("echo/0", "echo/1"):
        rc, out, err = model.run(unit, "pwd; echo $CHARM_DIR; test -x hooks/install",
                                 operator=True)
        assert rc == 0, err
        dirs[unit] = out.split()
        assert dirs[unit] == [model.paths.unit_charm(unit)] * 2
    assert model.run("echo/0", "touch written-by-0", operator=True)[0] == 0
    assert model.run("echo/1", "test -e written-by-0", operator=True)[0] == 1


def test_restart_operator_loses_processes_and_files_then_runs_upgrade_charm(model):
    deploy_echo(model, n=2)
    rc, _, err = model.run("echo/0", "touch written-by-hook; setsid nohup sleep 301 "
                           ">/dev/null 2>&1 </dev/null &", operator=True)
    assert rc == 0, err
    assert model.run("echo/0", "pgrep -x sleep", operator=True)[0] == 0
    before = {u: len(hooks(model, u)) for u in ("echo/0", "echo/1")}
    model.restart_operator("echo")
    model.wait(90)
    # Juju 2.9: the uniter finds its charm directory gone while the controller says the
    # charm is installed and started: upgrade-charm, then config-changed. Nothing else.
    for unit in ("echo/0", "echo/1"):
        assert hooks(model, unit)[before[unit]:] == [("upgrade-charm", ""),
                                                     ("config-changed", "")]
    assert model.run("echo/0", "pgrep -x sleep", operator=True)[0] == 1
    rc, out, _ = model.run("echo/0", "test -e written-by-hook || echo gone; test -x "
                           "hooks/install && pwd", operator=True)
    assert out.split() == ["gone", model.paths.unit_charm("echo/0")]
    st = model.status()["applications"]["echo"]
    assert st["units"]["echo/0"]["leader"]
    assert all(u["workload-status"]["current"] == "active" for u in st["units"].values())


def test_units_numbers_grow_and_pods_keep_ordinals(model):
    deploy_echo(model, n=3)
    assert model.exec("echo-2", "echo kept > /srv/lm-echo/data/marker")[0] == 0
    model.scale("echo", 2)
    model.wait(90)
    model.scale("echo", 3)
    model.wait(90)
    st = model.status()
    units = st["applications"]["echo"]["units"]
    assert sorted(units) == ["echo/0", "echo/1", "echo/3"]
    assert sorted(st["pods"]) == ["echo-0", "echo-1", "echo-2"]
    assert {u: r["provider-id"] for u, r in units.items()} == {
        "echo/0": "echo-0", "echo/1": "echo-1", "echo/3": "echo-2"}
    assert units["echo/3"]["address"] == st["pods"]["echo-2"]["address"]
    # The new unit's pod is ordinal 2: it gets that ordinal's storage back.
    assert model.exec("echo-2", "cat /srv/lm-echo/data/marker") == (0, "kept\n", "")
    assert model.run("echo/3", "hostname") == (0, "echo-2\n", "")
    assert model.run("echo/3", "pwd", operator=True)[1].strip() == \
        model.paths.unit_charm("echo/3")
    assert not os.path.exists(model.paths.unit("echo/2"))


def test_a_unit_gets_what_juju_archives_of_the_charm_directory(model, tmp_path):
    # juju/charm dir.go defaultJujuIgnore: VCS and tox directories anywhere, build/, revision
    # and version at the top; bytecode the charm ships is kept.
    charm = str(tmp_path / "echo")
    shutil.copytree(ECHO, charm)
    for rel in ("src/__pycache__/shipped.cpython-311.pyc", ".git/HEAD", "build/leftover",
                "src/.tox/log", "src/build/kept", "src/version"):
        os.makedirs(os.path.dirname(os.path.join(charm, rel)), exist_ok=True)
        with open(os.path.join(charm, rel), "w") as f:
            f.write("x")
    model.deploy(charm, "echo", num_units=1, resources={"echo-image": "lm-echo:1.0"})
    model.wait(90)
    unit = model.paths.unit_charm("echo/0")
    for rel in ("src/__pycache__/shipped.cpython-311.pyc", "src/build/kept", "src/version"):
        assert os.path.isfile(os.path.join(unit, rel)), rel
    for rel in (".git", "build", "src/.tox"):
        assert not os.path.exists(os.path.join(unit, rel)), rel

