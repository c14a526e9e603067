"""interface:redis-peers: the peer Endpoint's flags, the leader's master record with its epoch
(application data) and each unit's published view (unit data), through the fake hook tools."""

import json
import os

import pytest

from layer_harness import RECORDER, events

HANDLERS = RECORDER + '''
import json
import os

from charmhelpers.core import hookenv
from charms.reactive import clear_flag, endpoint_from_name, when


def peers():
    return endpoint_from_name('peers')


@when('endpoint.peers.changed')
def changed():
    master = peers().master()
    record('changed', master=list(master) if master else None, seen=peers().peers_seen())
    clear_flag('endpoint.peers.changed')


@when('endpoint.peers.departed')
def departed():
    record('departed', units=peers().unit_names())
    clear_flag('endpoint.peers.departed')


@when('endpoint.peers.joined')
def joined():
    record('joined', units=peers().unit_names())


def act():
    """What the test asked this hook to do (act.json), before the handlers run."""
    path = os.path.join(os.environ['CHARM_DIR'], 'act.json')
    if not os.path.exists(path):
        return
    with open(path) as f:
        wanted = json.load(f)
    os.unlink(path)
    if 'record' in wanted:
        record('recorded', master=list(peers().record_master(*wanted['record'])))
    if 'seen' in wanted:
        peers().publish_seen(*wanted['seen'])


hookenv.atstart(act)
'''

RID = 3
APP = 'redis-k8s'


@pytest.fixture
def charm(model):
    charm_dir = model.charm(APP, layers=('caas-base',), interfaces=('redis-peers',),
                            metadata={'peers': {'peers': {'interface': 'redis-peers'}}},
                            handlers={'peers_test': HANDLERS})
    model.update(leader=[APP + '/0'], relations=[{
        'id': RID, 'endpoints': {APP: 'peers'}, 'units': [APP + '/0'], 'data': {}}])
    return charm_dir


def ask(charm_dir, **what):
    with open(os.path.join(charm_dir, 'act.json'), 'w') as f:
        json.dump(what, f)


def hook(model, charm_dir, unit, name='update-status', remote_unit=None):
    relation = 'peers:%d' % RID if name.startswith('peers-relation-') else None
    model.hook(charm_dir, unit, name, relation, remote_unit)


def add_unit(model, unit):
    state = model.state()
    state['relations'][0]['units'].append(unit)
    state['relations'][0]['data'].setdefault(unit, {'private-address': '10.0.0.9'})
    model.write_state(state)


def app_data(model):
    return model.state()['relations'][0].get('app_data', {}).get(APP, {})


def test_the_leader_records_the_master_with_an_epoch_that_grows_only_when_it_moves(model, charm):
    ask(charm, record=['redis-k8s-0.x', 6379])
    hook(model, charm, APP + '/0')
    assert app_data(model) == {'master-host': 'redis-k8s-0.x', 'master-port': '6379',
                               'master-epoch': '1'}
    ask(charm, record=['redis-k8s-0.x', 6379])
    hook(model, charm, APP + '/0')
    assert app_data(model)['master-epoch'] == '1'
    ask(charm, record=['redis-k8s-1.x', 6379])
    hook(model, charm, APP + '/0')
    assert app_data(model)['master-epoch'] == '2'
    ask(charm, record=['redis-k8s-1.x', 6380])  # the same pod on a new port is a new master
    hook(model, charm, APP + '/0')
    assert app_data(model) == {'master-host': 'redis-k8s-1.x', 'master-port': '6380',
                               'master-epoch': '3'}
    assert [e['master'] for e in events(charm, 'recorded')] == [
        ['redis-k8s-0.x', 6379, 1], ['redis-k8s-0.x', 6379, 1], ['redis-k8s-1.x', 6379, 2],
        ['redis-k8s-1.x', 6380, 3]]


def test_the_epoch_never_goes_back_even_when_the_record_lost_its_host(model, charm):
    state = model.state()
    state['relations'][0]['app_data'] = {APP: {'master-port': '6379', 'master-epoch': '7'}}
    model.write_state(state)
    ask(charm, record=['redis-k8s-2.x', 6379])
    hook(model, charm, APP + '/0')
    assert app_data(model)['master-epoch'] == '8'


def test_a_non_leader_sees_the_new_record_as_changed_in_its_peer_relation_changed_hook(model, charm):
    add_unit(model, APP + '/1')
    hook(model, charm, APP + '/1', 'peers-relation-joined', APP + '/0')
    assert events(charm, 'joined')[-1]['units'] == [APP + '/0']
    ask(charm, record=['redis-k8s-1.x', 6379])
    hook(model, charm, APP + '/0', 'peers-relation-joined', APP + '/1')
    before = len(events(charm, 'changed'))
    # Application data changed: Juju runs relation-changed with no remote unit.
    hook(model, charm, APP + '/1', 'peers-relation-changed')
    seen = events(charm, 'changed')[before:]
    assert [(e['unit'], e['master']) for e in seen] == [(APP + '/1', ['redis-k8s-1.x', 6379, 1])]
    assert 'endpoint.peers.changed' not in model.flags(charm, APP + '/1')
    # Nothing new: the flag stays down.
    hook(model, charm, APP + '/1', 'peers-relation-changed')
    assert len(events(charm, 'changed')) == before + 1


def test_units_publish_what_they_last_gave_consumers_and_peers_read_it(model, charm):
    add_unit(model, APP + '/1')
    ask(charm, seen=['redis-k8s-0.x', 6379, 4])
    hook(model, charm, APP + '/0', 'peers-relation-joined', APP + '/1')
    assert model.state()['relations'][0]['data'][APP + '/0'] == {
        'published-master': 'redis-k8s-0.x:6379', 'published-epoch': '4'}
    hook(model, charm, APP + '/1', 'peers-relation-changed', APP + '/0')
    assert events(charm, 'changed')[-1]['seen'] == {APP + '/0': ['redis-k8s-0.x:6379', 4]}


def test_a_peer_leaving_sets_departed(model, charm):
    add_unit(model, APP + '/1')
    add_unit(model, APP + '/2')
    hook(model, charm, APP + '/0', 'peers-relation-joined', APP + '/2')
    state = model.state()
    state['relations'][0]['units'].remove(APP + '/2')
    model.write_state(state)
    hook(model, charm, APP + '/0', 'peers-relation-departed', APP + '/2')
    assert events(charm, 'departed')[-1]['units'] == [APP + '/1']
    assert 'endpoint.peers.departed' not in model.flags(charm, APP + '/0')
    assert 'endpoint.peers.joined' in model.flags(charm, APP + '/0')


def _reads(model, unit):
    """The relation-get calls of ``unit``'s last hook: ``'app'`` or the unit read."""
    return ['app' if '--app' in c['args'] else c['args'][-1]
            for c in model.calls('relation-get', unit)]


def test_a_peers_relation_changed_reads_only_what_it_brings(model, charm):
    for unit in (APP + '/1', APP + '/2'):
        add_unit(model, unit)
    hook(model, charm, APP + '/1', 'peers-relation-joined', APP + '/0')
    state = model.state()
    state['relations'][0]['data'].setdefault(APP + '/0', {})['published-epoch'] = '4'
    state['relations'][0]['data'][APP + '/2']['published-epoch'] = '4'
    model.write_state(state)
    # A peer's data changed: changed is raised in that peer's hook...
    hook(model, charm, APP + '/1', 'peers-relation-changed', APP + '/0')
    assert events(charm, 'changed')[-1]['unit'] == APP + '/1'
    before = len(events(charm, 'changed'))
    # ...and the other peer's change in its own hook.
    hook(model, charm, APP + '/1', 'peers-relation-changed', APP + '/2')
    assert len(events(charm, 'changed')) == before + 1
    # A peer's hook raises changed without reading: Juju runs it only when that peer's data
    # moved. What is read is the handler's (the record, then every peer's data).
    model.clear_calls()
    hook(model, charm, APP + '/1', 'peers-relation-changed', APP + '/0')
    assert _reads(model, APP + '/1') == ['app', APP + '/0', APP + '/2']
    assert len(events(charm, 'changed')) == before + 2
    # The application data's hook (no remote unit) reads the application data only.
    ask(charm, record=['redis-k8s-1.x', 6379])
    hook(model, charm, APP + '/0', 'update-status')
    hook(model, charm, APP + '/1', 'peers-relation-changed')
    assert events(charm, 'changed')[-1]['master'] == ['redis-k8s-1.x', 6379, 1]
    model.clear_calls()
    hook(model, charm, APP + '/1', 'peers-relation-changed')
    assert _reads(model, APP + '/1') == ['app']
