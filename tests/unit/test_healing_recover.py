"""healing.recover_lost_master: the master left with its pod and the sentinels that remain cannot fail over."""

import pytest
import redis

from redis_k8s import healing, observation
from redis_k8s import settings as settings_mod

PODS = ['r-0', 'r-1']
GONE = 'r-2'


class Node:
    def __init__(self, role=None, offset=0, master=None):
        self.role, self.offset, self.master = role, offset, master
        self.replicas = 0
        self.calls = []
        # What a sentinel says of a master it has seen down for a minute, with no failover running.
        self.state = {'flags': 'master,s_down,o_down', 's-down-time': '60000'}


class Client:
    def __init__(self, node):
        self.node = node

    def execute_command(self, *args):
        self.node.calls.append(tuple(str(a) for a in args))
        command = ' '.join(str(a) for a in args[:2]).upper()
        if command == 'SENTINEL GET-MASTER-ADDR-BY-NAME':
            return list(self.node.master) if self.node.master else None
        if command == 'SENTINEL MASTER':
            return dict(self.node.state)
        if command == 'SENTINEL REMOVE':
            raise redis.ResponseError('ERR No such master with that name')
        return 'OK'

    def ping(self):
        return True

    def info(self, section=None):
        if self.node.role == 'master':
            return {'role': 'master', 'master_repl_offset': self.node.offset,
                    'connected_slaves': self.node.replicas}
        return {'role': self.node.role, 'slave_repl_offset': self.node.offset}

    def close(self):
        pass


def network(nodes):
    def connect(host, port, password):
        if (host, port) not in nodes:
            raise redis.ConnectionError('Name or service not known')
        return Client(nodes[(host, port)])
    return connect


def cluster(followed):
    return {
        ('r-0', 6379): Node(role='slave', offset=500),
        ('r-1', 6379): Node(role='slave', offset=900),
        ('r-0', 26379): Node(master=followed),
        ('r-1', 26379): Node(master=followed),
    }


def recover(nodes):
    snapshot = observation.observe(PODS, settings_mod.parse({}, 2, app_name='r'), 'pw', connect=network(nodes))
    return healing.recover_lost_master(snapshot)


def test_promotes_the_most_up_to_date_replica_and_repoints_everything():
    nodes = cluster((GONE, '6379'))
    assert recover(nodes) == 'r-1'
    assert ('REPLICAOF', 'NO', 'ONE') in nodes[('r-1', 6379)].calls
    assert ('REPLICAOF', 'r-1', '6379') in nodes[('r-0', 6379)].calls
    for pod in PODS:
        calls = nodes[(pod, 26379)].calls
        assert ('SENTINEL', 'MONITOR', 'r', 'r-1', '6379', '2') in calls
        assert any(call[:4] == ('SENTINEL', 'SET', 'r', 'auth-pass') and call[4] == 'pw'
                   for call in calls)


def test_nothing_to_do_while_the_followed_master_is_a_current_pod():
    nodes = cluster(('r-0', '6379'))
    assert recover(nodes) is None
    assert not any(call[0] == 'REPLICAOF' for node in nodes.values() for call in node.calls)


def test_nothing_to_do_while_the_departing_master_still_answers():
    nodes = cluster((GONE, '6379'))
    nodes[(GONE, 6379)] = Node(role='master')  # still shutting down: its own failover may run
    assert recover(nodes) is None


def test_a_pod_already_master_is_kept_and_no_replica_is_promoted_beside_it():
    """The sentinels promoted r-0 just before the departing sentinel went; the rest still name r-2."""
    nodes = cluster((GONE, '6379'))
    nodes[('r-0', 6379)] = Node(role='master', offset=950)
    assert recover(nodes) == 'r-0'
    assert ('REPLICAOF', 'NO', 'ONE') not in nodes[('r-1', 6379)].calls
    assert ('REPLICAOF', 'r-0', '6379') in nodes[('r-1', 6379)].calls
    assert not any(call[0] == 'REPLICAOF' for call in nodes[('r-0', 6379)].calls)
    for pod in PODS:
        assert ('SENTINEL', 'MONITOR', 'r', 'r-0', '6379', '2') in nodes[(pod, 26379)].calls


def test_of_two_masters_the_one_with_linked_replicas_stays():
    nodes = cluster((GONE, '6379'))
    nodes[('r-0', 6379)] = Node(role='master', offset=100)
    nodes[('r-1', 6379)] = Node(role='master', offset=900)
    nodes[('r-1', 6379)].replicas = 1
    assert recover(nodes) == 'r-1'
    assert ('REPLICAOF', 'r-1', '6379') in nodes[('r-0', 6379)].calls


@pytest.mark.parametrize('sentinels', ['failing over', 'down too briefly', 'one names another master'])
def test_nothing_is_promoted_while_the_sentinels_may_still_fail_over(sentinels):
    """A departing master hands over on its way out: the sentinels' own failover must not be raced."""
    nodes = cluster((GONE, '6379'))
    if sentinels == 'failing over':
        nodes[('r-0', 26379)].state['flags'] = 'master,s_down,o_down,failover_in_progress'
    elif sentinels == 'down too briefly':
        nodes[('r-1', 26379)].state['s-down-time'] = '900'
    else:
        nodes[('r-1', 26379)].master = ('r-0', '6379')
    assert recover(nodes) is None
    assert not any(call[0] == 'REPLICAOF' for node in nodes.values() for call in node.calls)
