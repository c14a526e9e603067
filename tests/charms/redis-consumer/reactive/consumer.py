"""A legacy consumer: writes a key through the endpoint interface:redis gives it and reads it back."""

import redis

from charmhelpers.core import hookenv
from charms.reactive import endpoint_from_flag, when, when_not

from charms import layer


@when('endpoint.redis.available')
def use_redis():
    endpoint = endpoint_from_flag('endpoint.redis.available')
    data = endpoint.relation_data()[0]
    key = 'redis-consumer:{}'.format(hookenv.local_unit())
    client = redis.Redis(host=data['host'], port=int(data['port']), password=data.get('password'),
                         socket_timeout=5, socket_connect_timeout=5)
    try:
        client.set(key, 'written by {}'.format(hookenv.local_unit()))
        value = client.get(key).decode()
    except redis.RedisError as error:
        layer.status.waiting('redis at {}:{} not usable yet: {}'.format(
            data['host'], data['port'], type(error).__name__))
        return
    hookenv.log('read back {}={!r} from {}:{}'.format(key, value, data['host'], data['port']))
    layer.status.active('wrote and read {} via {}:{}'.format(key, data['host'], data['port']))


@when_not('endpoint.redis.available')
def no_redis():
    layer.status.blocked('relate to a redis provider')
