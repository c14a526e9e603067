"""Consumer-visible failover time after a crash of the master (SIGKILL of the whole pod)."""

import statistics

from bench.deployment import DOWN_AFTER_MS, settle
from bench.faults import killed, recreated, under_load

TARGET_S = 5.0


def measure(session, cluster, units=3, runs=5, min_left_s=120):
    """Returns ``(failover_visible_s, lost writes per run)``."""
    visible, lost, details = [], [], []
    for index in range(runs):
        if session.left() < min_left_s:
            break
        master = settle(cluster, units)
        try:
            outcome = under_load(cluster, 'crash{}'.format(index),
                                 lambda: killed(cluster.model, master), recreated(master), units)
        except TimeoutError as error:
            details.append({'killed': master, 'error': 'no recovery: {}'.format(
                str(error).splitlines()[0])})
            break
        seconds = outcome.visible_s()
        details.append({'killed': master, 'new_master': outcome.master,
                        'visible_s': None if seconds is None else round(seconds, 3),
                        'lost': outcome.lost, 'acknowledged': len(outcome.load.acknowledged)})
        if seconds is not None:
            visible.append(seconds)
        lost.append(outcome.lost)
    figure = {
        'median': round(statistics.median(visible), 3) if visible else None,
        'max': round(max(visible), 3) if visible else None,
        'runs': len(visible),
        'samples': [round(value, 3) for value in visible],
        # A killed pod is recreated within about a second on the local model: when it answers
        # again before down-after runs out, no replica is promoted and the figure is a restart.
        'runs_with_promotion': sum(1 for run in details
                                   if run.get('new_master') not in (None, run['killed'])),
        'down_after_ms': DOWN_AFTER_MS,
        'fault': 'SIGKILL of the whole master pod (model.kill), 3 units',
        'measured': ('from the return of kill to the first write acknowledged through the '
                     'host in the consumer\'s relation data (WriteLoad), after the first failed '
                     'write'),
        'target_s': TARGET_S,
        'details': details,
    }
    return figure, lost
