import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# charmhelpers.core.host (imported by charms.reactive) refuses to import on Debian; the
# layers run on Ubuntu operator pods. The built-charm test runs a real hook under an
# Ubuntu os-release instead; these in-process tests only pretend.
import charmhelpers.osplatform  # noqa: E402

charmhelpers.osplatform.get_platform = lambda: 'ubuntu'

from layer_harness import Model  # noqa: E402


@pytest.fixture
def model(tmp_path):
    return Model(tmp_path)
