import fcntl
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tests', 'layers'))


@pytest.fixture(scope='session')
def built_charm(tmp_path_factory):
    """Build the charm for real, once per session; return a private copy of build/redis-k8s.

    The copy is taken under build.sh's lock: a build in another lane (the functional suite
    builds at its start) swaps build/redis-k8s, and a test reading it meanwhile would see
    files vanish."""
    proc = subprocess.run(['bash', os.path.join(REPO, 'scripts', 'build.sh')], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert proc.returncode == 0, proc.stdout.decode()
    copy = tmp_path_factory.mktemp('built') / 'redis-k8s'
    with open(os.path.join(REPO, 'build', '.build.lock'), 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.copytree(os.path.join(REPO, 'build', 'redis-k8s'), copy, symlinks=True)
        shutil.copy2(os.path.join(REPO, 'build', 'redis-k8s.charm'), str(copy) + '.charm')
    return str(copy)
