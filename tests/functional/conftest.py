"""Fixtures for functional tests: the built charms deployed on a local model, real processes."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'lib'))

from testbed import deploy  # noqa: E402
from testbed.cluster import APP, CONSUMER  # noqa: E402,F401  (re-exported for the test modules)

MODEL = 'functional'
IMAGE = deploy.IMAGE


@pytest.fixture(scope='session')
def charms():
    """Build redis-k8s and the consumer once per session with the real `charm build`."""
    return deploy.build_charms()


@pytest.fixture(scope='module')
def model(tmp_path_factory, request):
    """A fresh local model per test module (on the module's ``SUBNET``, with its
    ``CLUSTER_DOMAIN`` when it names one: the charm must not rely on ``cluster.local``; with its
    ``VOLUME_SYNC_DELAY`` when it sets one: how long a Secret change takes to reach the pods)."""
    subnet = getattr(request.module, 'SUBNET', '127.90')
    if os.environ.get('TEST_SUBNET_BASE'):  # a second run on this machine: its own addresses
        subnet = '127.{}'.format(int(os.environ['TEST_SUBNET_BASE']) + int(subnet.split('.')[1]) - 60)
    options = {}
    if getattr(request.module, 'CLUSTER_DOMAIN', None):
        options['cluster_domain'] = request.module.CLUSTER_DOMAIN
    if getattr(request.module, 'VOLUME_SYNC_DELAY', None) is not None:
        options['volume_sync_delay'] = request.module.VOLUME_SYNC_DELAY
    with deploy.local_model(tmp_path_factory.mktemp('model'), MODEL, subnet, **options) as lm:
        yield lm


@pytest.fixture(scope='module')
def cluster(model, charms, request):
    """redis-k8s with 3 units (the module's ``CONFIG``) and the consumer, related, all active."""
    return deploy.deploy_cluster(model, charms, config=getattr(request.module, 'CONFIG', None))
