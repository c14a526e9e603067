"""Requires side of interface:redis (consumers of Redis)."""

from charms.reactive import Endpoint, clear_flag, toggle_flag, when_any, when_not


class RedisRequires(Endpoint):
    """Tells consumers where Redis is, in the shape legacy reactive charms expect.

    Flags: ``endpoint.{name}.available`` while at least one Redis unit published a port.
    ``endpoint.{name}.changed`` (set by the framework when Redis publishes new data, e.g.
    after a failover) is left for the consumer to clear once it has reconfigured.
    """

    @when_any('endpoint.{endpoint_name}.joined', 'endpoint.{endpoint_name}.changed',
              'endpoint.{endpoint_name}.departed')
    def _update_available(self):
        toggle_flag(self.expand_name('endpoint.{endpoint_name}.available'),
                    bool(self.relation_data()))
        clear_flag(self.expand_name('endpoint.{endpoint_name}.departed'))

    @when_not('endpoint.{endpoint_name}.joined')
    def _broken(self):
        clear_flag(self.expand_name('endpoint.{endpoint_name}.available'))

    def relation_data(self):
        """Connection details of every Redis unit that published a port.

        Returns:
            A list of dicts with ``host``, ``port``, ``password`` (only when published)
            and any further keys the Redis side published (e.g. ``hostname``).
        """
        units = []
        for relation in self.relations:
            for unit in relation.joined_units:
                data = unit.received_raw
                if not data.get('port'):
                    continue
                entry = {key: value for key, value in data.items()
                         if key not in ('private-address', 'ingress-address',
                                        'egress-subnets') and value is not None}
                entry.setdefault('host', data.get('ingress-address')
                                 or data.get('private-address'))
                units.append(entry)
        return units
