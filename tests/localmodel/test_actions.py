"""Juju 2.9 actions in the local model: actions.yaml, parameter validation with Juju's messages,
the CLI's value parsing and output, the action hook tools, where an action runs (the unit's
workload pod; the operator with ``workload-context=false``) and the hook lock."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from conftest import ECHO, config_changed_waiting_for_the_lock, deploy_echo, set_spec
from localmodel import actions
from localmodel.client import ModelError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def specs():
    with open(os.path.join(ECHO, "actions.yaml")) as handle:
        return actions.parse_actions_yaml(handle.read())


# ---- actions.yaml and validation, without a model ------------------------------------------

def test_actions_yaml_becomes_one_json_schema_per_action():
    greet = specs()["greet"]
    assert greet["title"] == "greet" and greet["type"] == "object"
    assert greet["required"] == ["name"] and greet["additionalProperties"] is False
    assert specs()["crash"]["description"] == "Exit 3 without action-fail."
    assert "additionalProperties" not in specs()["fail"]
    with pytest.raises(actions.ActionsError, match="bad action name Bad_Name"):
        actions.parse_actions_yaml("Bad_Name: {}")
    with pytest.raises(actions.ActionsError, match='schema key "\\$ref" not compatible'):
        actions.parse_actions_yaml("a:\n  params:\n    x: {$ref: '#/x'}\n")


def test_validation_refuses_what_juju_refuses_with_its_messages():
    s = specs()
    prep = actions.prepare
    with pytest.raises(actions.ActionsError) as e:
        prep(s, "echo/0", "nope", {})
    assert str(e.value) == 'action "nope" not defined on unit "echo/0"'
    with pytest.raises(actions.ActionsError) as e:
        prep(s, "echo/0", "greet", {"name": 5})
    assert str(e.value) == "validation failed: (root).name : must be of type string, given 5"
    with pytest.raises(actions.ActionsError) as e:
        prep(s, "echo/0", "greet", {"times": 2})
    assert str(e.value) == ('validation failed: (root) : "name" property is missing and '
                            'required, given {"times":2}')
    with pytest.raises(actions.ActionsError) as e:
        prep(s, "echo/0", "greet", {"name": "x", "colour": "red"})
    assert str(e.value) == ('validation failed: (root) : additional property "colour" is not '
                            'allowed, given {"colour":"red","name":"x"}')
    with pytest.raises(actions.ActionsError) as e:
        prep(s, "echo/0", "greet", {"times": "two"})
    assert str(e.value) == (
        'validation failed: (root) : "name" property is missing and required, given '
        '{"times":"two"}; (root).times : must be of type integer, given "two"')
    with pytest.raises(actions.ActionsError, match=r"\(root\).options.loud : must be of type "
                       "boolean, given \"yes please\""):
        prep(s, "echo/0", "greet", {"name": "x", "options": {"loud": "yes please"}})
    # Without additionalProperties, Juju 2.9 takes extra parameters; defaults are inserted.
    assert prep(s, "echo/0", "fail", {"extra": 1}) == {"extra": 1,
                                                       "reason": "broken on purpose"}
    assert prep(s, "echo/0", "greet", {"name": "x"}) == {"name": "x", "times": 1}
    with pytest.raises(actions.ActionsError, match='no actions defined on charm'):
        prep({}, "echo/0", "greet", {})


def test_cli_values_are_yaml_as_juju_reads_them():
    parse = actions.parse_key_values
    assert parse(["n=3", "b=true", "y=y", "s=hello", "f=1.5", "e=", "l=[1, a]"]) == {
        "n": 3, "b": True, "y": True, "s": "hello", "f": 1.5, "e": "", "l": [1, "a"]}
    assert parse(["n=3", "b=true"], string_args=True) == {"n": "3", "b": "true"}
    assert parse(["file.kind=xz", "file.quality=9", "out=a=b"]) == {
        "file": {"kind": "xz", "quality": 9}, "out": "a=b"}
    assert parse(["x=2"], base={"x": 1, "y": 1}) == {"x": 2, "y": 1}
    with pytest.raises(actions.ActionsError, match='argument "novalue" must be of the form'):
        parse(["novalue"])
    with pytest.raises(actions.ActionsError, match='key "Bad" must start and end with'):
        parse(["Bad=1"])


def test_output_is_the_2_9_compatible_result_shape():
    record = {"id": "7", "unit": "echo/0", "name": "greet", "status": "failed",
              "message": "exit status 3", "log": [[0, "starting"]],
              "results": {"Code": "3", "Stdout": "out\r\nmore\n", "Stderr": "", "k": "v"},
              "enqueued": 0, "started": 1, "completed": 2}
    assert actions.format_result(record) == {
        "id": "7", "UnitId": "echo/0", "status": "failed", "message": "exit status 3",
        "log": ["1970-01-01 00:00:00 +0000 UTC starting"],
        "results": {"ReturnCode": 3, "Stdout": "out\nmore\n", "k": "v"},
        "timing": {"enqueued": "1970-01-01 00:00:00 +0000 UTC",
                   "started": "1970-01-01 00:00:01 +0000 UTC",
                   "completed": "1970-01-01 00:00:02 +0000 UTC"}}
    # A zero exit code is not shown; strings print as yaml.v2 does.
    record["results"] = {"Code": "0", "n": "3"}
    assert actions.format_result(record)["results"] == {"n": "3"}
    assert actions.go_yaml({"Action queued with id": "7"}) == 'Action queued with id: "7"\n'
    assert actions.parse_duration("1m30s") == 90 and actions.parse_duration("500ms") == 0.5


# ---- in a model ------------------------------------------------------------------------------

def cli(model, *args):
    env = dict(os.environ, LOCALMODEL_HOME=model.home, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "localmodel"] + list(args), env=env,
                          capture_output=True, text=True, timeout=120)


def test_actions_run_in_the_workload_pod_with_results_log_and_failure(model):
    deploy_echo(model)
    done = model.run_action("echo/0", "greet", {"name": "ann", "options": {"loud": True}},
                            wait=60)
    assert done["status"] == "completed", done
    results = done["results"]
    # Juju 2.9 runs a podspec charm's action in the unit's pod, first container, in the
    # charm directory it copies there; the hook tools reach the operator.
    assert results["where"] == {"host": "echo-0",
                                "dir": "/var/lib/juju/agents/unit-echo-0/charm"}
    assert (results["greeting"], results["times"], results["loud"]) == ("hello ann", "1",
                                                                        "True")
    assert (results["Code"], results["Stdout"], results["Stderr"]) == (
        "0", "said hello to ann\n", "a line on stderr\n")
    assert [msg for _, msg in done["log"]] == ["greeting ann"]

    failed = model.run_action("echo/0", "fail", {"reason": "disk full"}, wait=60)
    assert (failed["status"], failed["message"]) == ("failed", "disk full")
    assert failed["results"]["partial"] == "kept"
    crashed = model.run_action("echo/0", "crash", wait=60)
    assert (crashed["status"], crashed["message"]) == ("failed", "exit status 3")
    ghost = model.run_action("echo/0", "ghost", wait=60)
    assert (ghost["status"], ghost["message"]) == ("failed",
                                                   'action not implemented on unit "echo/0"')


def test_an_empty_value_reaches_a_workload_action_as_an_empty_line(model):
    # action-get prints an empty string as an empty line: the pod's hook tool client must not
    # take that newline for part of the answer's header.
    deploy_echo(model)
    done = model.run_action("echo/0", "greet", {"name": ""}, wait=60)
    assert done["status"] == "completed", done
    assert done["results"]["greeting"] == "hello "
    assert done["results"]["Stderr"] == "a line on stderr\n"


def test_an_action_runs_in_a_workload_image_without_python(model, tmp_path):
    deploy_echo(model)
    assert model.run_action("echo/0", "py", wait=60)["results"]["lang"] == "python"

    def redis_image(spec):
        # The image the redis-k8s charm runs: sh, coreutils, no python3.
        container = spec["containers"][0]
        container["imageDetails"]["imagePath"] = "redis:7.0"
        container["command"] = ["/bin/sh", "-c", "exec sleep 3600"]
        container.pop("kubernetes", None)
    set_spec(model, tmp_path, redis_image)

    def rolled(_):
        try:  # the pod is replaced: it is briefly missing, then starting
            return model.exec("echo-0", "test -x /usr/bin/redis-server && "
                                        "! command -v python3")[0] == 0
        except ModelError:
            return False
    model.wait_for(rolled, timeout=90)
    done = model.run_action("echo/0", "greet", {"name": "redis"}, wait=60)
    assert done["status"] == "completed", done
    assert (done["results"]["greeting"], done["results"]["where"]["host"]) == (
        "hello redis", "echo-0")
    # A Python action cannot run there, as on a real model with this image.
    py = model.run_action("echo/0", "py", wait=60)
    assert (py["status"], py["message"], py["results"]["Code"]) == ("failed",
                                                                    "exit status 127", "127")
    assert "python3" in py["results"]["Stderr"]


def test_workload_context_false_runs_the_action_in_the_operator(model):
    deploy_echo(model)
    where = model.run_action("echo/0", "where", {"workload-context": False}, wait=60)
    assert where["status"] == "completed", where
    r = where["results"]
    assert r["host"] == "echo-operator-0" and r["dir"] == model.paths.unit_charm("echo/0")
    assert (r["name"], r["uuid"], r["tag"], r["unit"]) == (
        "where", where["id"], "action-" + where["id"], "echo/0")
    assert json.loads(r["params"]) == {"workload-context": False}
    # A charm can declare it with a default: the defaults are in the params the uniter reads.
    declared = model.run_action("echo/0", "where-operator", wait=60)["results"]
    assert declared["host"] == "echo-operator-0"
    assert json.loads(declared["params"]) == {"workload-context": False}
    in_pod = model.run_action("echo/0", "where", wait=60)["results"]
    assert in_pod["host"] == "echo-0" and json.loads(in_pod["params"]) == {}
    # Every hook tool works from the workload container, not only the action ones.
    assert (in_pod["leader"], in_pod["port"]) == ("True", "7000")


def test_an_action_runs_while_the_unit_is_in_error_and_leaves_the_error(make_model):
    model = make_model(retry_delay=120)  # no retry of the failed hook during the test
    deploy_echo(model)
    model.config("echo", {"fail-hook": "config-changed"})
    model.wait_for(lambda st: st["applications"]["echo"]["units"]["echo/0"]["juju-status"]
                   ["current"] == "error", timeout=30)
    done = model.run_action("echo/0", "greet", {"name": "err"}, wait=60)
    assert done["status"] == "completed"
    assert model.unit_status("echo/0")["juju-status"]["current"] == "error"


def test_refused_actions_are_not_queued(model):
    deploy_echo(model)
    with pytest.raises(ModelError, match='action "nope" not defined on unit "echo/0"'):
        model.run_action("echo/0", "nope")
    with pytest.raises(ModelError, match=r'additional property "x" is not allowed'):
        model.run_action("echo/0", "greet", {"name": "a", "x": 1})
    with pytest.raises(ModelError, match='^unit-echo-7 not found$'):
        model.run_action("echo/7", "greet", {"name": "a"})
    # Each run-action made an operation first (ids 1-3, refused or not); the next one is
    # operation 4 with its task 5.
    assert model.run_action("echo/0", "greet", {"name": "a"}) == "5"
    assert model.show_action_output("5")["status"] in ("pending", "running", "completed")


def test_action_tools_refuse_to_run_outside_an_action(model):
    deploy_echo(model)
    for tool in ("action-get", "action-set a=b", "action-fail", "action-log hi"):
        rc, out, err = model.run("echo/0", tool, operator=True)
        assert (rc, out, err) == (1, "", "ERROR not running an action\n"), tool
    # Arguments are checked first, with gnuflag's exit code 2.
    rc, _, err = model.run("echo/0", "action-set stdout=x", operator=True)
    assert (rc, err) == (2, 'ERROR cannot set reserved action key "stdout"\n')
    rc, _, err = model.run("echo/0", "action-set Bad=x", operator=True)
    assert rc == 2 and err.startswith('ERROR key "Bad" must start and end with lowercase')


def test_an_action_waits_for_the_running_hook(make_model, tmp_path):
    model = make_model()
    charm = tmp_path / "echo"
    shutil.copytree(ECHO, charm)
    hold = tmp_path / "hold"
    # config-changed blocks while the hold file exists.
    (charm / "hooks" / "config-changed").write_text(
        '#!/bin/sh\nwhile [ -e "%s" ]; do sleep 0.1; done\nexec "$JUJU_CHARM_DIR/src/charm.py"\n'
        % hold)
    model.deploy(str(charm), "echo", resources={"echo-image": "lm-echo:1.0"})
    model.wait(90)
    hold.write_text("")
    model.config("echo", {"greeting": "hi"})
    model.wait_for(lambda st: "config-changed" in st["applications"]["echo"]["units"]
                   ["echo/0"]["juju-status"]["message"], timeout=30)
    action_id = model.run_action("echo/0", "greet", {"name": "bob"})
    time.sleep(2)
    assert model.show_action_output(action_id)["status"] == "pending"
    released = time.time()
    hold.unlink()
    done = model.show_action_output(action_id, wait=60)
    # It started only once the hook holding the operator's lock had ended.
    assert done["status"] == "completed" and done["started"] >= released


def test_cli_run_action_and_show_action_output(model, tmp_path):
    deploy_echo(model)
    r = cli(model, "run-action", "echo/0", "greet", "name=ann", "times=3")
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'Action queued with id: "2"\n'
    r = cli(model, "show-action-output", "2", "--wait", "60")
    assert r.returncode == 0, r.stderr
    shown = yaml.safe_load(r.stdout)
    assert (shown["id"], shown["UnitId"], shown["status"]) == ("2", "echo/0", "completed")
    assert shown["results"]["times"] == "3" and "Code" not in shown["results"]
    assert set(shown["timing"]) == {"enqueued", "started", "completed"}
    params = tmp_path / "params.yaml"
    params.write_text("name: from-file\ntimes: 2\n")
    r = cli(model, "run-action", "echo/0", "greet", "--params", str(params), "times=5",
            "--wait=60s")
    assert r.returncode == 0, r.stderr
    out = yaml.safe_load(r.stdout)["unit-echo-0"]
    assert (out["id"], out["status"]) == ("4", "completed")
    assert (out["results"]["greeting"], out["results"]["times"]) == ("hello from-file", "5")
    assert out["log"][0].endswith(" greeting from-file")
    r = cli(model, "run-action", "echo/0", "greet", "name=a", "times=x")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == ('ERROR validation failed: (root).times : must be of type integer, '
                        'given "x"\n')
    r = cli(model, "run-action", "echo/0", "greet", "--string-args", "name=a", "times=3")
    assert r.stderr == ('ERROR validation failed: (root).times : must be of type integer, '
                        'given "3"\n')
    r = cli(model, "show-action-output", "99")
    assert (r.returncode, r.stderr) == (1, 'ERROR actions for identifier "99" not found\n')
    r = cli(model, "run-action", "echo/0", "crash", "--wait")
    crashed = yaml.safe_load(r.stdout)["unit-echo-0"]
    assert (crashed["status"], crashed["message"]) == ("failed", "exit status 3")
    assert crashed["results"] == {"ReturnCode": 3, "Stdout": "about to crash\n"}


def test_an_action_does_not_overtake_the_hooks_other_units_were_waiting_with(model):
    # Each uniter picks its own next operation (resolver.go NextOp: an action before its own
    # unit's commands and hooks) and then waits for the operator's lock; the unit waiting
    # longest gets it first.
    deploy_echo(model, n=2)
    with config_changed_waiting_for_the_lock(model):
        action_id = model.run_action("echo/1", "where-operator")
    assert model.show_action_output(action_id, wait=60)["status"] == "completed"
    model.wait(60)
    order = []
    for line in model.debug_log().splitlines():
        unit = "echo/0" if "unit-echo-0" in line else "echo/1"
        if 'ran "config-changed" hook' in line:
            order.append((unit, "hook"))
        elif 'ran "where-operator" action' in line:
            order.append((unit, "action"))
    assert order[-3:] == [("echo/0", "hook"), ("echo/1", "action"), ("echo/1", "hook")], order
