"""States the handler tests start from."""

from fake_cluster import FakeCluster
from harness import Relation, State


def consumer():
    return Relation('redis', remote_app='consumer', remote_units=('consumer/0',))


def pod(host):
    """The pod name of a DNS name (``<app>-<n>``)."""
    return host.split('.', 1)[0]


def running_leader(ctx, **state):
    """A leader after its first hooks: the spec set, the pods up with pod 0 master, the master
    recorded and published to a consumer."""
    out = ctx.run(State(relations=[consumer()], **state), 'install')
    out = ctx.run(out.state.replace(cluster=FakeCluster(master=0)), 'update-status')
    assert pod(out.leader_data['master-host']) == ctx.app + '-0'
    out = ctx.run(out.state, 'update-status')
    assert out.status[0] == 'active', out.status
    return out


def failed_over(state, to):
    """``state`` with its cluster failed over to pod ``to`` by the sentinels (a copy: ``state``
    itself is left as it was)."""
    cluster = state.cluster.copy()
    cluster.fail_over(to=to)
    return state.replace(cluster=cluster)


def follow_leader(ctx, unit, leader):
    """Run on ``unit`` (a non-leader's state) the hooks Juju runs after the leader's hook that
    left ``leader`` (its state): leader-settings-changed, then the peer relation's changed hook."""
    out = ctx.run(unit.sharing(leader), 'leader-settings-changed')
    return ctx.run(out.state.sharing(leader), 'redis-peers-relation-changed',
                   relation='redis-peers', remote_unit=ctx.unit_name(leader.unit))
