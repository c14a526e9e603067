"""The charm's plain modules are imported straight from ``lib/``, as the built charm does."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
