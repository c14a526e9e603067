"""``make bench``: the figures of redis-k8s on the local model (see ``python -m bench --help``)."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# testbed imports redis_k8s (lib/) the way the functional tests do.
for path in (ROOT, os.path.join(ROOT, 'lib')):
    if path not in sys.path:
        sys.path.insert(0, path)
