"""Charm build time, cold and warm, in a private copy of the source tree.

The copy has no ``build/`` and no ``deps/``, exactly as after ``rm -rf build deps``, without
removing the shared ``build/`` other tests of this checkout may be deploying from at the time.
"""

import os
import subprocess
import time

from bench import ROOT

EXCLUDES = ['./.git', './.venv', './build', './deps', './.localmodel', '__pycache__',
            '.pytest_cache', '*.pyc', '.unit-state*.db', './bench/results.json']
CONSUMER_SOURCE = 'tests/charms/redis-consumer'


def copy_tree(destination):
    """Copy the working tree (uncommitted changes included, as ``make build`` sees it)."""
    os.makedirs(destination)
    excludes = ['--exclude=' + pattern for pattern in EXCLUDES]
    pack = subprocess.Popen(['tar', '-C', ROOT, '-cf', '-'] + excludes + ['.'],
                            stdout=subprocess.PIPE)
    subprocess.run(['tar', '-C', destination, '-xf', '-'], stdin=pack.stdout, check=True)
    pack.stdout.close()
    if pack.wait() != 0:
        raise RuntimeError('could not copy the source tree')
    # The build script uses the checkout's tools; a link keeps the copy small.
    os.symlink(os.path.join(ROOT, '.venv'), os.path.join(destination, '.venv'))


def build(tree, source=None):
    """Build a charm with scripts/build.sh in ``tree``; returns the seconds it took."""
    start = time.monotonic()
    subprocess.run(['bash', 'scripts/build.sh'] + ([source] if source else []), cwd=tree,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.monotonic() - start


def measure(session):
    """Returns ``(figures, charms)``: build_s {cold, warm} and the built charm directories."""
    tree = os.path.join(session.scratch, 'src')
    copy_tree(tree)
    cold = build(tree)
    warm = build(tree)
    build(tree, CONSUMER_SOURCE)
    charms = {name: os.path.join(tree, 'build', name) for name in ('redis-k8s', 'redis-consumer')}
    figures = {
        'cold': round(cold, 2),
        'warm': round(warm, 2),
        'how': ('scripts/build.sh in a copy of the working tree without build/ and deps/ '
                '(= rm -rf build deps), then again (warm). The cold build vendors the wheelhouse '
                'with pip, whose cache (PIP_CACHE_DIR=deps/vendor/pip) is gone too; pip still '
                'finds the wheels in the machine\'s local wheel directories (pip.conf: '
                '/opt/wheels, file:///opt/pypi*), so no download is timed.'),
    }
    return figures, charms
