"""The Redis password reaches every kind of consumer as the same text.

Our interface:redis requirer hands relation values over as text; the upstream one (and any
consumer reading ``unit.received``) JSON-decodes each value and keeps the text only when decoding
fails. Both run here against what our provider publishes, with the passwords the charm accepts
or generates, and with one it refuses to show why it must."""

import os
import sys

import pytest

from layer_harness import RECORDER, events

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'lib'))

from redis_k8s import passwords, settings  # noqa: E402

PROVIDER = RECORDER + '''
import os

from charms.reactive import endpoint_from_name, when


@when('endpoint.redis.joined')
def publish():
    with open(os.path.join(os.environ['CHARM_DIR'], 'password')) as f:
        password = f.read()
    endpoint_from_name('redis').configure('redis-k8s-0.redis-k8s-endpoints', 6379,
                                          password=password)
'''

# Reads the password both ways: as our requirer gives it, and JSON-decoded as the upstream
# requirer's ``unit.received['password']`` does.
CONSUMER = RECORDER + '''
from charms.reactive import clear_flag, endpoint_from_flag, when


@when('endpoint.cache.available')
def connect():
    endpoint = endpoint_from_flag('endpoint.cache.available')
    decoded = [unit.received['password'] for unit in endpoint.all_joined_units]
    record('available', plain=endpoint.relation_data()[0]['password'], decoded=decoded[0])
    clear_flag('endpoint.cache.changed')
'''

RID = 9


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


def received(model, charms, password):
    """Publish ``password`` from the provider; return what the consumer read, plain and decoded."""
    provider, consumer = charms
    with open(os.path.join(provider, 'password'), 'w') as f:
        f.write(password)
    model.hook(provider, 'redis-k8s/0', 'redis-relation-changed', 'redis:%d' % RID, 'consumer/0')
    model.hook(consumer, 'consumer/0', 'cache-relation-changed', 'cache:%d' % RID, 'redis-k8s/0')
    last = events(consumer, 'available')[-1]
    return last['plain'], last['decoded']


@pytest.mark.parametrize('password', [
    'Abc123!#$%&()*+,-./:;<=>?@[]^_{|}~',
    '1234567.10x',
    'nullnull',
])
def test_every_password_the_charm_accepts_reaches_both_kinds_of_consumer_unchanged(model, charms,
                                                                                  password):
    settings.parse({'password': password}, 3)  # accepted
    assert received(model, charms, password) == (password, password)


def test_a_generated_password_reaches_both_kinds_of_consumer_unchanged(model, charms):
    password = passwords.generate()
    assert received(model, charms, password) == (password, password)


@pytest.mark.parametrize('password, decoded', [
    ('1234567.10', 1234567.1),
    ('[1,2,3,4]', [1, 2, 3, 4]),
])
def test_a_json_password_would_reach_a_decoding_consumer_as_something_else_so_it_is_refused(
        model, charms, password, decoded):
    assert received(model, charms, password) == (password, decoded)
    with pytest.raises(settings.ConfigError) as error:
        settings.parse({'password': password}, 3)
    assert error.value.option == 'password'
