"""Handlers of the redis-k8s charm: flags mapped to the operations in ``charms.layer.redis_k8s``."""

from charmhelpers.core import hookenv
from charms.reactive import hook, set_flag, when, when_any, when_not

from charms.layer import redis_k8s as charm

IMAGE_AVAILABLE = 'layer.docker-resource.redis-image.available'

hookenv.atstart(charm.sync_leadership)


@hook('upgrade-charm')
def charm_upgraded():
    charm.mark_spec_stale()


@hook('stop')
def unit_stopping():
    set_flag(charm.STOPPING)
    charm.stop_watcher()


@when_any('config.changed', 'layer.docker-resource.redis-image.changed')
def spec_inputs_changed():
    charm.mark_spec_stale()


@when(charm.LEADER, IMAGE_AVAILABLE)
@when_not(charm.SPEC_CURRENT)
def set_pod_spec():
    charm.apply_pod_spec()


@when(charm.LEADER, charm.SPEC_CURRENT)
def track_master():
    charm.track_master()


@when(charm.LEADER, charm.SPEC_CURRENT)
@when_not(charm.STOPPING)
def keep_watcher():
    charm.ensure_watcher()


@when_not(charm.LEADER)
def not_leading():
    # Juju runs no hook on a deposed leader; whichever hook this unit runs next (the stale
    # watcher's own trigger, update-status, leader-settings-changed) stops its watcher.
    charm.stop_watcher()


@when('endpoint.redis.joined')
def publish_master():
    charm.publish_master()


@when(IMAGE_AVAILABLE)
def report_status():
    charm.assess_status()
