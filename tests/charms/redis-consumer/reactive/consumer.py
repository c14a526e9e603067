"""A legacy consumer: writes a key through the endpoint interface:redis gives it and reads it back.

With TLS on (relation key ``tls`` is ``"true"``) it connects to ``tls-port`` over TLS and trusts
exactly the CA bundle the relation gives in ``tls-ca`` (written to a file in the charm
directory: redis-py takes a path), requiring a certificate that verifies and names the host it
was told (``host``, a pod FQDN). Without ``tls``, or with ``"false"``, it connects plain to
``port`` as legacy consumers always did.
"""

import os

import redis

from charmhelpers.core import hookenv
from charms.reactive import endpoint_from_flag, when, when_not

from charms import layer

# The CA bundle from the relation, as the file redis-py reads (public material: no secret).
CA_FILE = 'redis-ca.pem'


def tls_wanted(data):
    """Whether the provider asks for TLS: ``tls: "true"``; anything else (absent, ``"false"``,
    empty) keeps the legacy plain connection."""
    return data.get('tls', '').strip().lower() == 'true'


def connection_kwargs(data, ca_path):
    """redis-py keyword arguments for the endpoint in ``data`` (one unit's relation data).

    Args:
        data: ``host``, ``port``, ``password``, and with TLS ``tls``, ``tls-port``, ``tls-ca``.
        ca_path: where the ``tls-ca`` bundle was written (used only with TLS).

    Returns:
        ``(kwargs, mode)``: the arguments of ``redis.Redis`` and ``"TLS"`` or ``"plain"``.
    """
    # A short answer timeout: the endpoint of an entry not yet moved may be a frozen master, and
    # while this hook waits on it the operator runs nothing else (not even juju-run).
    kwargs = dict(host=data['host'], password=data.get('password'),
                  socket_timeout=2, socket_connect_timeout=5)
    if not tls_wanted(data):
        kwargs['port'] = int(data['port'])
        return kwargs, 'plain'
    kwargs.update(port=int(data.get('tls-port') or data['port']), ssl=True,
                  ssl_ca_certs=ca_path, ssl_cert_reqs='required', ssl_check_hostname=True)
    return kwargs, 'TLS'


def write_ca(bundle):
    """Write the relation's CA bundle into the charm directory (replaced atomically, so a
    concurrent reader never sees half of it); return its path."""
    path = os.path.join(hookenv.charm_dir(), CA_FILE)
    partial = path + '.new'
    with open(partial, 'w') as handle:
        handle.write(bundle)
    os.replace(partial, path)
    return path


@when('endpoint.redis.available')
def use_redis():
    endpoint = endpoint_from_flag('endpoint.redis.available')
    entries = endpoint.relation_data()
    if not entries:
        # The last redis unit's relation-departed: charms.reactive may run this handler before
        # the interface's own clears the flag (their order is undefined).
        layer.status.waiting('no redis unit publishes an endpoint')
        return
    data = entries[0]
    key = 'redis-consumer:{}'.format(hookenv.local_unit())
    ca_path = None
    if tls_wanted(data):
        if not data.get('tls-ca', '').strip():
            layer.status.waiting('redis at {} offers TLS without a CA (tls-ca) yet'.format(
                data['host']))
            return
        ca_path = write_ca(data['tls-ca'])
    kwargs, mode = connection_kwargs(data, ca_path)
    client = redis.Redis(**kwargs)
    try:
        client.set(key, 'written by {}'.format(hookenv.local_unit()))
        value = client.get(key).decode()
    except redis.RedisError as error:
        layer.status.waiting('redis at {}:{} not usable yet over {}: {}'.format(
            data['host'], kwargs['port'], mode, type(error).__name__))
        return
    hookenv.log('read back {}={!r} from {}:{} over {}'.format(
        key, value, data['host'], kwargs['port'], mode))
    layer.status.active('wrote and read {} via {}:{} over {}'.format(
        key, data['host'], kwargs['port'], mode))


@when_not('endpoint.redis.available')
def no_redis():
    layer.status.blocked('relate to a redis provider')
