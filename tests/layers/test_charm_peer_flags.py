"""redis-k8s's own handlers on the peer and redis-interface flags, run in-process with the fake
hook tools: a non-leader republishes to its consumers in the hook that brings a change (the
leader's new master epoch in the peer application data, the consumers' password in leader data),
and publishes nothing in a hook that brings none.

Only non-leader hooks run here, with no image resource: they reach no pod, so no network is
needed (the leader's tracking is exercised on real pods in tests/functional).
"""

import os
import shutil

import pytest
import yaml

from layer_harness import REPO

APP = 'redis-k8s'
UNIT = APP + '/1'  # not the leader
PEER_RID, REDIS_RID = 1, 2


@pytest.fixture
def charm(model):
    with open(os.path.join(REPO, 'metadata.yaml')) as f:
        metadata = yaml.safe_load(f)
    with open(os.path.join(REPO, 'reactive', 'redis.py')) as f:
        handlers = f.read()
    charm_dir = model.charm(APP, metadata=metadata, interfaces=('redis', 'redis-peers'),
                            handlers={'redis': handlers})
    shutil.copytree(os.path.join(REPO, 'lib'), os.path.join(charm_dir, 'lib'), dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copytree(os.path.join(REPO, 'templates'), os.path.join(charm_dir, 'templates'))
    model.update(leader=[APP + '/0'], leader_data={
        'password': 'generated', 'active-password': 'old-pass', 'secret-password': 'old-pass',
        'master-host': 'pod-0', 'master-port': '6379'}, relations=[
        {'id': PEER_RID, 'endpoints': {APP: 'redis-peers'}, 'units': [APP + '/0', UNIT],
         'data': {APP + '/0': {'private-address': '10.0.0.1'}},
         'app_data': {APP: {'master-host': 'pod-1', 'master-port': '6379', 'master-epoch': '4'}}},
        {'id': REDIS_RID, 'endpoints': {APP: 'redis', 'consumer': 'redis'},
         'units': [UNIT, 'consumer/0'], 'data': {'consumer/0': {'private-address': '10.0.0.9'}}},
    ])
    return charm_dir


def published(model):
    rel = next(r for r in model.state()['relations'] if r['id'] == REDIS_RID)
    return rel['data'].get(UNIT, {})


def peer_data(model):
    rel = next(r for r in model.state()['relations'] if r['id'] == PEER_RID)
    return rel['data'].get(UNIT, {})


def set_app_data(model, **values):
    state = model.state()
    rel = next(r for r in state['relations'] if r['id'] == PEER_RID)
    rel['app_data'][APP].update(values)
    model.write_state(state)


def test_a_new_consumer_gets_the_master_of_the_leaders_record_and_the_consumers_password(
        model, charm):
    model.hook(charm, UNIT, 'redis-relation-joined', 'redis:%d' % REDIS_RID, 'consumer/0')
    data = published(model)
    assert (data['host'], data['port'], data['password']) == ('pod-1', '6379', 'old-pass')
    assert peer_data(model) == {'published-master': 'pod-1:6379', 'published-epoch': '4'}


def test_a_new_master_epoch_is_republished_to_consumers_in_the_peer_relation_changed_hook(model, charm):
    model.hook(charm, UNIT, 'redis-relation-joined', 'redis:%d' % REDIS_RID, 'consumer/0')
    set_app_data(model, **{'master-host': 'pod-2', 'master-epoch': '5'})
    # Application data changed: relation-changed with no remote unit.
    model.hook(charm, UNIT, 'redis-peers-relation-changed', 'redis-peers:%d' % PEER_RID)
    assert published(model)['host'] == 'pod-2'
    # The peers learn it on update-status (a write runs a hook on every peer).
    assert peer_data(model)['published-epoch'] == '4'


def test_the_consumers_password_is_republished_when_leader_data_moves_it(model, charm):
    model.hook(charm, UNIT, 'redis-relation-joined', 'redis:%d' % REDIS_RID, 'consumer/0')
    state = model.state()
    # The Secret holds the new password, but a pod does not accept it yet: nothing moves.
    state['leader_data'].update({'secret-password': 'new-pass',
                                 'retired-passwords': '["old-pass"]', 'retired-since': '1.0'})
    model.write_state(state)
    model.hook(charm, UNIT, 'leader-settings-changed')
    assert published(model)['password'] == 'old-pass'
    state = model.state()
    state['leader_data']['active-password'] = 'new-pass'  # every pod accepts it now
    model.write_state(state)
    model.hook(charm, UNIT, 'leader-settings-changed')
    assert published(model)['password'] == 'new-pass'


def test_a_hook_that_brings_no_change_publishes_nothing(model, charm):
    model.hook(charm, UNIT, 'redis-relation-joined', 'redis:%d' % REDIS_RID, 'consumer/0')
    model.clear_calls()
    model.hook(charm, UNIT, 'update-status')
    model.hook(charm, UNIT, 'redis-peers-relation-changed', 'redis-peers:%d' % PEER_RID)
    assert model.calls('relation-set', UNIT) == []
