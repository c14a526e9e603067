"""Fixtures of the chaos soak: its own model (subnet 127.94) and a three-unit redis-k8s.

The soak is long, so it runs only when asked for by path (``make chaos`` runs ``pytest tests/chaos``);
a run of the whole suite (``pytest tests``, ``make test``) does not collect it.
"""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'lib'))

from localmodel.client import Model  # noqa: E402
from testbed.cluster import APP, CONSUMER, Cluster  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
SUBNET = '127.94'
IMAGE = 'redis:7.0'
CONFIG = {'down-after-milliseconds': '2000', 'failover-timeout': '10000'}


def pytest_ignore_collect(collection_path, config):
    """Collect the soak only when the command line names this directory or a file in it."""
    path = pathlib.Path(collection_path).resolve()
    if path != HERE and HERE not in path.parents:
        return None
    for arg in config.args:
        asked = pathlib.Path(config.invocation_params.dir, arg.split('::')[0]).resolve()
        if asked == HERE or HERE in asked.parents:
            return None
    return True


@pytest.fixture(scope='session')
def charms():
    for source in ([], ['tests/charms/redis-consumer']):
        subprocess.run(['bash', 'scripts/build.sh'] + source, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    return {APP: os.path.join(ROOT, 'build', APP), CONSUMER: os.path.join(ROOT, 'build', CONSUMER)}


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    lm = Model(str(tmp_path_factory.mktemp('chaos-model')))
    lm.up(model='chaos', subnet=SUBNET, update_status_interval=60, retry_delay=2)
    try:
        yield lm
    finally:
        lm.down()


@pytest.fixture(scope='module')
def cluster(model, charms):
    model.deploy(charms[APP], APP, num_units=3, resources={'redis-image': IMAGE}, config=CONFIG)
    model.deploy(charms[CONSUMER], CONSUMER)
    model.relate(APP, CONSUMER)
    result = Cluster(model)
    assert result.wait_healthy(3, timeout=240), model.status()
    return result
