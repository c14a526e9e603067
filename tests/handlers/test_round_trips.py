"""What one steady hook asks the cluster: one client per instance, each question asked once."""

import collections

from states import running_leader


def test_a_steady_leader_update_status_makes_one_client_per_instance_and_asks_once(ctx):
    before = running_leader(ctx)
    cluster = before.cluster.copy()
    cluster.commands.clear()
    cluster.clients.clear()

    out = ctx.run(before.state.replace(cluster=cluster), 'update-status')

    clients = collections.Counter(out.cluster.clients)
    assert len(clients) == 6 and set(clients.values()) == {1}  # 3 redis + 3 sentinels
    asked = collections.Counter(out.cluster.commands)
    assert max(asked.values()) == 1, [c for c, n in asked.items() if n > 1]
    # Per sentinel: who is master, the promoted-replica check, its state, its peers; per redis:
    # INFO and CONFIG GET; per instance, ACL GETUSER of the exporter's user (24 for 3 pods; each
    # client also sends AUTH once when it connects). Nothing is set: the user is there already.
    assert len(out.cluster.commands) == 24
    assert len(out.cluster.sent('ACL', 'GETUSER')) == 6 and not out.cluster.sent('ACL', 'SETUSER')


def test_an_instance_that_timed_out_is_not_asked_by_the_next_hooks_for_a_while(ctx):
    # A frozen master costs a unit one timeout, not one per hook of the failover it causes.
    before = running_leader(ctx)
    cluster = before.cluster.copy()
    cluster.pods[1].redis_frozen = True
    cluster.commands.clear()

    first = ctx.run(before.state.replace(cluster=cluster), 'update-status')
    assert len([c for c in first.cluster.commands if c[:2] == (1, 'redis')]) == 1  # timed out
    cluster = first.cluster.copy()
    cluster.commands.clear()
    second = ctx.run(first.state.replace(cluster=cluster), 'update-status')
    assert [c for c in second.cluster.commands if c[:2] == (1, 'redis')] == []
    assert [c for c in second.cluster.commands if c[:2] == (2, 'redis')]  # the others are asked
