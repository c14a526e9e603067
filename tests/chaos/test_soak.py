"""A soak: many rounds of random faults under a steady write load following the relation data.

Each round injects one fault from issue 5: a crash of the master's redis (once, or in a loop until
the sentinels fail over), the master's redis frozen until they do, a graceful delete of the master
pod, a crash of a sentinel, every pod deleted at once, a scale-down that removes the master, the
master's pod cut off from the other pods for 10 s (issue 11). It then waits for recovery and checks the
same invariants as the functional failover tests. The rounds and the seed come from
``CHAOS_ROUNDS`` (default 20) and ``CHAOS_SEED`` (default: random, printed), so a failing sequence
can be replayed.
"""

import os
import random

from testbed import faults
from testbed.load import WriteLoad

ROUNDS = int(os.environ.get('CHAOS_ROUNDS', '20'))
SEED = int(os.environ.get('CHAOS_SEED', random.SystemRandom().randrange(1 << 30)))


def kill_any_sentinel(cluster, chooser):
    return faults.kill_sentinel(cluster, chooser.choice(cluster.pods()))


FAULTS = {
    'kill-master-redis': lambda cluster, chooser: faults.kill_master_redis(cluster),
    'crash-loop-master-redis': lambda cluster, chooser: faults.crash_loop_master_redis(cluster),
    'freeze-master-redis': lambda cluster, chooser: faults.freeze_master_redis(cluster),
    'delete-master-pod': lambda cluster, chooser: faults.delete_master_pod(cluster),
    'kill-sentinel': kill_any_sentinel,
    'delete-all-pods': lambda cluster, chooser: faults.delete_all_pods(cluster),
    'scale-down-master': lambda cluster, chooser: faults.scale_down_master(cluster),
    'partition-master': lambda cluster, chooser: faults.partition_master(cluster),
}


def test_random_faults_under_load(cluster):
    chooser = random.Random(SEED)
    print('\nchaos: {} rounds, CHAOS_SEED={}'.format(ROUNDS, SEED))
    outcomes = []
    for round_number in range(1, ROUNDS + 1):
        name = chooser.choice(sorted(FAULTS))
        context = 'round {} ({}), CHAOS_SEED={}'.format(round_number, name, SEED)
        master = faults.eventually(cluster, lambda: cluster.healthy(3), 240, context)
        if name == 'scale-down-master':
            faults.move_master(cluster, cluster.pods()[-1])  # before the load: see move_master
            master = cluster.pods()[-1]
        # The first round follows the deployment: its first relation hooks take minutes on a
        # loaded machine (the functional conftest allows the same 240 s).
        faults.eventually(cluster, lambda: cluster.relation_points_at(master), 240, context)
        load = WriteLoad(cluster, prefix='chaos-{}'.format(round_number)).start()
        try:
            try:
                faults.eventually(cluster, lambda: len(load.acknowledged) >= 50, 30,
                                  'writes do not succeed')
                fault = FAULTS[name](cluster, chooser)
                outcome = faults.recover(cluster, load, fault, timeout=240)
                faults.check(outcome)
            except AssertionError as error:
                raise AssertionError('{}: {}'.format(context, error)) from error
        finally:
            load.stop()
            if len(cluster.pods()) < 3 or name == 'scale-down-master':
                cluster.model.scale(cluster.app, 3)
        outcomes.append(outcome)
        print('round {:2d}: {}'.format(round_number, faults.summary(outcome)))
    lost = sum(len(outcome.lost) for outcome in outcomes)
    print('chaos: {} rounds, {} acknowledged writes lost in all'.format(len(outcomes), lost))
