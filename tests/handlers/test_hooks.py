"""The charm's hooks, state in and state out (see harness.py): what each hook leaves behind."""

import dataclasses
import os
import time

import pytest

from harness import State
from states import failed_over, follow_leader, pod, running_leader


# -- the pod spec ------------------------------------------------------------------------------

@pytest.mark.parametrize('hook', ['install', 'leader-elected'])
def test_a_fresh_leader_sets_the_pod_spec_with_a_generated_password_in_the_secret_only(ctx, hook):
    out = ctx.run(State(), hook)

    assert out.spec_sent
    password = out.leader_data['password']
    assert len(password) >= 16
    secrets = out.k8s_resources['kubernetesResources']['secrets']
    assert [s for s in secrets if password in s.get('stringData', {}).values()]
    # Not in the pod spec (its files become ConfigMaps), nor in a log line.
    assert password not in out.state.pod_spec
    assert not [line for line in out.logs if password in line]
    # The images come from the resources: redis and sentinel run redis-image, the exporter
    # exporter-image.
    images = {c['name']: c['imageDetails']['imagePath'] for c in out.spec['containers']}
    assert images == {'redis': State().image['registrypath'],
                      'sentinel': State().image['registrypath'],
                      'redis-exporter': State().exporter_image['registrypath']}


def test_a_non_leader_sets_no_pod_spec_and_waits_for_the_leader(ctx):
    out = ctx.run(State(unit=1, leader=False), 'install')

    assert not out.spec_sent
    assert out.state.pod_spec is None
    assert out.leader_data == {}
    assert out.status[0] == 'waiting'
    assert not out.watcher_running


def test_an_invalid_option_blocks_naming_it_and_keeps_the_pod_spec(ctx):
    before = running_leader(ctx)

    out = ctx.run(before.state.replace(config={'maxmemory-policy': 'sometimes'}), 'config-changed')

    assert out.status[0] == 'blocked'
    assert 'maxmemory-policy' in out.status[1]
    assert not out.spec_sent
    assert out.state.pod_spec == before.state.pod_spec
    assert out.state.k8s_resources == before.state.k8s_resources


def test_a_valid_option_change_resends_the_pod_spec(ctx):
    before = running_leader(ctx)

    out = ctx.run(before.state.replace(config={'port': 6380}), 'config-changed')

    assert out.spec_sent
    ports = {p['containerPort'] for c in out.spec['containers'] for p in c.get('ports', [])}
    assert 6380 in ports


def test_upgrade_charm_resends_the_pod_spec_of_the_new_charm(ctx):
    before = running_leader(ctx)
    # The new charm brings changed base configuration: the pods must roll to run it.
    with open(os.path.join(before.state.charm_dir, 'templates', 'redis.conf'), 'a') as handle:
        handle.write('\n# a new charm revision\n')

    out = ctx.run(before.state, 'upgrade-charm')

    assert out.spec_sent
    assert out.state.pod_spec != before.state.pod_spec
    assert out.leader_data['password'] == before.leader_data['password']


def test_upgrade_charm_with_a_new_image_resends_the_pod_spec_with_it(ctx):
    before = running_leader(ctx)
    image = dict(before.state.image, registrypath='registry.example/redis:7.0.15')

    out = ctx.run(before.state.replace(image=image), 'upgrade-charm')

    assert out.spec_sent
    assert {c['imageDetails']['imagePath'] for c in out.spec['containers']
            if c['name'] != 'redis-exporter'} == {image['registrypath']}


def test_the_pod_spec_waits_for_both_images(ctx):
    out = ctx.run(State(exporter_image=None), 'install')
    assert not out.spec_sent
    assert out.status == ('blocked', 'unable to fetch resource(s): exporter-image')


def test_upgrade_charm_with_a_new_exporter_image_resends_the_pod_spec_with_it(ctx):
    before = running_leader(ctx)
    image = dict(before.state.exporter_image,
                 registrypath='registry.example/oliver006/redis_exporter:v1.46.0')

    out = ctx.run(before.state.replace(exporter_image=image), 'upgrade-charm')

    assert out.spec_sent
    exporter = [c for c in out.spec['containers'] if c['name'] == 'redis-exporter']
    assert exporter[0]['imageDetails']['imagePath'] == image['registrypath']


# -- the master --------------------------------------------------------------------------------

def test_the_leader_records_and_publishes_a_new_master(ctx):
    before = running_leader(ctx)
    assert pod(before.published()['host']) == ctx.app + '-0'

    out = ctx.run(failed_over(before.state, 2), 'update-status')

    assert pod(out.leader_data['master-host']) == ctx.app + '-2'
    assert out.leader_data['master-port'] == '6379'
    published = out.published()
    assert pod(published['host']) == ctx.app + '-2'
    assert published['port'] == '6379'
    assert published['password'] == before.leader_data['password']
    assert not out.spec_sent


def test_the_leader_demotes_a_woken_old_master_before_every_sentinel_agrees(ctx):
    before = running_leader(ctx)
    out = ctx.run(failed_over(before.state, 2), 'update-status')  # records pod 2
    woken = out.state.cluster.copy()
    # Pod 0 was frozen through the failover: awake, it is still master, and its own sentinel
    # has not heard of the switch yet (two of three name pod 2).
    woken.pods[0].redis_up = True
    woken.pods[0].role, woken.pods[0].follows = 'master', None
    woken.pods[0].names = 0

    out = ctx.run(out.state.replace(cluster=woken), 'update-status')

    demotions = out.state.cluster.sent('REPLICAOF')
    assert [(ordinal, kind, [str(word) for word in args]) for ordinal, kind, args in demotions] == [
        (0, 'redis', ['REPLICAOF', woken.host(2), '6379'])], demotions
    assert out.state.cluster.pods[0].role == 'slave'
    assert pod(out.published()['host']) == ctx.app + '-2'


def test_a_non_leader_publishes_the_leaders_master(ctx):
    leader = running_leader(ctx)
    state = leader.state.seen_by(1)

    out = ctx.run(state, 'redis-relation-joined', relation=state.relations[0])

    published = out.published()
    assert published['host'] == leader.leader_data['master-host']
    assert published['port'] == '6379'
    assert published['password'] == leader.leader_data['password']
    assert out.leader_data == leader.leader_data
    assert not out.spec_sent


def test_a_non_leader_publishes_the_master_the_leader_moved_to(ctx):
    leader = running_leader(ctx)
    unit = ctx.run(leader.state.seen_by(1), 'update-status')
    moved = ctx.run(failed_over(leader.state, 1), 'update-status')

    out = follow_leader(ctx, unit.state, moved.state)

    assert pod(out.published()['host']) == ctx.app + '-1'


def test_which_master_a_unit_gave_its_consumers_reaches_its_peers_on_update_status_only(ctx):
    # Every unit moves it after a failover and each write runs a hook on every peer: those hooks
    # would queue behind the ones carrying the new master to the consumers.
    leader = running_leader(ctx)
    unit = ctx.run(leader.state.seen_by(1), 'update-status')
    given = {k: unit.state.peer_data[1][k] for k in ('published-master', 'published-epoch')}
    assert pod(given['published-master']) == ctx.app + '-0'
    moved = ctx.run(failed_over(leader.state, 1), 'update-status')

    out = follow_leader(ctx, unit.state, moved.state)

    assert pod(out.published()['host']) == ctx.app + '-1'
    assert {k: out.state.peer_data[1][k] for k in given} == given
    refreshed = ctx.run(out.state.sharing(moved.state), 'update-status')
    assert pod(refreshed.state.peer_data[1]['published-master']) == ctx.app + '-1'
    assert refreshed.state.peer_data[1]['published-epoch'] == moved.state.peer_app_data[
        'master-epoch']


def test_the_leader_puts_right_a_peer_record_left_behind_leader_data_by_a_failed_hook(ctx):
    before = running_leader(ctx)
    cluster = before.cluster.copy()
    cluster.fail_over(to=2)
    # A hook that recorded pod 2 and then failed: leader data is written (leader-set applies at
    # once), the peer record and the unit's own data are not (they commit with the hook).
    epoch = int(before.state.peer_app_data['master-epoch'])
    assert before.leader_data['master-epoch'] == str(epoch)
    moved = dict(before.leader_data, **{
        'master-host': before.leader_data['master-host'].replace(ctx.app + '-0', ctx.app + '-2'),
        'master-epoch': str(epoch + 1)})

    out = ctx.run(before.state.replace(cluster=cluster, leader_data=moved), 'update-status')

    assert pod(out.state.peer_app_data['master-host']) == ctx.app + '-2'
    assert out.state.peer_app_data['master-epoch'] == str(epoch + 1)
    assert out.leader_data['master-epoch'] == str(epoch + 1)


def test_a_non_leader_publishes_a_new_master_in_its_first_hook_without_asking_any_pod(ctx):
    # A legacy consumer reads every unit's entry: each must move as soon as it can. Asking the
    # pods for the status first would hold the entry back, by a timeout when the old master
    # does not answer: the full status comes with a later hook.
    leader = running_leader(ctx)
    unit = ctx.run(leader.state.seen_by(1), 'update-status')
    moved = ctx.run(failed_over(leader.state, 1), 'update-status')
    asked = len(moved.cluster.commands)

    out = ctx.run(unit.state.sharing(moved.state), 'leader-settings-changed')

    assert pod(out.published()['host']) == ctx.app + '-1'
    assert out.cluster.commands[asked:] == []
    assert out.status == ('waiting', 'master moved to {}-1; checking the other pods'.format(
        ctx.app))


def test_a_non_leaders_update_status_publishes_the_master_the_leader_recorded(ctx):
    # The watcher's settle pass runs update-status on every unit; it may come before the
    # leader-settings-changed or peer relation-changed hook Juju queued for the move.
    leader = running_leader(ctx)
    unit = ctx.run(leader.state.seen_by(1), 'update-status')
    moved = ctx.run(failed_over(leader.state, 2), 'update-status')

    out = ctx.run(unit.state.sharing(moved.state), 'update-status')

    assert pod(out.published()['host']) == ctx.app + '-2'


# -- the master watcher ------------------------------------------------------------------------

def test_the_leader_runs_one_watcher_and_the_stop_hook_stops_it(ctx):
    leader = running_leader(ctx)
    assert leader.watcher_running

    again = ctx.run(leader.state, 'update-status')
    assert again.watcher_running
    assert again.watcher_starts == 0  # the one running is kept

    out = ctx.run(again.state, 'stop')
    assert not out.watcher_running


def test_a_unit_that_no_longer_leads_stops_its_watcher(ctx):
    leader = running_leader(ctx)

    out = ctx.run(leader.state.replace(leader=False), 'update-status')

    assert not out.watcher_running
    assert not out.spec_sent



# -- what each unit tells its peers --------------------------------------------------------------

def test_each_unit_names_its_pod_and_its_role_once_then_refreshes_the_role_on_update_status(ctx):
    leader = running_leader(ctx)
    assert {k: leader.state.peer_data[0][k] for k in ('pod', 'role')} == {
        'pod': ctx.app + '-0', 'role': 'master'}
    unit = ctx.run(leader.state.seen_by(1), 'update-status')
    assert {k: unit.state.peer_data[1][k] for k in ('pod', 'role')} == {
        'pod': ctx.app + '-1', 'role': 'replica'}

    # Another hook does not refresh it: each write runs a hook on every peer.
    other = ctx.run(failed_over(unit.state, 1), 'config-changed')
    assert other.state.peer_data[1]['role'] == 'replica'
    refreshed = ctx.run(other.state, 'update-status')
    assert refreshed.state.peer_data[1]['role'] == 'master'


# -- leadership, for the actions ----------------------------------------------------------------

def test_the_leader_names_itself_in_leader_data_so_a_non_leader_action_can_name_it(ctx):
    out = ctx.run(State(), 'leader-elected')
    assert out.leader_data['leader-unit'] == ctx.app + '/0'
    moved = ctx.run(out.state.seen_by(1, leader=True), 'leader-elected')
    assert moved.leader_data['leader-unit'] == ctx.app + '/1'
    # A unit that does not lead leaves it alone.
    follower = ctx.run(moved.state.seen_by(2), 'leader-settings-changed')
    assert follower.leader_data['leader-unit'] == ctx.app + '/1'


def _published_ahead(ctx, state, to):
    """``state`` (a unit's) after the master watcher's ``bin/publish-promoted`` moved its entry
    to pod ``to`` (what the script does: the master keys, and its note in the charm directory)."""
    host = state.relations[0].local_data['host'].replace(
        '{}-0.'.format(ctx.app), '{}-{}.'.format(ctx.app, to))
    relations = [dataclasses.replace(state.relations[0], local_data=dict(
        state.relations[0].local_data, host=host, hostname=host))] + state.relations[1:]
    with open(os.path.join(state.charm_dir, '.promoted-published'), 'w') as handle:
        handle.write(host + '\n')
    return state.replace(relations=relations), host


def test_an_entry_the_watcher_moved_ahead_of_the_leaders_record_is_not_given_back(ctx):
    # A hook of a unit between bin/publish-promoted and the leader's hook that records the new
    # master would publish the leader's record, the old master, again.
    leader = running_leader(ctx)
    unit = ctx.run(leader.state.seen_by(1), 'update-status')
    ahead, host = _published_ahead(ctx, unit.state, 1)

    out = ctx.run(ahead, 'redis-relation-changed', relation=ahead.relations[0])

    assert out.published()['host'] == host
    assert out.published()['hostname'] == host
    moved = ctx.run(failed_over(leader.state, 1), 'update-status')
    asked = len(moved.cluster.commands)
    followed = ctx.run(out.state.sharing(moved.state), 'leader-settings-changed')
    assert followed.published()['host'] == host
    assert not os.path.exists(os.path.join(followed.state.charm_dir, '.promoted-published'))
    # It took the move as its own: no pod asked while the old master may not answer.
    assert followed.cluster.commands[asked:] == []
    assert followed.status == ('waiting', 'master moved to {}-1; checking the other pods'.format(
        ctx.app))


def test_an_entry_moved_for_a_promotion_the_leader_never_records_is_given_back(ctx):
    leader = running_leader(ctx)
    unit = ctx.run(leader.state.seen_by(1), 'update-status')
    ahead, host = _published_ahead(ctx, unit.state, 1)
    note = os.path.join(ahead.charm_dir, '.promoted-published')
    os.utime(note, (time.time() - 60, time.time() - 60))

    out = ctx.run(ahead, 'redis-relation-changed', relation=ahead.relations[0])

    assert out.published()['host'] == leader.leader_data['master-host']
    assert not os.path.exists(note)
