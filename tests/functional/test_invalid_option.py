"""While an option is invalid the units stay blocked and the pod spec stays, yet consumers follow a
failover: the leader goes on tracking and publishing the master with the last valid configuration.

Real redis-server and sentinel processes on the local model, the legacy consumer related.
"""

from conftest import APP, CONSUMER
from testbed import deploy, faults

SUBNET = '127.99'  # free: 127.93 and 127.95 are bench's, 127.94 chaos'
CONFIG = deploy.FAST_FAILOVER  # the cluster fixture deploys with it
BAD = {'maxmemory-policy': 'sometimes'}


def blocked_on(cluster, option):
    """Every unit is blocked with a message naming ``option``."""
    units = cluster.units()
    return len(units) == 3 and all(
        unit['workload-status']['current'] == 'blocked'
        and option in unit['workload-status']['message'] for unit in units.values())


def settled_master(cluster, other_than=None):
    """The pod every replica follows (linked) and every sentinel names, if it is not
    ``other_than``, else None (the units' status is not asked: they are blocked)."""
    roles = cluster.roles()
    masters = [pod for pod, info in roles.items() if info['role'] == 'master']
    if len(masters) != 1:
        return None
    master = masters[0]
    if master == other_than:
        return None
    if any(info['master_link_status'] != 'up' or cluster.pod_of(info['master_host']) != master
           for pod, info in roles.items() if pod != master):
        return None
    views = cluster.sentinel_masters()
    if any(view is None or cluster.pod_of(view[0]) != master for view in views.values()):
        return None
    return master


def pod_templates(cluster):
    return {name: pod['spec-hash'] for name, pod in cluster.model.status()['pods'].items()
            if pod['application'] == APP}


def consumer_names(cluster, master):
    status = cluster.model.status()['applications'][CONSUMER]['units'][CONSUMER + '/0']
    return master in status['workload-status']['message']


def test_consumers_follow_a_failover_while_an_option_is_invalid(cluster):
    old = cluster.wait_healthy(3)
    # On a loaded machine the units may still be working through their first hooks (the relation's
    # among them) when the pods are healthy: generous timeouts, the point is that it happens.
    faults.eventually(cluster, lambda: cluster.relation_points_at(old), 240,
                      'relation data does not name master {}'.format(old))
    templates = pod_templates(cluster)

    cluster.model.config(APP, BAD)
    faults.eventually(cluster, lambda: blocked_on(cluster, 'maxmemory-policy'), 180,
                      'the units are not blocked on maxmemory-policy')

    faults.freeze_master_redis(cluster)
    new = faults.eventually(cluster, lambda: settled_master(cluster, other_than=old), 120,
                            'no master other than {} settled'.format(old))
    faults.eventually(cluster, lambda: cluster.relation_points_at(new), 180,
                      'relation data does not name the new master {}'.format(new))
    faults.eventually(cluster, lambda: consumer_names(cluster, new), 180,
                      'the consumer does not name the new master {}'.format(new))
    assert blocked_on(cluster, 'maxmemory-policy')
    assert pod_templates(cluster) == templates  # no new pod spec: nothing rolled

    cluster.model.config(APP, reset=list(BAD))
    assert cluster.wait_healthy(3, timeout=240) == new
    assert pod_templates(cluster) == templates
