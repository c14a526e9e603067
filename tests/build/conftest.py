import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tests', 'layers'))


@pytest.fixture(scope='session')
def built_charm():
    """Build the charm for real, once per session; return build/redis-k8s."""
    proc = subprocess.run(['bash', os.path.join(REPO, 'scripts', 'build.sh')], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert proc.returncode == 0, proc.stdout.decode()
    return os.path.join(REPO, 'build', 'redis-k8s')
