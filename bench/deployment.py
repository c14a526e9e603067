"""The shared redis-k8s deployment the failover, loss and throughput figures run against."""

import os
import time

from testbed.cluster import APP, CONSUMER, Cluster

IMAGE = 'redis:7.0'
EXPORTER_IMAGE = 'oliver006/redis_exporter:v1.45.0'
RESOURCES = {'redis-image': IMAGE, 'exporter-image': EXPORTER_IMAGE}
DOWN_AFTER_MS = 2000


class BenchCluster(Cluster):
    """A :class:`Cluster` that asks for the password once: every ``model.run`` the bench saves
    is CPU the measured system gets instead."""

    _password = None
    deploy_idle = True  # the deployment's hooks had all run before the first figure

    def password(self):
        if self._password is None:
            self._password = super().password()
        return self._password


def deploy(model, charms, units=3):
    """redis-k8s (``units`` units, down-after 2000 ms) and the consumer, related, healthy.

    Returns ``(cluster, seconds from deploy to healthy)``.
    """
    start = time.monotonic()
    model.deploy(charms[APP], APP, num_units=units, resources=RESOURCES,
                 config={'down-after-milliseconds': str(DOWN_AFTER_MS)})
    model.deploy(charms[CONSUMER], CONSUMER)
    model.relate(APP, CONSUMER)
    cluster = BenchCluster(model)
    # BENCH_DEPLOY_TIMEOUT: a machine shared with other runs may need longer than 5 minutes.
    settle(cluster, units, timeout=float(os.environ.get('BENCH_DEPLOY_TIMEOUT', '300')))
    seconds = time.monotonic() - start
    # Healthy is not idle: the deployment's last hooks (storage, the consumer's relation) would
    # otherwise run during the first fault and count in its figures.
    try:
        model.wait(timeout=120)
    except TimeoutError:
        cluster.deploy_idle = False
        print('bench: hooks still queued 120 s after the deployment was healthy: the first '
              'figures may include them', flush=True)
    return cluster, seconds


def settle(cluster, units, timeout=180):
    """Wait for one master, linked replicas, agreeing sentinels, active units and the relation
    pointing at the master; returns the master's pod."""
    deadline = time.monotonic() + timeout

    def ready(status):
        master = cluster.healthy(units)
        return master if master and cluster.relation_points_at(master) else None
    return cluster.model.wait_for(ready, timeout=max(1, deadline - time.monotonic()), interval=0.3)


def identity(cluster):
    """Each pod of the application: its address and its containers' restart counts."""
    pods = cluster.model.status().get('pods', {})
    return {name: (pod['address'], tuple(sorted((c, s['restarts'])
                                                for c, s in pod['containers'].items())))
            for name, pod in pods.items() if pod['application'] == cluster.app}


def wait_changed(cluster, before, changed, timeout=120):
    """Wait until ``changed(before, now)`` holds for the pods' identities (so that a check for
    health cannot pass on the state from before the fault)."""
    return cluster.model.wait_for(lambda status: changed(before, identity(cluster)),
                                  timeout=timeout, interval=0.2)
