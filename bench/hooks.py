"""Hook duration p50 and p95, and hook tool calls, by hook kind, from the local model's record of
the hooks it ran."""

import math
import re

from testbed.cluster import APP

TARGET_P50_S = 0.35
TARGET_P95_S = 1.0
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
    """``app``'s hooks run by ``model`` so far, as ``(kind, seconds, {tool: calls})``."""
    return [(kind(hook), seconds, calls) for hook, unit, seconds, calls in model.hook_tool_calls()
            if unit.split('/')[0] == app]


def summarize(runs):
    """Hook seconds p50 and p95 by kind (and over all hooks)."""
    by_kind = {}
    for hook_kind, seconds, *_ in runs:
        by_kind.setdefault(hook_kind, []).append(seconds)
    figure = {name: {'p50': round(percentile(values, 0.5), 3),
                     'p95': round(percentile(values, 0.95), 3), 'n': len(values)}
              for name, values in sorted(by_kind.items())}
    if runs:
        every = [run[1] for run in runs]
        figure['all'] = {'p50': round(percentile(every, 0.5), 3),
                         'p95': round(percentile(every, 0.95), 3), 'n': len(every)}
    return figure


def summarize_calls(runs):
    """Hook tool calls per hook by kind: p50, max, and the tools of the median hook's kind
    (mean calls per hook of each tool), so a regression names its tool."""
    by_kind = {}
    for hook_kind, _, calls in runs:
        by_kind.setdefault(hook_kind, []).append(calls)
    figure = {}
    for name, hooks in sorted(by_kind.items()):
        totals = [sum(calls.values()) for calls in hooks]
        tools = {}
        for calls in hooks:
            for tool, count in calls.items():
                tools[tool] = tools.get(tool, 0) + count
        figure[name] = {'p50': percentile(totals, 0.5), 'max': max(totals), 'n': len(totals),
                        'per_tool': {tool: round(count / len(hooks), 2)
                                     for tool, count in sorted(tools.items())}}
    return figure
