"""Fixtures for functional tests: the built charms deployed on a local model, real processes."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'lib'))

from localmodel.client import Model  # noqa: E402
from testbed.cluster import APP, CONSUMER, Cluster  # noqa: E402

MODEL = 'functional'
IMAGE = 'redis:7.0'


@pytest.fixture(scope='session')
def charms():
    """Build redis-k8s and the consumer once per session with the real `charm build`."""
    for source in ([], ['tests/charms/redis-consumer']):
        subprocess.run(['bash', 'scripts/build.sh'] + source, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    return {APP: os.path.join(ROOT, 'build', APP), CONSUMER: os.path.join(ROOT, 'build', CONSUMER)}


@pytest.fixture(scope='module')
def model(tmp_path_factory, request):
    """A fresh local model per test module; every process it started is gone afterwards."""
    subnet = getattr(request.module, 'SUBNET', '127.90')
    lm = Model(str(tmp_path_factory.mktemp('model')))
    lm.up(model=MODEL, subnet=subnet, update_status_interval=60, retry_delay=2)
    try:
        yield lm
    finally:
        lm.down()


@pytest.fixture(scope='module')
def cluster(model, charms):
    """redis-k8s with 3 units and the consumer, related, all active."""
    model.deploy(charms[APP], APP, num_units=3, resources={'redis-image': IMAGE})
    model.deploy(charms[CONSUMER], CONSUMER)
    model.relate(APP, CONSUMER)
    result = Cluster(model)
    assert result.wait_healthy(3, timeout=240), model.status()
    return result
