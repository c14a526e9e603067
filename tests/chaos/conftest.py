"""Fixtures of the chaos soak: its own model (subnet 127.94, or ``CHAOS_SUBNET``) and a three-unit
redis-k8s.

The soak is long, so it runs only when asked for by path (``make chaos`` runs ``pytest tests/chaos``);
a run of the whole suite (``pytest tests``, ``make test``) does not collect it.
"""

import os
import pathlib
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'lib'))

from testbed import deploy  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
# Another run on this machine (another worktree) moves it: CHAOS_SUBNET=127.N.
SUBNET = os.environ.get('CHAOS_SUBNET', '127.94')


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
    return deploy.build_charms()


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    with deploy.local_model(tmp_path_factory.mktemp('chaos-model'), 'chaos', SUBNET) as lm:
        yield lm


@pytest.fixture(scope='module')
def cluster(model, charms):
    return deploy.deploy_cluster(model, charms, config=deploy.FAST_FAILOVER)
