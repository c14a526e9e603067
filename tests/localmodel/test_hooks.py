"""Hook order, hook environment, failed hooks and their retries, upgrade, update-status."""

import os
import time

import pytest

from localmodel.client import ModelError

from conftest import ECHO, deploy_echo, hooks


def test_deploy_hook_order_follows_juju(model):
    deploy_echo(model, n=2)
    # Storage comes with the pod, so its hook follows start and the pod's creation.
    for unit in ("echo/0", "echo/1"):
        seen = [h for h, _ in hooks(model, unit)]
        assert seen.count("data-storage-attached") == 1
        assert seen.index("data-storage-attached") > seen.index("start")
    assert hooks_without_storage(model, "echo/0")[:7] == [
        ("install", ""), ("cluster-relation-created", ""), ("leader-elected", ""),
        ("config-changed", ""), ("start", ""),
        ("cluster-relation-joined", "echo/1"), ("cluster-relation-changed", "echo/1")]
    assert hooks_without_storage(model, "echo/1")[:7] == [
        ("install", ""), ("cluster-relation-created", ""), ("leader-settings-changed", ""),
        ("config-changed", ""), ("start", ""),
        ("cluster-relation-joined", "echo/0"), ("cluster-relation-changed", "echo/0")]
    units = model.status()["applications"]["echo"]["units"]
    assert units["echo/0"]["leader"] and not units["echo/1"]["leader"]
    assert units["echo/1"]["workload-status"] == {"current": "active", "message": "ready"}
    assert "unit.echo/1.juju-log LEADER echo/0" in model.debug_log()


def hooks_without_storage(m, unit):
    return [h for h in hooks(m, unit) if "-storage-" not in h[0]]


def test_hook_environment_and_run(model):
    deploy_echo(model)
    rc, out, err = model.run("echo/0", "env", operator=True)
    assert rc == 0, err
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert env["JUJU_UNIT_NAME"] == "echo/0"
    assert env["JUJU_MODEL_NAME"] == "test"
    assert env["JUJU_VERSION"].startswith("2.9.")
    assert env["CHARM_DIR"] == env["JUJU_CHARM_DIR"] == model.paths.unit_charm("echo/0")
    # Set, but empty: a juju-run context is not a hook (HookVars).
    assert env["JUJU_HOOK_NAME"] == ""
    assert env["PATH"].split(":")[:2] == [model.paths.tools, model.paths.operator_bin]
    assert env["PATH"].split(":")[2:] == ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    # Juju 2.9's operator image is Ubuntu 20.04's: its python3 is 3.8 (this machine has one).
    rc, out, err = model.run("echo/0", "python3 -c 'import sys; print(*sys.version_info[:3])'",
                             operator=True)
    assert rc == 0, err
    assert out.split()[:2] == ["3", "8"]
    assert model.status()["model"]["operator-python"] == ".".join(out.split())
    rc, out, _ = model.run("echo/0", "pwd; hostname; . /etc/os-release; echo $ID $VERSION_ID",
                           operator=True)
    assert out.split() == [env["CHARM_DIR"], "echo-operator-0", "ubuntu", "20.04"]
    rc, out, err = model.run("echo/0", "exit 3", operator=True)
    assert rc == 3


def test_hook_tool_errors_and_formats(model):
    deploy_echo(model)
    cases = {
        "config-get --bogus": (2, "", "ERROR flag provided but not defined: --bogus\n"),
        "status-set happy": (2, "", 'ERROR invalid status "happy", expected one of '
                                    '[maintenance blocked waiting active]\n'),
        "relation-get": (1, "", "ERROR no relation id specified\n"),
        "relation-list -r 99": (2, "", 'ERROR invalid value "99" for option -r: '
                                       'relation not found\n'),
        "network-get nowhere": (1, "", 'ERROR no network config found for binding '
                                       '"nowhere"\n'),
        "is-leader": (0, "True\n", ""),
        "is-leader --format=json": (0, "true\n", ""),
        "config-get port --format yaml": (0, "7000\n...\n", ""),
        "leader-get --format=json": (0, '{"leader": "echo/0"}\n', ""),
        "storage-get -s data/0 location": (0, "/srv/lm-echo/data\n", ""),
        "application-version-set 1.2.3": (0, "", ""),
        "relation-set --help | grep -c -- --file": (0, "1\n", ""),
    }
    for cmd, expected in cases.items():
        assert model.run("echo/0", cmd, operator=True) == expected, cmd
    assert model.status()["applications"]["echo"]["version"] == "1.2.3"


def test_the_hook_tools_are_one_compiled_client_as_jujud_is(model):
    # Every tool name links to one client; a compiled one, so that a call costs what a jujud
    # start costs, not a Python interpreter's (about 30 ms of every call of every hook).
    deploy_echo(model)
    tools = model.paths.tools
    with open(os.path.join(tools, "jujuc"), "rb") as handle:
        assert handle.read(4) == b"\x7fELF"
    assert os.readlink(os.path.join(tools, "relation-get")) == "jujuc"
    # Characters that JSON escapes, there and back unchanged.
    text = 'a "quoted" \\ line\twith\u00e9 tab'
    rc, out, err = model.run("echo/0", "leader-set k=\"$(printf '%%b' '%s')\" && leader-get k"
                             % text.replace("\\", "\\\\"), operator=True)
    assert (rc, out, err) == (0, text + "\n", ""), (rc, out, err)


def test_charmhelpers_works_in_the_operator(model, tmp_path):
    import charmhelpers
    vendored = tmp_path / "lib"
    vendored.mkdir()
    (vendored / "charmhelpers").symlink_to(os.path.dirname(charmhelpers.__file__))
    deploy_echo(model, n=2)
    script = ("import subprocess\n"
              "from charmhelpers.core import hookenv, host\n"
              "rid = hookenv.relation_ids('cluster')[0]\n"
              "hookenv.relation_set(rid, {'k': 'v', 'gone': None})\n"
              "print(hookenv.is_leader(), hookenv.config('port'), hookenv.related_units(rid),"
              " hookenv.relation_get('k', hookenv.local_unit(), rid),"
              " hookenv.unit_get('private-address') == "
              "subprocess.check_output(['network-get', 'cluster', '--ingress-address']).decode().strip(),"
              " hookenv.status_get()[0])\n")
    rc, out, err = model.run("echo/1", "PYTHONPATH=%s /usr/bin/python3 -c \"%s\""
                             % (vendored, script), operator=True)
    assert rc == 0, err
    assert out.split() == ["False", "7000", "['echo/0']", "v", "True", "active"]
    model.wait(60)
    assert ("cluster-relation-changed", "echo/1") in hooks(model, "echo/0")[-1:]


def test_relation_hook_environment(model):
    deploy_echo(model, n=2)
    # The peer relation's hooks see their relation and remote unit.
    rc, out, _ = model.run("echo/1", "relation-ids cluster; relation-list -r cluster:1",
                           operator=True)
    assert out.split() == ["cluster:1", "echo/0"]


def test_config_change_runs_config_changed(model):
    deploy_echo(model)
    before = len(hooks(model, "echo/0"))
    model.config("echo", {"greeting": "salut"})
    model.wait(60)
    assert hooks(model, "echo/0")[before:] == [("config-changed", "")]
    rc, out, _ = model.run("echo/0", "config-get greeting", operator=True)
    assert out == "salut\n"


def test_failed_hook_sets_error_and_is_retried(model):
    deploy_echo(model)
    model.config("echo", {"fail-hook": "config-changed"})
    unit = model.wait_for(lambda st: st["applications"]["echo"]["units"]["echo/0"]
                          if st["applications"]["echo"]["units"]["echo/0"]["juju-status"]
                          ["current"] == "error" else None, timeout=30)
    assert unit["juju-status"]["message"] == 'hook failed: "config-changed"'
    model.wait_for(lambda st: hooks(model, "echo/0").count(("config-changed", "")) >= 3,
                   timeout=30)
    model.config("echo", {"fail-hook": ""})
    model.wait(60)
    assert model.unit_status("echo/0")["juju-status"]["current"] == "idle"


def test_upgrade_and_attach_resource_run_upgrade_charm(model):
    deploy_echo(model)
    rc, _, err = model.run("echo/0", "mkdir -p state && echo kept > state/written-by-charm",
                           operator=True)
    assert rc == 0, err
    before = len(hooks(model, "echo/0"))
    assert model.upgrade("echo", ECHO) == 1
    model.wait(60)
    assert hooks(model, "echo/0")[before:] == [("upgrade-charm", ""), ("config-changed", "")]
    # As with Juju's charm deployer, files the charm wrote itself survive the upgrade.
    assert model.run("echo/0", "cat state/written-by-charm", operator=True)[1].strip() == "kept"
    before = len(hooks(model, "echo/0"))
    model.attach_resource("echo", "echo-image", "localhost:32000/lm-echo:1.0")
    model.wait(60)
    assert hooks(model, "echo/0")[before:] == [("upgrade-charm", ""), ("config-changed", "")]
    assert "localhost:32000/lm-echo:1.0" in model.pod_spec("echo")


def test_update_status_runs_on_the_interval(make_model):
    m = make_model(update_status_interval=1)
    deploy_echo(m)
    m.wait_for(lambda st: hooks(m, "echo/0").count(("update-status", "")) >= 2, timeout=20)


def test_each_hook_run_keeps_its_hook_tool_calls(make_model):
    m = make_model(update_status_interval=1)
    deploy_echo(m)
    m.wait_for(lambda st: ("update-status", "echo/0") in
               [run[:2] for run in m.hook_tool_calls()], timeout=20)
    calls = {hook: tools for hook, unit, _, tools in m.hook_tool_calls() if unit == "echo/0"}
    # What the echo charm's install and update-status hooks call, each tool once but
    # status-set (maintenance, then active) in install.
    assert calls["install"] == {"juju-log": 1, "config-get": 1, "is-leader": 1,
                                "status-set": 2, "resource-get": 1}
    assert calls["update-status"] == {"juju-log": 1, "config-get": 1, "is-leader": 1,
                                      "resource-get": 1, "status-set": 1}
    # The same runs as hook_runs(), in the same order (update-status may add one meanwhile).
    runs = m.hook_runs()
    assert [run[:3] for run in m.hook_tool_calls()][:len(runs)] == runs


def test_background_process_outlives_its_hook(model):
    deploy_echo(model)
    rc, _, _ = model.run("echo/0", "setsid nohup sleep 300 >/dev/null 2>&1 & echo $! > /tmp/x",
                         operator=True)
    assert rc == 0
    rc, out, _ = model.run("echo/0", "pgrep -x sleep", operator=True)
    assert rc == 0 and out.strip()


def test_juju_run_from_a_background_watcher(model):
    deploy_echo(model, n=2)
    # A process a hook leaves running, without the hook's context (as a watcher drops it).
    rc, _, err = model.run("echo/0", "(sleep 0.5; env -u JUJU_CONTEXT_ID juju-run --operator "
                           "echo/1 'status-set active triggered') >/dev/null 2>&1 </dev/null "
                           "& disown", operator=True)
    assert rc == 0, err
    model.wait_for(lambda st: st["applications"]["echo"]["units"]["echo/1"]
                   ["workload-status"]["message"] == "triggered", timeout=20)
    # From within a hook context it is refused, as cmd/jujud/run.go does.
    rc, _, err = model.run("echo/0", "juju-run --operator echo/1 true", operator=True)
    assert rc == 1 and "juju-run cannot be called from within a hook, have context" in err


def test_juju_run_waits_for_the_hook_lock(model, tmp_path):
    deploy_echo(model)
    out = tmp_path / "out"
    # The background juju-run starts while this run holds the operator's lock: it waits for
    # the lock (and sees the run's commit) instead of failing.
    rc, _, err = model.run("echo/0", "(env -u JUJU_CONTEXT_ID juju-run --operator echo/0 "
                           "'config-get port; echo done' > %s 2>&1 &) ; sleep 2; echo first > %s.1"
                           % (out, out), operator=True)
    assert rc == 0, err
    model.wait_for(lambda st: out.exists() and "done" in out.read_text(), timeout=20)
    assert out.read_text() == "7000\ndone\n"
    assert os.path.getmtime(str(out) + ".1") <= os.path.getmtime(out)


def test_moved_leadership_and_removing_the_leaders_unit_elect_a_new_leader(model):
    deploy_echo(model, n=3)
    bystander_hooks = len(hooks(model, "echo/1"))
    model.move_leader("echo", "echo/2")
    model.wait(60)
    units = model.status()["applications"]["echo"]["units"]
    assert [u for u, rec in units.items() if rec["leader"]] == ["echo/2"]
    assert hooks(model, "echo/2")[-1] == ("leader-elected", "")
    # The deposed leader catches up with leader settings; a minion that was up to date runs the
    # hook once, for the new leader's leader-set in leader-elected, not for the move itself.
    assert hooks(model, "echo/0")[-1] == ("leader-settings-changed", "")
    assert hooks(model, "echo/1")[bystander_hooks:] == [("leader-settings-changed", "")]
    rc, out, _ = model.run("echo/2", "is-leader", operator=True)
    assert (rc, out.strip()) == (0, "True")
    model.scale("echo", 2)  # removes echo/2, the leader
    model.wait(60)
    units = model.status()["applications"]["echo"]["units"]
    assert sorted(units) == ["echo/0", "echo/1"]
    leaders = [u for u, rec in units.items() if rec["leader"]]
    assert len(leaders) == 1
    assert hooks(model, leaders[0])[-1] == ("leader-elected", "")


def test_resource_get_of_a_file_resource_never_uploaded_fails_as_in_juju(model, tmp_path):
    # Juju 2.9: a local charm's file resource with nothing uploaded has no revision to
    # download, and resource-get fails with the controller's "not found" (juju/juju#12367
    # quotes it: "ERROR could not download resource: HTTP request failed: Get
    # https://.../units/unit-dummy-resource-0/resources/upload-resource:
    # resource#dummy-resource/upload-resource not found"). Attached, it gives the file's path
    # under the resource's declared filename.
    deploy_echo(model)
    rc, out, err = model.run("echo/0", "resource-get motd", operator=True)
    assert (rc, out) == (1, "")
    assert err.startswith("ERROR could not download resource: HTTP request failed: Get https://")
    assert err.rstrip().endswith("/units/unit-echo-0/resources/motd: resource#echo/motd not found")
    text = tmp_path / "anything.txt"
    text.write_text("hello\n")
    model.attach_resource("echo", "motd", str(text))
    model.wait(60)
    rc, out, err = model.run("echo/0", "cat \"$(resource-get motd)\"; basename \"$(resource-get motd)\"",
                             operator=True)
    assert (rc, out, err) == (0, "hello\nmotd.txt\n", "")


def test_attach_resource_refuses_another_extension_and_the_same_bytes_run_no_hook(model, tmp_path):
    # Juju's upload handler: 'incorrect extension on resource upload "x.key", expected ".txt"';
    # StagedResource.Activate bumps the charm-modified version (upgrade-charm) only for new bytes.
    deploy_echo(model)
    wrong = tmp_path / "motd.key"
    wrong.write_text("hello\n")
    with pytest.raises(ModelError) as refused:
        model.attach_resource("echo", "motd", str(wrong))
    assert 'incorrect extension on resource upload "motd.key", expected ".txt"' in str(refused.value)
    text = tmp_path / "motd.txt"
    text.write_text("hello\n")
    model.attach_resource("echo", "motd", str(text))
    model.wait(60)
    before = len(hooks(model, "echo/0"))
    model.attach_resource("echo", "motd", str(text))
    model.wait(60)
    time.sleep(2)
    assert hooks(model, "echo/0")[before:] == []
    text.write_text("hello again\n")
    model.attach_resource("echo", "motd", str(text))
    model.wait(60)
    assert hooks(model, "echo/0")[before:] == [("upgrade-charm", ""), ("config-changed", "")]
