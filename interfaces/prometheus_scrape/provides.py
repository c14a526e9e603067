"""Provides side of interface:prometheus_scrape (a scrape target for Prometheus).

The data is the one the canonical ``charms.prometheus_k8s.v0.prometheus_scrape`` library's
``MetricsEndpointProvider`` writes and its ``MetricsEndpointConsumer`` (Prometheus, Grafana
Agent) reads:

- application data (the leader writes it): ``scrape_jobs``, a JSON list of Prometheus scrape
  job configs whose ``*:<port>`` targets the consumer expands to every unit's address, and
  ``scrape_metadata``, JSON with ``model``, ``model_uuid``, ``application`` and ``charm_name``;
- unit data: ``prometheus_scrape_unit_address`` and ``prometheus_scrape_unit_name``.

Values are JSON text or plain strings, written raw.

Flags: ``endpoint.{name}.joined`` while a consumer is related; ``endpoint.{name}.changed`` when a
consumer unit joined (a new relation has nothing published yet: publish, then clear it).
Nothing consumers publish is read (no hook tool call for it).
"""

from charmhelpers.core import hookenv
from charms.reactive import Endpoint, clear_flag, is_flag_set, set_flag, toggle_flag


class PrometheusScrapeProvides(Endpoint):

    def _manage_flags(self):
        hook = hookenv.hook_name()
        relation_hook = hook.startswith(self.endpoint_name + '-relation-')
        first = not is_flag_set(self.expand_name('joined'))
        toggle_flag(self.expand_name('joined'), self.is_joined)
        if self.is_joined and (first or (relation_hook and hook.endswith('-joined'))):
            set_flag(self.expand_name('changed'))
        if not self.is_joined:
            clear_flag(self.expand_name('changed'))
        self.manage_flags()

    def publish_app(self, data):
        """Leader: set the application data (``scrape_jobs``, ``scrape_metadata``) on every
        relation; only keys whose value differs are written."""
        for relation in self.relations:
            _update(relation.to_publish_app_raw, data)

    def publish_unit(self, data):
        """Set this unit's data (its address and name) on every relation."""
        for relation in self.relations:
            _update(relation.to_publish_raw, data)


def _update(publish, data):
    for key, value in data.items():
        if publish.get(key) != value:
            publish[key] = value
