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


def grace_of(out):
    return out.k8s_resources['kubernetesResources']['pod']['terminationGracePeriodSeconds']


def test_the_pods_keep_the_first_specs_grace_period_and_a_stop_that_outlasts_it_is_refused(ctx):
    # Juju creates the StatefulSet with the first spec's pod-level fields and never changes them.
    before = running_leader(ctx)
    assert before.leader_data['pod-grace-s'] == str(grace_of(before)) == '120'

    # 55 s more of failover still fits in 120 s.
    fits = ctx.run(before.state.replace(config={'failover-timeout': 85000}), 'config-changed')
    assert fits.status[0] == 'active', fits.status
    assert grace_of(fits) == 120  # its new waits go out in the ConfigMap

    out = ctx.run(fits.state.replace(config={'failover-timeout': 200000}), 'config-changed')
    assert out.status == ('blocked', 'failover-timeout: 200000 needs pods that may take 235 s to '
                          'stop; these pods were created with 120 s, which Juju keeps for the '
                          "application's life: set failover-timeout to 85000 or less")
    assert not out.spec_sent and out.state.pod_spec == fits.state.pod_spec
    assert {p.sentinel_settings['failover-timeout'] for p in out.cluster.pods.values()} == {'85000'}
    unit = ctx.run(out.state.seen_by(1), 'config-changed')  # every unit says so
    assert unit.status[0] == 'blocked' and 'failover-timeout' in unit.status[1]
