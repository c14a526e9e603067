"""While an option is invalid the unit is blocked, its pod spec stays, and the master is still
tracked and published with the last good configuration: consumers follow a failover even then."""

from harness import State
from states import failed_over, follow_leader, pod, running_leader


def test_while_an_option_is_invalid_the_leader_still_tracks_and_publishes_the_master(ctx):
    before = running_leader(ctx)
    blocked = ctx.run(before.state.replace(config={'maxmemory': 'lots'}), 'config-changed')
    assert blocked.status[0] == 'blocked' and 'maxmemory' in blocked.status[1]

    out = ctx.run(failed_over(blocked.state, 1), 'update-status')

    assert pod(out.leader_data['master-host']) == ctx.app + '-1'
    assert pod(out.published()['host']) == ctx.app + '-1'
    assert out.published()['password'] == before.leader_data['password']
    assert out.status[0] == 'blocked' and 'maxmemory' in out.status[1]
    assert not out.spec_sent
    assert out.state.pod_spec == before.state.pod_spec
    assert out.watcher_running


def test_while_an_option_is_invalid_a_non_leader_still_publishes_the_master(ctx):
    leader = running_leader(ctx)
    unit = ctx.run(leader.state.seen_by(1), 'update-status')
    bad = {'port': 0}
    blocked = ctx.run(unit.state.replace(config=bad), 'config-changed')
    assert blocked.status[0] == 'blocked' and 'port' in blocked.status[1]
    moved = ctx.run(failed_over(leader.state, 2).replace(config=bad), 'update-status')
    assert moved.status[0] == 'blocked'

    out = follow_leader(ctx, blocked.state, moved.state)

    assert pod(out.published()['host']) == ctx.app + '-2'
    assert out.published()['port'] == '6379'  # the last good port, not the invalid one
    assert out.status[0] == 'blocked' and 'port' in out.status[1]


def test_the_live_settings_stay_those_of_the_last_good_configuration(ctx):
    before = running_leader(ctx, config={'maxmemory': '100mb'})
    blocked = ctx.run(before.state.replace(config={'maxmemory': '200mb',
                                                   'maxmemory-policy': 'sometimes'}),
                      'config-changed')
    assert blocked.status[0] == 'blocked' and 'maxmemory-policy' in blocked.status[1]

    assert {p.config['maxmemory'] for p in blocked.cluster.pods.values()} == {str(100 * 1024 ** 2)}
    assert {p.config['maxmemory-policy'] for p in blocked.cluster.pods.values()} == {'noeviction'}


def test_fixing_the_option_makes_the_unit_active_without_a_new_spec(ctx):
    before = running_leader(ctx)
    blocked = ctx.run(before.state.replace(config={'down-after-milliseconds': 5}), 'config-changed')
    assert blocked.status[0] == 'blocked' and 'down-after-milliseconds' in blocked.status[1]

    out = ctx.run(blocked.state.replace(config={}), 'config-changed')

    assert out.status[0] == 'active', out.status
    assert not out.spec_sent


def test_an_invalid_option_on_a_fresh_leader_blocks_and_sets_no_spec(ctx):
    out = ctx.run(State(config={'sentinel-port': 6379}), 'install')

    assert out.status[0] == 'blocked' and 'sentinel-port' in out.status[1]
    assert not out.spec_sent
    assert not out.watcher_running
