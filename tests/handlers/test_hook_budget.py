"""How many hook tool calls a steady hook makes, and that it redoes nothing.

Every hook tool call is a round trip from the hook to the unit agent (a process start and a
request: tens of milliseconds on an operator pod), and most hooks of a running application
are steady ones: update-status, and relation hooks that bring nothing new. Issue 11 bounds
those at 8 calls, juju-log included. charms.reactive itself makes 4 of them (relation-ids and
relation-list for each of the two endpoints); the charm reads leadership, config, goal state
and leader data once each, and a peer's relation-changed reads no relation data (Juju runs it
only when that peer's data moved, and nothing the charm does depends on a peer's unit data).
"""

import collections

import pytest

from states import failed_over, follow_leader, running_leader

BUDGET = 8
# Tools that change something: a steady hook calls none of them.
WRITERS = ('status-set', 'pod-spec-set', 'k8s-raw-set', 'leader-set', 'relation-set',
           'application-version-set', 'juju-log')


def tool_calls(out):
    """``{tool: calls}`` of the hook (``Output.calls`` leaves juju-log out: its messages are
    ``Output.logs``, one per call)."""
    counts = collections.Counter(call['tool'] for call in out.calls)
    if out.logs:
        counts['juju-log'] = len(out.logs)
    return counts


def assert_steady(out):
    calls = tool_calls(out)
    assert sum(calls.values()) <= BUDGET, dict(calls)
    assert not [tool for tool in calls if tool in WRITERS], dict(calls)
    # Each thing is read once.
    assert all(count == 1 for tool, count in calls.items()
               if tool in ('is-leader', 'config-get', 'goal-state', 'leader-get')), dict(calls)


@pytest.fixture
def steady(ctx):
    """A leader and a non-leader after their first hooks, each having run one update-status
    since (so nothing is left to do)."""
    leader = running_leader(ctx)
    leader = ctx.run(leader.state, 'update-status')
    unit = ctx.run(leader.state.seen_by(1), 'update-status')
    unit = follow_leader(ctx, unit.state, leader.state)
    unit = ctx.run(unit.state, 'update-status')
    return leader.state, unit.state


def test_a_steady_update_status_of_the_leader_stays_within_the_budget(ctx, steady):
    leader, _ = steady
    out = ctx.run(leader, 'update-status')
    assert_steady(out)
    assert out.status[0] == 'active'  # the status it shows is still the right one


def test_a_steady_update_status_of_a_non_leader_stays_within_the_budget(ctx, steady):
    _, unit = steady
    out = ctx.run(unit, 'update-status')
    assert_steady(out)
    assert out.status[0] == 'active'


@pytest.mark.parametrize('who', ['leader', 'non-leader'])
def test_a_steady_consumer_relation_changed_stays_within_the_budget(ctx, steady, who):
    state = steady[0] if who == 'leader' else steady[1]
    out = ctx.run(state, 'redis-relation-changed', relation=state.relations[0])
    assert_steady(out)
    assert out.published() == state.relations[0].local_data  # still published, unchanged


@pytest.mark.parametrize('who', ['leader', 'non-leader'])
def test_a_peers_relation_changed_stays_within_the_budget(ctx, steady, who):
    # A peer's data moves on its update-status (its pod and role, the master it gave its
    # consumers): every other unit runs this hook for it.
    state = steady[0] if who == 'leader' else steady[1]
    out = ctx.run(state, 'redis-peers-relation-changed', relation='redis-peers',
                  remote_unit=ctx.unit_name(2))
    assert_steady(out)
    assert 'relation-get' not in tool_calls(out)


def test_a_hook_that_acts_still_logs_what_it_did(ctx, steady):
    leader, _ = steady
    out = ctx.run(failed_over(leader, 2), 'update-status')
    assert [line for line in out.logs if 'master is now' in line]
    # charms.reactive's account of the hook goes out with it, in one juju-log call.
    assert [line for line in out.logs if 'Invoking reactive handler' in line]


def test_a_hook_does_not_load_redis_asyncio_which_it_never_uses(charm_template):
    import os
    import subprocess
    import sys
    code = '''
import sys
import charmhelpers.osplatform
charmhelpers.osplatform.get_platform = lambda: 'ubuntu'
from charms.layer import redis_k8s
import redis
print(type(sys.modules['redis.asyncio']).__name__, 'redis.asyncio.client' in sys.modules,
      redis.Redis.__module__)
'''
    env = dict(os.environ, PYTHONPATH=os.path.join(charm_template, 'lib'))
    out = subprocess.run([sys.executable, '-c', code], env=env, check=True, cwd=charm_template,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout.split()
    assert out == ['_LazyModule', 'False', 'redis.client']


def test_the_hook_that_publishes_a_new_master_does_only_that(ctx, steady):
    # The watcher's trigger: every call it saves is time consumers wait for the new master, and
    # every peer hook it starts queues before the other units' own publishing hooks.
    leader, unit = steady
    out = ctx.run(failed_over(leader, 2), 'update-status')
    calls = tool_calls(out)
    assert calls['leader-set'] == 1, dict(calls)  # the master and its epoch together
    assert 'relation-set --help' not in [' '.join([c['tool']] + c['args'][:1]) for c in out.calls]
    peer_unit_writes = [c for c in out.calls if c['tool'] == 'relation-set'
                        and '--app' not in c['args'] and 'redis-peers' in ' '.join(c['args'])]
    assert not peer_unit_writes
    assert [line for line in out.logs if 'master is now' in line and '(epoch 2)' in line]
    assert sum(calls.values()) <= 16, dict(calls)
    followed = ctx.run(unit.sharing(out.state), 'leader-settings-changed')
    assert followed.published()['host'].startswith(ctx.unit_name(2).replace('/', '-'))
    assert sum(tool_calls(followed).values()) <= 11, dict(tool_calls(followed))
    # It asks no pod, so it does not pay for importing redis-py either.
    assert 'redis_k8s.connection' not in followed.modules, sorted(followed.modules)
    assert 'redis_k8s.connection' in out.modules  # the leader's did ask the pods
