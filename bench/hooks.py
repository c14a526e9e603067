"""Hook duration p50 and p95 by hook kind, from the local model's record of the hooks it ran."""

import math
import re

from testbed.cluster import APP

TARGET_P50_S = 0.5
# Endpoint and storage names prefix some hooks; the kind is what Juju names the event.
_KIND = re.compile(r'^.+-((?:relation|storage)-[a-z]+)$')


def kind(hook):
    match = _KIND.match(hook)
    return match.group(1) if match else hook


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def collect(model, app=APP):
    """The durations of ``app``'s hooks run by ``model`` so far, as ``(kind, seconds)``."""
    return [(kind(hook), seconds) for hook, unit, seconds in model.hook_runs()
            if unit.split('/')[0] == app]


def summarize(runs):
    by_kind = {}
    for hook_kind, seconds in runs:
        by_kind.setdefault(hook_kind, []).append(seconds)
    figure = {name: {'p50': round(percentile(values, 0.5), 3),
                     'p95': round(percentile(values, 0.95), 3), 'n': len(values)}
              for name, values in sorted(by_kind.items())}
    if runs:
        every = [seconds for _, seconds in runs]
        figure['all'] = {'p50': round(percentile(every, 0.5), 3),
                         'p95': round(percentile(every, 0.95), 3), 'n': len(every)}
    return figure
