"""juju-run's location: the unit's pod (its first container) by default, the operator with
--operator (worker/uniter/runner/runner.go, worker/caasoperator/exec.go)."""

from conftest import ECHO, config_changed_waiting_for_the_lock, deploy_echo


def test_juju_run_runs_in_the_units_pod_first_container(model):
    deploy_echo(model, n=2)
    rc, out, err = model.run(
        "echo/1", 'echo "host=$(hostname) unit=$JUJU_UNIT_NAME hook=[$JUJU_HOOK_NAME] '
                  'port=$ECHO_PORT dir=$JUJU_CHARM_DIR"; test -e /srv/lm-echo/conf/server.py')
    assert rc == 0, err
    # The pod's hostname, the container's environment and filesystem, the hook context.
    assert out == ("host=echo-1 unit=echo/1 hook=[] port=7000 "
                   "dir=/var/lib/juju/agents/unit-echo-1/charm\n")
    rc, out, _ = model.run("echo/1", "exit 3")
    assert rc == 3
    # The operator is elsewhere: another hostname, and the unit's charm directory.
    rc, out, _ = model.run("echo/1", "hostname; pwd", operator=True)
    assert out.split() == ["echo-operator-0", model.paths.unit_charm("echo/1")]


def test_juju_run_without_a_pod_fails_with_jujus_message(model):
    # No image resource: the echo charm sets no pod spec, so the unit never has a pod.
    model.deploy(ECHO, "nopod", resources={})
    model.wait(90)
    assert model.run("nopod/0", "true") == (1, "", 'ERROR pod for "nopod/0" not found\n')
    assert model.run("nopod/0", "true", operator=True)[0] == 0


def test_juju_run_when_the_container_does_not_run(model):
    # An image the store does not have: the pod exists but its container never starts
    # (ErrImagePull).
    model.deploy(ECHO, "badimg", resources={"echo-image": "not-in-the-store:1.0"})
    model.wait_for(lambda st: st["applications"]["badimg"]["units"]["badimg/0"]
                   .get("provider-id") == "badimg-0", timeout=60)
    assert model.run("badimg/0", "true") == (1, "", 'ERROR container "echo" not running\n')


def test_juju_run_from_the_operator_defaults_to_the_pod(model, tmp_path):
    deploy_echo(model)
    out = tmp_path / "out"
    # In the background: in the foreground it would wait for the lock this run holds.
    rc, _, err = model.run("echo/0", "(env -u JUJU_CONTEXT_ID juju-run echo/0 hostname > %s.new"
                           " && mv %s.new %s &)" % (out, out, out), operator=True)
    assert rc == 0, err
    model.wait_for(lambda st: out.exists(), timeout=20)
    assert out.read_text() == "echo-0\n"
    rc, _, err = model.run("echo/0", "env -u JUJU_CONTEXT_ID juju-run echo/9 true",
                           operator=True)
    assert (rc, err) == (1, 'ERROR unit "echo/9" not found on this machine\n')


def test_a_juju_run_does_not_overtake_the_hooks_other_units_were_waiting_with(model):
    # Each uniter picks its own next operation (a command before its own hooks) and then
    # waits for the operator's lock; the unit waiting longest gets it first.
    deploy_echo(model, n=2)
    with config_changed_waiting_for_the_lock(model):
        assert model.run("echo/1", "juju-log RUN-MARK", operator=True)[0] == 0
    model.wait(60)
    marks = [("echo/0" if "unit.echo/0." in line else "echo/1",
              "run" if "RUN-MARK" in line else "hook")
             for line in model.debug_log().splitlines()
             if "RUN-MARK" in line or "HOOK config-changed" in line]
    assert marks[-3:] == [("echo/0", "hook"), ("echo/1", "run"), ("echo/1", "hook")], marks
