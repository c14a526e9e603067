"""The test bed's setup, shared by the functional tests, the chaos soak and the benchmarks:
the built charms, a local model that leaves no process behind, redis-k8s with the consumer."""

import contextlib
import os
import subprocess

from localmodel.client import Model

from .cluster import APP, CONSUMER, Cluster

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = 'redis:7.0'
EXPORTER_IMAGE = 'oliver006/redis_exporter:v1.45.0'
# Both oci-image resources of redis-k8s: the pod spec waits for both.
RESOURCES = {'redis-image': IMAGE, 'exporter-image': EXPORTER_IMAGE}
CONSUMER_SOURCE = 'tests/charms/redis-consumer'
# Faster crash detection than the default (5000 ms), as the failover figures use.
FAST_FAILOVER = {'down-after-milliseconds': '2000', 'failover-timeout': '10000'}


def build_charms():
    """Build redis-k8s and the legacy consumer with the real `charm build`; their directories.

    With ``TEST_REUSE_BUILD`` set (scripts/test.sh sets it for a session that starts after this
    run's other sessions built), existing builds are used as they are: a rebuild swaps the
    directories, and a deployment reading them in another lane at that moment would fail.
    """
    built = {APP: os.path.join(ROOT, 'build', APP), CONSUMER: os.path.join(ROOT, 'build', CONSUMER)}
    if os.environ.get('TEST_REUSE_BUILD') and all(os.path.isdir(path) for path in built.values()):
        return built
    for source in ([], [CONSUMER_SOURCE]):
        subprocess.run(['bash', 'scripts/build.sh'] + source, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    return built


@contextlib.contextmanager
def local_model(home, name, subnet, **options):
    """A fresh local model in ``home``; every process it started is gone on exit.

    ``options``: ``Model.up``'s other arguments (``cluster_domain=...``), or other values of
    those given here.
    """
    settings = dict(update_status_interval=60, retry_delay=2)
    settings.update(options)
    model = Model(str(home))
    model.up(model=name, subnet=subnet, **settings)
    try:
        yield model
    finally:
        model.down()


def deploy_cluster(model, charms, units=3, config=None, timeout=240):
    """redis-k8s with ``units`` units and the consumer, related; returns the :class:`Cluster`
    once it is healthy (AssertionError with the model's status otherwise). With ``enable-tls``
    in ``config`` the cluster's clients speak TLS (:class:`Cluster`'s ``tls``)."""
    model.deploy(charms[APP], APP, num_units=units, resources=RESOURCES, config=config)
    model.deploy(charms[CONSUMER], CONSUMER)
    model.relate(APP, CONSUMER)
    cluster = Cluster(model, tls=str((config or {}).get('enable-tls', '')).lower() == 'true')
    assert cluster.wait_healthy(units, timeout=timeout), model.status()
    return cluster
