"""Relations between applications: hooks, unit and application data, removal."""

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
