import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# charmhelpers.core.host (imported by charms.reactive) refuses to import on Debian; the charm runs
# on Ubuntu operator pods. As in tests/layers, these in-process tests only pretend.
import charmhelpers.osplatform  # noqa: E402

charmhelpers.osplatform.get_platform = lambda: 'ubuntu'

from harness import Context, assemble_charm  # noqa: E402


@pytest.fixture(scope='session')
def charm_template(tmp_path_factory):
    """The charm laid out once per session; each Context copies it per unit directory."""
    return assemble_charm(str(tmp_path_factory.mktemp('charm') / 'redis-k8s'))


@pytest.fixture
def ctx(tmp_path, charm_template):
    context = Context(tmp_path, charm_template)
    yield context
    context.close()
