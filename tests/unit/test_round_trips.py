"""What one steady leader hook asks of a healthy cluster: every question once, one connection per
instance (the charm's record_master, heal_sentinels and assess_status share one snapshot)."""

from collections import Counter

from redis_k8s import healing, observation, settings

HOSTS = ['r-{}.r-endpoints.m.svc.cluster.local'.format(n) for n in range(3)]
MASTER = HOSTS[0]


class Instance:
    """A healthy pod's redis or sentinel that counts what it is asked."""

    def __init__(self, host, port, asked):
        self.host, self.port, self.asked = host, port, asked

    def _count(self, what):
        self.asked[('sentinel' if self.port == 26379 else 'redis', what)] += 1

    def info(self, section=None):
        self._count('INFO')
        if self.host == MASTER:
            return {'role': 'master', 'connected_slaves': 2, 'redis_version': '7.0.15'}
        return {'role': 'slave', 'master_host': MASTER, 'master_port': 6379, 'master_link_status': 'up'}

    def ping(self):
        self._count('PING')
        return True

    def execute_command(self, *args):
        self._count(' '.join(args[:2]))
        if args[1] == 'GET-MASTER-ADDR-BY-NAME':
            return [MASTER, '6379']
        if args[1] == 'MASTER':
            return {'flags': 'master', 'num-slaves': '2', 'num-other-sentinels': '2'}
        if args[1] == 'REPLICAS':
            return [['ip', host, 'port', '6379', 'flags', 'slave'] for host in HOSTS[1:]]
        if args[1] == 'SENTINELS':
            return [['ip', host, 'port', '26379'] for host in HOSTS if host != self.host]
        raise AssertionError('a steady hook changes nothing: {}'.format(args))

    def close(self):
        pass


def test_a_steady_leader_hook_asks_each_question_once_over_one_connection_per_instance():
    asked, connections = Counter(), Counter()

    def connect(host, port, password):
        connections[(host, port)] += 1
        return Instance(host, port, asked)

    snapshot = observation.observe(HOSTS, settings.parse({}, 3, app_name='r'), 'pw', connect)
    assert (snapshot.promoted or snapshot.master) == (MASTER, 6379)  # record_master
    assert healing.heal(snapshot) is None  # heal_sentinels: nothing to heal
    health = snapshot.health()  # assess_status
    assert (health.master, health.ready, health.other_masters) == ((MASTER, 6379), 3, [])
    assert asked == Counter({
        ('sentinel', 'SENTINEL GET-MASTER-ADDR-BY-NAME'): 3, ('sentinel', 'SENTINEL REPLICAS'): 3,
        ('sentinel', 'SENTINEL SENTINELS'): 3, ('sentinel', 'SENTINEL MASTER'): 3,
        ('redis', 'INFO'): 3})
    assert set(connections.values()) == {1} and len(connections) == 6
