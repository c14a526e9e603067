"""Handlers of the redis-k8s charm: flags mapped to the operations in ``charms.layer.redis_k8s``."""

from charmhelpers.core import hookenv
from charms.reactive import clear_flag, hook, set_flag, when, when_any, when_not

from charms import layer
from charms.layer import redis_k8s as charm
from charms.layer import redis_k8s_metrics as metrics

IMAGE_AVAILABLE = 'layer.docker-resource.redis-image.available'
# The pods run the exporter too: the spec waits for both images (Juju supplies both: the store
# by upstream-source, a local deploy by --resource; see the README).
EXPORTER_IMAGE_AVAILABLE = 'layer.docker-resource.exporter-image.available'

hookenv.atstart(charm.sync_leadership)
# Most deployments relate no Prometheus: its endpoints cost no hook tool call then (the hook
# budget, issue 11).
layer.caas_base.relation_ids_from_goal_state([metrics.SCRAPE, metrics.PROMETHEUS])


@hook('upgrade-charm')
def charm_upgraded():
    charm.mark_spec_stale()
    charm.follow_peers()  # what consumers are given may have changed shape


@hook('stop')
def unit_stopping():
    set_flag(charm.STOPPING)
    charm.stop_watcher()


@when_any('config.changed', 'layer.docker-resource.redis-image.changed',
          'layer.docker-resource.exporter-image.changed')
def spec_inputs_changed():
    charm.mark_spec_stale()


@when(charm.LEADER)
def name_the_leader():
    charm.record_leader()


@when(charm.LEADER, IMAGE_AVAILABLE, EXPORTER_IMAGE_AVAILABLE)
@when_not(charm.SPEC_CURRENT)
def set_pod_spec():
    charm.apply_pod_spec()


@when(charm.LEADER, charm.SPEC_CURRENT)
def track_master():
    charm.track_master()
    charm.share_master()


@when(charm.LEADER, charm.SPEC_CURRENT, charm.UNITS_CHANGED)
def size_for_units():
    charm.renew_tls_if_due()  # a new pod needs its certificate (the spec goes out again)
    charm.resize_for_units()


@hook('update-status')
def renew_certificates():
    # Leader only (it returns on other units); the spec goes out again when anything was issued.
    charm.renew_tls_if_due()


@when(charm.LEADER, charm.SPEC_CURRENT)
@when_not(charm.STOPPING)
def keep_watcher():
    charm.ensure_watcher()


@when_not(charm.LEADER)
def not_leading():
    # Juju 2.9 has no leader-deposed hook; whichever hook a deposed leader runs next (usually
    # leader-settings-changed, its seen leader-settings version being behind; else the stale
    # watcher's own trigger or update-status) stops its watcher.
    charm.stop_watcher()


@when_not(charm.LEADER)
def follow_the_leaders_record():
    # charms.reactive looks at relation data only in that relation's hooks: without this, a
    # non-leader's update-status (the watcher's settle pass runs one on every unit) would not
    # publish a master the leader already recorded (read from leader data: no extra tool call).
    charm.follow_peers()


@when('endpoint.redis-peers.changed')
def peer_data_changed():
    # A peer joined or wrote its data, or the leader recorded a new master epoch.
    charm.follow_peers()
    clear_flag('endpoint.redis-peers.changed')


@when('endpoint.redis-peers.departed')
def peer_departed():
    charm.follow_peers()
    clear_flag('endpoint.redis-peers.departed')


@hook('leader-settings-changed')
def leader_data_changed():
    # The leader's hook has ended, so its peer record is committed too; and the consumers'
    # password lives in leader data.
    charm.follow_peers()


@when('endpoint.redis.joined')
@when_any(charm.MASTER_CHANGED, 'endpoint.redis.changed', 'config.changed')
def publish_master():
    charm.publish_master()


@when('endpoint.metrics-endpoint.joined')
def publish_scrape_jobs():
    metrics.publish_scrape()


@when('endpoint.prometheus.available')
def publish_prometheus_target():
    metrics.publish_prometheus_target()


@when(IMAGE_AVAILABLE)
def report_status():
    charm.assess_status()
