"""Provides side of interface:prometheus, as the reactive interface-prometheus shapes it.

Each unit publishes one metrics endpoint in its unit data: ``hostname``, ``port``,
``metrics_path`` (plain strings) and ``labels`` (JSON), which the reactive prometheus charm
turns into a scrape target.

Flags: ``endpoint.{name}.available`` and ``{name}.available`` (interface-prometheus' names)
while a consumer is related; ``endpoint.{name}.changed`` when a consumer unit joined (publish,
then clear it). Nothing consumers publish is read.
"""

from charmhelpers.core import hookenv
from charms.reactive import Endpoint, clear_flag, is_flag_set, set_flag, toggle_flag


class PrometheusProvides(Endpoint):

    def _manage_flags(self):
        hook = hookenv.hook_name()
        relation_hook = hook.startswith(self.endpoint_name + '-relation-')
        first = not is_flag_set(self.expand_name('endpoint.{endpoint_name}.available'))
        toggle_flag(self.expand_name('endpoint.{endpoint_name}.available'), self.is_joined)
        toggle_flag(self.expand_name('{endpoint_name}.available'), self.is_joined)
        if self.is_joined and (first or (relation_hook and hook.endswith('-joined'))):
            set_flag(self.expand_name('changed'))
        if not self.is_joined:
            clear_flag(self.expand_name('changed'))
        self.manage_flags()

    def publish(self, data):
        """Set this unit's endpoint (``hostname``, ``port``, ``metrics_path``, ``labels``) on
        every relation; only keys whose value differs are written."""
        for relation in self.relations:
            publish = relation.to_publish_raw
            for key, value in data.items():
                if publish.get(key) != value:
                    publish[key] = value
