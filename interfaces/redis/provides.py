"""Provides side of interface:redis (the Redis charm)."""

from charms.reactive import Endpoint


class RedisProvides(Endpoint):
    """Publishes how to reach Redis to every related application."""

    def configure(self, host, port, password=None, **extra):
        """Publish the connection details on every relation of this endpoint.

        Args:
            host: address clients should connect to (the current master).
            port: Redis port.
            password: Redis password; not published when None.
            **extra: further keys, e.g. ``hostname`` (read by ops-based clients),
                ``sentinel_hosts`` or ``sentinel-hosts``; underscores in keyword names
                become dashes. A None value removes the key.
        """
        data = {'host': host, 'port': port, 'password': password}
        for key, value in extra.items():
            data[key.replace('_', '-')] = value
        for relation in self.relations:
            publish = relation.to_publish_raw
            for key, value in data.items():
                if value is None:
                    # Juju deletes a key set to nothing; dropping it from the dict
                    # would leave the old value published.
                    if publish.get(key) is not None:
                        publish[key] = None
                elif publish.get(key) != str(value):
                    publish[key] = str(value)
