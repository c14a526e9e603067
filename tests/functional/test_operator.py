"""redis-k8s and its operator pod, as Juju 2.9 runs it (issue 9), on a model whose cluster domain
is not ``cluster.local``.

Every unit has its own charm directory in the application's one operator pod, whose filesystem and
processes a restart of that pod loses; the master watcher must still be exactly one per
application, aimed at the current leader, after a leader change and after an operator restart.
Unit numbers are never reused, so after a scale 3 -> 2 -> 3 the units are /0, /1 and /3 on pods
0, 1 and 2. The tests share one deployment and run in order; each leaves it healthy.
"""

import os
import time

import pytest

from conftest import APP, CONSUMER, MODEL
from redis_k8s import watchers
from testbed import deploy, faults
from testbed.load import WriteLoad

SUBNET = '127.97'
DOMAIN = 'k8s.test'
CONFIG = deploy.FAST_FAILOVER
# update-status is made rare here (once an hour), so that what follows a failover, the relation
# data and the statuses, is the watcher's doing; it must be done within this bound.
UPDATE_STATUS_S = 3600
WATCHER_BOUND_S = 20
STEADY_S = 6  # how long "exactly one watcher" must hold once reached


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    """This module's own model: the conftest's, but with the cluster domain ``DOMAIN`` and a rare
    update-status."""
    subnet = SUBNET
    if os.environ.get('TEST_SUBNET_BASE'):  # as the conftest does: a second run's addresses
        subnet = '127.{}'.format(int(os.environ['TEST_SUBNET_BASE']) + int(SUBNET[4:]) - 60)
    with deploy.local_model(tmp_path_factory.mktemp('model'), MODEL, subnet,
                            cluster_domain=DOMAIN, update_status_interval=UPDATE_STATUS_S) as lm:
        yield lm


def fqdn_domain():
    return '-endpoints.{}.svc.{}'.format(MODEL, DOMAIN)


def the_one_watcher(cluster):
    """``(pid, settings)`` of the watcher once exactly one runs and it triggers the leader's
    unit, in the operator; else None."""
    running = cluster.watchers()
    leaders = [name for name, unit in cluster.units().items() if unit.get('leader')]
    if len(running) != 1 or len(leaders) != 1:
        return None
    (pid, settings), = running.items()
    if settings.get('trigger') != watchers.refresh_command(leaders[0]):
        return None
    return pid, settings


def wait_for_one_watcher(cluster, timeout=90, not_pid=None):
    """The one watcher (see :func:`the_one_watcher`), other than ``not_pid``, once it has stayed
    the only one for ``STEADY_S``."""
    def found():
        one = the_one_watcher(cluster)
        return one if one and one[0] != not_pid else None
    one = faults.eventually(cluster, found, timeout, 'not exactly one watcher aimed at {}: {}'.format(
        cluster.leader(), cluster.watchers()))
    deadline = time.monotonic() + STEADY_S
    while time.monotonic() < deadline:
        assert cluster.watchers().keys() == {one[0]}, cluster.watchers()
        time.sleep(0.5)
    return one


def published_by_all(cluster, master, count=3):
    """The relation data of every unit, once each names ``master`` by its name in ``DOMAIN``."""
    def published():
        data = cluster.all_relation_data()
        return data if len(data) == count and all(
            unit.get('host') == master + '.' + APP + fqdn_domain() for unit in data) else None
    return faults.eventually(cluster, published, 120,
                             'not every unit publishes master {}'.format(master))


def test_core_checks_on_a_cluster_domain_that_is_not_cluster_local(cluster):
    master = cluster.wait_healthy(3)
    assert 'svc.{}'.format(DOMAIN) in cluster.model.pod_spec(APP)  # PEER_DOMAIN
    assert {view[0] for view in cluster.sentinel_masters().values()} == {master + '.' + APP +
                                                                          fqdn_domain()}
    for data in published_by_all(cluster, master):
        assert data['sentinel-hosts'].split(',') == [pod + '.' + APP + fqdn_domain()
                                                     for pod in cluster.pods()]
    status = cluster.model.unit_status(CONSUMER + '/0')
    assert status['workload-status']['current'] == 'active'
    # The legacy consumer wrote through the endpoint it was given; it is there to read.
    assert cluster.client(master).get('redis-consumer:redis-consumer/0') == \
        b'written by redis-consumer/0'


def test_one_watcher_after_deploy_triggers_the_leader_in_the_operator(cluster):
    pid, settings = wait_for_one_watcher(cluster)
    assert settings['settle'] == [watchers.refresh_command(unit) for unit in sorted(cluster.units())]
    assert settings['promotion_trigger'] == watchers.promotion_command(settings['trigger'][2])
    assert settings['publish_promoted'] == [watchers.publish_command(unit)
                                            for unit in sorted(cluster.units())]
    assert all(host.endswith(fqdn_domain()) for host in settings['sentinels'])


def test_after_move_leader_one_watcher_triggers_the_new_leader(cluster):
    old_pid, _ = wait_for_one_watcher(cluster)
    new_leader = next(unit for unit in sorted(cluster.units()) if unit != cluster.leader())
    cluster.model.move_leader(APP, new_leader)
    assert cluster.model.wait_for(lambda status: cluster.leader() == new_leader, timeout=30)
    wait_for_one_watcher(cluster, not_pid=old_pid)


def test_after_restart_operator_one_new_watcher_triggers_the_leader(cluster):
    old_pid, _ = wait_for_one_watcher(cluster)
    cluster.model.restart_operator(APP)
    wait_for_one_watcher(cluster, timeout=120, not_pid=old_pid)
    assert cluster.wait_healthy(3, timeout=120)


def test_a_failover_after_restart_operator_reaches_the_consumer_at_once(cluster):
    cluster.model.restart_operator(APP)
    wait_for_one_watcher(cluster, timeout=120)
    # Every hook the restart queued has run: from here on, only the watcher runs the charm.
    cluster.model.wait(timeout=180)
    master = cluster.wait_healthy(3, timeout=120)
    faults.eventually(cluster, lambda: cluster.relation_points_at(master), 60,
                      'relation data does not name master {}'.format(master))
    load = WriteLoad(cluster, prefix='after-restart-operator').start()
    try:
        faults.eventually(cluster, lambda: len(load.acknowledged) >= 50, 30,
                          'writes do not succeed')
        fault = faults.delete_master_pod(cluster)
        outcome = faults.recover(cluster, load, fault)
    finally:
        load.stop()
    print('\n' + faults.summary(outcome))
    faults.check(outcome)
    arrived = next(at for at, pod in outcome.relation_moves if pod == outcome.new_master)
    assert arrived < WATCHER_BOUND_S, outcome.relation_moves


def test_scale_3_2_3_new_unit_numbers_on_pods_0_to_2(cluster):
    cluster.wait_healthy(3)
    cluster.model.scale(APP, 2)
    assert cluster.wait_healthy(2, timeout=240), cluster.model.status()
    cluster.model.scale(APP, 3)
    master = cluster.wait_healthy(3, timeout=240)
    assert master, cluster.model.status()
    units = cluster.units()
    assert sorted(units) == [APP + '/0', APP + '/1', APP + '/3']  # numbers are never reused
    assert cluster.pods() == [APP + '-0', APP + '-1', APP + '-2']
    assert sorted(unit['provider-id'] for unit in units.values()) == cluster.pods()
    # The units that were there see the new one at their next hook (peer relation-joined).
    faults.eventually(cluster, lambda: all(
        unit['workload-status']['message'] == '3/3 pods, master {}'.format(master)
        for unit in cluster.units().values()), 60, 'statuses: {}'.format(cluster.units()))
    for data in published_by_all(cluster, master):
        assert data['sentinel-hosts'].split(',') == [pod + '.' + APP + fqdn_domain()
                                                     for pod in cluster.pods()]
    _, settings = wait_for_one_watcher(cluster)
    assert settings['settle'] == [watchers.refresh_command(unit) for unit in sorted(units)]
