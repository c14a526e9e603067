"""Provides side of interface:redis (the Redis charm)."""

from charmhelpers.core import hookenv
from charms.reactive import Endpoint, clear_flag, is_flag_set, set_flag, toggle_flag


class RedisProvides(Endpoint):
    """Publishes how to reach Redis to every related application.

    Flags: ``endpoint.{name}.joined`` while consumers are related; ``endpoint.{name}.changed``
    when a consumer unit joined (a relation may have nothing published yet: publish again, and
    clear it), ``endpoint.{name}.departed`` when one left.
    """

    def _manage_flags(self):
        # charms.reactive's own version also reads every consumer unit's data on each redis
        # relation hook (one relation-get, a hook tool call, per unit) to raise `changed` when
        # it moves. Nothing consumers publish is read here: what the provides side must react
        # to is a consumer that joined, so only that raises `changed`.
        hook = hookenv.hook_name()
        relation_hook = hook.startswith(self.endpoint_name + '-relation-')
        first = not is_flag_set(self.expand_name('joined'))
        toggle_flag(self.expand_name('joined'), self.is_joined)
        if relation_hook and hook.endswith('-departed'):
            set_flag(self.expand_name('departed'))
        elif self.is_joined:
            clear_flag(self.expand_name('departed'))
        if self.is_joined and (first or (relation_hook and hook.endswith('-joined'))):
            set_flag(self.expand_name('changed'))
        self.manage_flags()

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
