"""Deploy-to-all-active time of a fresh redis-k8s application at 1, 3 and 5 units."""

import time

from testbed.cluster import APP

from bench import hooks
from bench.deployment import RESOURCES

SIZES = (1, 3, 5)


def all_active(units):
    prefix = '{0}/{0} pods'.format(units)

    def ready(status):
        app = status['applications'].get(APP, {})
        members = app.get('units', {})
        return len(members) == units and all(
            unit['workload-status']['current'] == 'active'
            and unit['workload-status']['message'].startswith(prefix)
            for unit in members.values())
    return ready


def measure(session, charm, subnet, timeout=360, min_left_s=60):
    """A fresh model per size, so that no earlier application shares the operator or the CPU.

    Returns ``(deploy_active_s, hook runs as (kind, seconds))``.
    """
    figure, runs = {}, []
    for units in SIZES:
        if session.left() < min_left_s:
            figure[str(units)] = None
            continue
        model = session.model(subnet, 'bench-deploy-{}'.format(units))
        try:
            start = time.monotonic()
            model.deploy(charm, APP, num_units=units, resources=RESOURCES)
            try:
                model.wait_for(all_active(units), timeout=min(timeout, session.left()),
                               interval=0.2)
                figure[str(units)] = round(time.monotonic() - start, 2)
            except TimeoutError:
                figure[str(units)] = None
            runs.extend(hooks.collect(model))
        finally:
            session.release(model)
    return figure, runs
