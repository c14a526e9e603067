"""``juju upgrade-charm`` on three units under a write load.

Juju rolls every pod of the application on a charm upgrade: the charm-modified version is a pod
template annotation, and the leader's upgrade-charm commits the pod spec again (see
localmodel/README.md, "Every charm upgrade rolls the pods"). The pods are replaced one at a
time, highest ordinal first, each stopping gracefully: the master's hands over first. The next
pod is stopped only once every pod already replaced is in sync again (a master, or a replica with
its link up: the readiness the rollout waits for), so the master never stops while a replica
that restarted before it still lacks its writes. Nothing acknowledged is lost, what was written
before the upgrade is all there, the relation names the master, and every unit ends active.

Assertions are about behaviour, never durations: timeouts only bound the waits.
"""

from conftest import APP
from testbed import deploy, faults
from testbed.load import WriteLoad
from testbed.rollout import SyncAtEachStop

SUBNET = '127.83'
CONFIG = deploy.FAST_FAILOVER
KEYS = 2000


def pod_identities(cluster):
    """Per pod: its address and template hash (a replaced pod changes both)."""
    return {name: (pod['address'], pod['spec-hash'])
            for name, pod in cluster.model.status()['pods'].items()
            if pod['application'] == APP}


def test_an_upgrade_rolls_every_pod_under_load_and_loses_nothing(cluster, charms):
    master = faults.eventually(cluster, lambda: cluster.healthy(3), 240, 'not healthy')
    faults.every_entry_names(cluster, master, 120)
    cluster.client(master).mset({'before-upgrade:{}'.format(i): i for i in range(KEYS)})
    before = pod_identities(cluster)
    writer = WriteLoad(cluster, prefix='upgrade').start()
    rollout = SyncAtEachStop(cluster).start()
    try:
        faults.eventually(cluster, lambda: len(writer.acknowledged) >= 50, 60,
                          'writes do not succeed')
        cluster.model.upgrade(APP, charms[APP])

        def rolled():
            now = pod_identities(cluster)
            return set(now) == set(before) and all(
                now[pod][0] != before[pod][0] and now[pod][1] != before[pod][1]
                for pod in before)
        faults.eventually(cluster, rolled, 600, 'not every pod was replaced: {}'.format(before))
        cluster.model.wait(300)
        master = faults.eventually(cluster, lambda: cluster.healthy(3), 240,
                                   'not healthy after the roll')
        faults.every_entry_names(cluster, master, 120)
        acknowledged = len(writer.acknowledged)
        faults.eventually(cluster, lambda: len(writer.acknowledged) >= acknowledged + 50, 60,
                          'writes do not go on after the roll')
    finally:
        writer.stop()
        rollout.stop()
    assert sorted(stopped for stopped, _ in rollout.stops) == sorted(before), rollout.stops
    assert rollout.out_of_sync() == [], rollout.stops
    assert writer.lost() == []
    values = cluster.client(master).mget(['before-upgrade:{}'.format(i) for i in range(KEYS)])
    assert [int(v) for v in values] == list(range(KEYS))
    units = cluster.model.status()['applications'][APP]['units']
    assert all(u['workload-status']['current'] == 'active' for u in units.values()), units
