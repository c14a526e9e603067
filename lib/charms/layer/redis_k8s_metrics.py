"""Juju-facing side of the metrics relations (``metrics-endpoint``, ``prometheus``).

What is published is decided by ``redis_k8s.metrics``; this module reads the inputs (settings,
the unit's pod, the model) and writes the relation data. A unit names its pod by its stable DNS
name (``<app>-N.<app>-endpoints.<model>.svc.<domain>``), not its IP: a re-created pod gets a
new IP, which no hook announces at once, while its name keeps resolving to the current one, and
the exporter listens on it. What was published is kept in the unit's data as a digest, so a
hook that changes nothing costs no hook tool call.
"""

import hashlib
import json

from charmhelpers.core import hookenv, unitdata
from charms.reactive import clear_flag, endpoint_from_name, is_flag_set

from charms.layer import redis_k8s as charm
from redis_k8s import metrics, naming

SCRAPE = 'metrics-endpoint'  # interface prometheus_scrape (metadata.yaml)
PROMETHEUS = 'prometheus'  # interface prometheus
_PUBLISHED = 'redis-k8s.metrics.{}'  # unit kv: digest of what was last published on a relation


def _digest(data):
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _publish(endpoint_name, kind, data, write):
    """Write ``data`` with ``write(data)`` unless this unit published the same already; the
    relation's ``changed`` flag (a consumer joined: its relation has nothing yet) forces it.
    The caller clears the flag once everything of the relation is published."""
    key = _PUBLISHED.format(endpoint_name + '.' + kind)
    changed = 'endpoint.{}.changed'.format(endpoint_name)
    if unitdata.kv().get(key) != _digest(data) or is_flag_set(changed):
        write(data)
        unitdata.kv().set(key, _digest(data))


def own_pod_fqdn():
    """This unit's pod's DNS name, or None while the unit does not know its pod yet."""
    pod = charm.own_pod()
    if pod is None:
        return None
    return next((fqdn for fqdn in charm.pod_fqdns() if naming.pod_name_of(fqdn) == pod), None)


def publish_scrape():
    """``metrics-endpoint``: the leader puts the scrape jobs and the Juju topology in the
    application data; every unit puts its pod's name and its unit name in its unit data."""
    parsed = charm.current_settings()
    endpoint = endpoint_from_name(SCRAPE)
    if parsed is None or endpoint is None:
        return
    if is_flag_set(charm.LEADER):  # is-leader, read once per hook
        data = metrics.scrape_app_data(parsed.metrics_port, hookenv.model_name(), hookenv.model_uuid(),
                                       hookenv.application_name(), hookenv.charm_name())
        _publish(SCRAPE, 'app', data, endpoint.publish_app)
    address = own_pod_fqdn()
    if address is None:
        return  # retried on later hooks, the flag kept
    _publish(SCRAPE, 'unit', metrics.scrape_unit_data(address, hookenv.local_unit()),
             endpoint.publish_unit)
    clear_flag('endpoint.{}.changed'.format(SCRAPE))


def publish_prometheus_target():
    """Every unit: its pod's redis metrics endpoint on the plain ``prometheus`` relation."""
    parsed = charm.current_settings()
    endpoint = endpoint_from_name(PROMETHEUS)
    address = own_pod_fqdn()
    if parsed is None or endpoint is None or address is None:
        return
    data = metrics.prometheus_unit_data(address, parsed.metrics_port, hookenv.local_unit(),
                                        hookenv.application_name())
    _publish(PROMETHEUS, 'unit', data, endpoint.publish)
    clear_flag('endpoint.{}.changed'.format(PROMETHEUS))
