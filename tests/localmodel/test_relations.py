"""Relations between applications: hooks, unit and application data, removal."""

import re

import pytest

from conftest import deploy_echo, hooks
from localmodel.client import ModelError


def test_relation_data_flows_between_applications(model):
    deploy_echo(model, "front")
    deploy_echo(model, "back", n=2, config={"greeting": "hey"})
    model.relate("front:upstream", "back:echo")
    model.wait(90)
    back_address = model.service_address("back")
    unit = model.unit_status("front/0")
    assert unit["workload-status"] == {"current": "active",
                                       "message": "upstream %s" % back_address}
    assert ("upstream-relation-joined", "back/0") in hooks(model, "front/0")
    assert ("upstream-relation-joined", "back/1") in hooks(model, "front/0")
    assert ("echo-relation-joined", "front/0") in hooks(model, "back/1")
    assert "unit.front/0.juju-log UPSTREAM host=%s greeting=hey" % back_address \
        in model.debug_log()
    rc, out, err = model.run("front/0", "relation-get -r $(relation-ids upstream) port back/1",
                             operator=True)
    assert (rc, out) == (0, "7000\n"), err
    rc, out, _ = model.run("front/0", "R=$(relation-ids upstream); relation-list -r $R; "
                           "relation-list -r ${R#*:} --app", operator=True)
    assert out.split() == ["back/0", "back/1", "back"]
    rc, out, _ = model.run("front/0",
                           "relation-get -r $(relation-ids upstream) --app greeting back",
                           operator=True)
    assert out == "hey\n"
    rc, _, err = model.run("back/1", "relation-set -r $(relation-ids echo) --app x=y",
                           operator=True)
    assert rc == 1 and "permission denied" in err
    rc, out, _ = model.run("front/0", "goal-state --format=json", operator=True)
    assert '"back/1"' in out

    model.remove_relation("front", "back")
    model.wait(60)
    assert ("upstream-relation-departed", "back/0") in hooks(model, "front/0")
    assert hooks(model, "front/0")[-1] == ("upstream-relation-broken", "")
    assert model.status()["relations"] == [r for r in model.status()["relations"] if r["peer"]]


def test_relation_set_changes_reach_the_other_side(model):
    deploy_echo(model, "front")
    deploy_echo(model, "back")
    with pytest.raises(ModelError, match="ambiguous relation"):
        model.relate("front", "back")
    model.relate("front:upstream", "back")
    model.wait(60)
    rc, _, err = model.run("back/0", "relation-set -r $(relation-ids echo) host=10.0.0.1-not-used "
                           "--file - <<EOF\nextra: 1\nEOF", operator=True)
    assert rc == 0, err
    model.wait(60)
    assert "UPSTREAM host=10.0.0.1-not-used" in model.debug_log()
    rc, out, _ = model.run("front/0", "relation-get -r $(relation-ids upstream) extra back/0",
                           operator=True)
    assert out == "1\n"


def test_an_operator_juju_run_that_exits_non_zero_still_commits_its_context(model):
    # utils/exec (RunParams.Wait): "A non-zero return code isn't considered an error here", so
    # worker/uniter/runner/runner.go RunCommands flushes the context with a nil error.
    deploy_echo(model, "front")
    deploy_echo(model, "back")
    model.relate("front:upstream", "back")
    model.wait(60)
    rc, _, err = model.run("back/0", "relation-set -r $(relation-ids echo) late=yes; exit 3",
                           operator=True)
    assert rc == 3, err
    rc, out, _ = model.run("front/0", "relation-get -r $(relation-ids upstream) late back/0",
                           operator=True)
    assert out == "yes\n"


def leaving(m, unit):
    """(hook, remote unit, relation-ids, relation-list) as the echo charm logged them in its
    departed and broken hooks."""
    return [found.groups() for found in re.finditer(
        r"unit\.%s\.juju-log LEAVING (\S+) remote=(\S*) ids=(\S*) members=(\S*)"
        % re.escape(unit), m.debug_log())]


def _relation_hooks(m, unit):
    return [h for h in hooks(m, unit) if "-relation-" in h[0] and not h[0].startswith("cluster")]


def test_remove_relation_keeps_the_relation_listed_until_broken(model):
    deploy_echo(model, "front")
    deploy_echo(model, "back", n=2)
    model.relate("front:upstream", "back:echo")
    model.wait(90)
    rc, rid, _ = model.run("front/0", "relation-ids upstream", operator=True)
    rid = rid.strip()
    assert rid.startswith("upstream:")
    model.remove_relation("front", "back")
    model.wait(60)
    seen = leaving(model, "front/0")
    # Each departed hook: the departing unit is gone from relation-list already, the relation is
    # still in relation-ids; so it is in relation-broken, with no member left.
    assert sorted(s[:2] for s in seen[:2]) == [("upstream-relation-departed", "back/0"),
                                               ("upstream-relation-departed", "back/1")]
    for hook, remote, ids, members in seen[:2]:
        assert ids == rid and remote not in members.split(",")
    assert seen[1][3] == ""
    assert seen[2:] == [("upstream-relation-broken", "", rid, "")]
    for unit in ("back/0", "back/1"):
        assert leaving(model, unit)[-1] == ("echo-relation-broken", "",
                                            "echo:" + rid.split(":")[1], "")
    rc, out, _ = model.run("front/0", "relation-ids upstream", operator=True)
    assert (rc, out) == (0, "")
    assert all(u["juju-status"]["current"] == "idle"
               for a in model.status()["applications"].values() for u in a["units"].values())


def test_remove_application_departs_each_unit_before_broken(model):
    deploy_echo(model, "front")
    deploy_echo(model, "back", n=2)
    model.relate("front:upstream", "back:echo")
    model.wait(90)
    rid = model.run("front/0", "relation-ids upstream", operator=True)[1].strip()
    model.remove_application("back")
    model.wait(60)
    assert "back" not in model.status()["applications"]
    tail = _relation_hooks(model, "front/0")[-3:]
    assert sorted(tail[:2]) == [("upstream-relation-departed", "back/0"),
                                ("upstream-relation-departed", "back/1")]
    assert tail[2] == ("upstream-relation-broken", "")
    seen = leaving(model, "front/0")
    assert [(h, ids) for h, _, ids, _ in seen] == [("upstream-relation-departed", rid),
                                                ("upstream-relation-departed", rid),
                                                ("upstream-relation-broken", rid)]
    assert model.unit_status("front/0")["juju-status"]["current"] == "idle"


def test_peer_application_data_runs_relation_changed_on_every_unit_the_writer_included(model):
    deploy_echo(model, "echo", n=2)
    leader = next(name for name, unit in model.status()["applications"]["echo"]["units"].items()
                  if unit.get("leader"))
    changed = ("cluster-relation-changed", "")
    app_changes = {unit: hooks(model, unit).count(changed) for unit in ("echo/0", "echo/1")}
    rc, _, err = model.run(leader, "relation-set -r $(relation-ids cluster) --app record=1",
                           operator=True)
    assert rc == 0, err
    model.wait(60)
    for unit in ("echo/0", "echo/1"):
        assert hooks(model, unit).count(changed) == app_changes[unit] + 1, unit


def test_a_unit_added_to_a_related_application_joins_only_the_other_applications_units(model):
    # Juju's relation scope watcher follows the counterpart role only (state/relationunit.go
    # WatchScope): provider units never join each other on a provides/requires relation.
    deploy_echo(model, "front")
    deploy_echo(model, "back", n=2)
    model.relate("front:upstream", "back:echo")
    model.wait(90)
    model.scale("back", 3)
    model.wait(90)
    assert ("echo-relation-joined", "front/0") in hooks(model, "back/2")
    assert ("upstream-relation-joined", "back/2") in hooks(model, "front/0")
    for unit in ("back/0", "back/1", "back/2"):
        assert not [hook for hook, remote in hooks(model, unit)
                    if hook.startswith("echo-relation-") and remote.startswith("back/")], unit
        rc, out, _ = model.run(unit, "relation-list -r $(relation-ids echo)", operator=True)
        assert (rc, out.split()) == (0, ["front/0"]), unit
    model.scale("back", 2)
    model.wait(90)
    assert not [hook for hook, remote in hooks(model, "back/0")
                if hook == "echo-relation-departed"]
    assert ("upstream-relation-departed", "back/2") in hooks(model, "front/0")
