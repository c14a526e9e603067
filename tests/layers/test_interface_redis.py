"""interface:redis: provides.configure() -> relation data -> requires flags and
relation_data(), through the fake relation tools shared by both charms."""

import pytest

from layer_harness import RECORDER, events

PROVIDER = RECORDER + '''
import json
import os

from charms.reactive import endpoint_from_name, when


@when('endpoint.redis.joined')
def publish():
    with open(os.path.join(os.environ['CHARM_DIR'], 'publish.json')) as f:
        kwargs = json.load(f)
    endpoint_from_name('redis').configure(**kwargs)
    record('published')
'''

CONSUMER = RECORDER + '''
from charms.reactive import clear_flag, endpoint_from_flag, when, when_not


@when('endpoint.cache.available')
def connect():
    record('available', data=endpoint_from_flag('endpoint.cache.available').relation_data())
    clear_flag('endpoint.cache.changed')


@when_not('endpoint.cache.available')
def not_available():
    record('not-available')
'''

RID = 7


@pytest.fixture
def charms(model):
    provider = model.charm('redis-k8s', layers=('caas-base',), interfaces=('redis',),
                           metadata={'provides': {'redis': {'interface': 'redis'}}},
                           handlers={'provider': PROVIDER})
    consumer = model.charm('consumer', layers=('caas-base',), interfaces=('redis',),
                           metadata={'requires': {'cache': {'interface': 'redis'}}},
                           handlers={'consumer': CONSUMER})
    model.update(relations=[{
        'id': RID, 'endpoints': {'redis-k8s': 'redis', 'consumer': 'cache'},
        'units': ['redis-k8s/0', 'consumer/0'], 'data': {}}])
    return provider, consumer


def publish(model, provider, **kwargs):
    import json
    import os
    with open(os.path.join(provider, 'publish.json'), 'w') as f:
        json.dump(kwargs, f)
    model.hook(provider, 'redis-k8s/0', 'redis-relation-changed', 'redis:%d' % RID,
               'consumer/0')


def consumer_hook(model, consumer, hook='cache-relation-changed'):
    model.hook(consumer, 'consumer/0', hook, 'cache:%d' % RID, 'redis-k8s/0')


def test_round_trip_with_password_and_extra_keys(model, charms):
    provider, consumer = charms
    consumer_hook(model, consumer, 'cache-relation-joined')
    assert events(consumer, 'available') == []
    assert 'endpoint.cache.available' not in model.flags(consumer, 'consumer/0')

    publish(model, provider, host='redis-k8s-0.redis-k8s-endpoints', port=6380,
            password='pw', hostname='redis-k8s-0.redis-k8s-endpoints',
            sentinel_hosts='a:26379,b:26379', **{'master-name': 'mymaster'})
    published = model.state()['relations'][0]['data']['redis-k8s/0']
    assert published == {'host': 'redis-k8s-0.redis-k8s-endpoints', 'port': '6380',
                         'password': 'pw', 'hostname': 'redis-k8s-0.redis-k8s-endpoints',
                         'sentinel-hosts': 'a:26379,b:26379', 'master-name': 'mymaster'}

    consumer_hook(model, consumer)
    assert 'endpoint.cache.available' in model.flags(consumer, 'consumer/0')
    assert events(consumer, 'available')[-1]['data'] == [published]


def test_password_none_is_not_published_and_removes_an_old_one(model, charms):
    provider, consumer = charms
    publish(model, provider, host='h', port=6379, password='old')
    publish(model, provider, host='h2', port=6379, password=None, hostname=None)
    assert model.state()['relations'][0]['data']['redis-k8s/0'] == {
        'host': 'h2', 'port': '6379'}
    consumer_hook(model, consumer)
    assert events(consumer, 'available')[-1]['data'] == [{'host': 'h2', 'port': '6379'}]


def test_master_change_reaches_the_consumer(model, charms):
    provider, consumer = charms
    publish(model, provider, host='redis-k8s-0', port=6379)
    consumer_hook(model, consumer)
    publish(model, provider, host='redis-k8s-1', port=6379)
    consumer_hook(model, consumer)
    assert [e['data'][0]['host'] for e in events(consumer, 'available')] == [
        'redis-k8s-0', 'redis-k8s-1']


def test_available_cleared_when_relation_goes(model, charms):
    provider, consumer = charms
    publish(model, provider, host='h', port=6379)
    consumer_hook(model, consumer)
    assert 'endpoint.cache.available' in model.flags(consumer, 'consumer/0')
    model.update(relations=[])
    consumer_hook(model, consumer, 'cache-relation-broken')
    assert 'endpoint.cache.available' not in model.flags(consumer, 'consumer/0')
    assert events(consumer, 'not-available', 'cache-relation-broken')


def test_configure_publishes_on_every_relation(model, charms):
    provider, _ = charms
    state = model.state()
    state['relations'].append({'id': RID + 1, 'endpoints': {'redis-k8s': 'redis',
                                                             'other': 'db'},
                               'units': ['redis-k8s/0', 'other/0'], 'data': {}})
    model.write_state(state)
    publish(model, provider, host='h', port=6379, password='pw')
    for rel in model.state()['relations']:
        assert rel['data']['redis-k8s/0'] == {'host': 'h', 'port': '6379', 'password': 'pw'}
