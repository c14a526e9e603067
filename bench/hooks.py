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
    """``app``'s hooks run by ``model`` so far, as ``(kind, seconds, {tool: calls}, hook,
    unit)``."""
    return [(kind(hook), seconds, calls, hook, unit)
            for hook, unit, seconds, calls in model.hook_tool_calls()
            if unit.split('/')[0] == app]


def slowest(runs, count=5):
    """The ``count`` longest hooks, longest first, as ``{hook, unit, s}``: a p95 over the
    target names the hooks to look at."""
    ordered = sorted(runs, key=lambda run: run[1], reverse=True)[:count]
    return [{'hook': run[3], 'unit': run[4], 's': round(run[1], 3)} for run in ordered]


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
    for hook_kind, _, calls, *_ in runs:
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


def measure_steady(charms, subnet, seconds=120, update_status_s=10, home=None):
    """Hook figures of a deployment left alone: redis-k8s (3 units) and the consumer deployed,
    related and healthy, then ``seconds`` of update-status every ``update_status_s``.

    Returns ``{'deploy': (times, calls), 'steady': (times, calls)}`` (``summarize`` and
    ``summarize_calls`` of the hooks run while deploying, and of those run afterwards).
    """
    import tempfile
    import time

    from bench.deployment import DOWN_AFTER_MS, RESOURCES, BenchCluster, settle
    from localmodel.client import Model
    from testbed.cluster import CONSUMER

    with tempfile.TemporaryDirectory(prefix='bench-hooks-', dir=home) as scratch:
        model = Model(scratch)
        model.up(model='bench-hooks', subnet=subnet, update_status_interval=update_status_s,
                 retry_delay=2)
        try:
            # As bench.deployment.deploy, with time for a machine under load.
            model.deploy(charms[APP], APP, num_units=3, resources=RESOURCES,
                         config={'down-after-milliseconds': str(DOWN_AFTER_MS)})
            model.deploy(charms[CONSUMER], CONSUMER)
            model.relate(APP, CONSUMER)
            settle(BenchCluster(model), 3, timeout=1200)
            settled = len(collect(model))
            time.sleep(seconds)
            runs = collect(model)
        finally:
            model.down()
    return {'deploy': (summarize(runs[:settled]), summarize_calls(runs[:settled])),
            'steady': (summarize(runs[settled:]), summarize_calls(runs[settled:]))}


def main(argv=None):
    """``python -m bench.hooks [--subnet 127.20] [--charms DIR] [--seconds 120]``: the hook
    figures of one steady deployment (this bench piece alone, on its own subnet)."""
    import argparse
    import json
    import os

    import bench
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument('--subnet', default=os.environ.get('BENCH_SUBNET', '127.20'))
    parser.add_argument('--charms', default=os.path.join(bench.ROOT, 'build'),
                        help='directory holding the built redis-k8s and redis-consumer')
    parser.add_argument('--seconds', type=float, default=120)
    parser.add_argument('--update-status', type=float, default=10)
    args = parser.parse_args(argv)
    charms = {name: os.path.join(args.charms, name) for name in ('redis-k8s', 'redis-consumer')}
    print(json.dumps(measure_steady(charms, args.subnet, args.seconds, args.update_status),
                     indent=1, sort_keys=True))


if __name__ == '__main__':
    main()
