"""When the leader's hook asks the master watcher to reset stale sentinels, and when the watcher
serves a request (redis_k8s.sentinel_reset): once, while fresh, never twice at once."""

from redis_k8s import sentinel_reset

MAX_AGE = sentinel_reset.REQUEST_MAX_AGE_S


def test_a_hook_asks_once_while_a_fresh_request_covers_the_stale_sentinels():
    pods = ['a', 'b', 'c']
    asked = sentinel_reset.request(['a', 'b'], now=1000.0, pods=pods)
    assert sentinel_reset.asked_again(None, ['a'], now=1000.0, pods=pods)
    assert not sentinel_reset.asked_again(asked, ['a', 'b'], now=1010.0, pods=pods)
    assert not sentinel_reset.asked_again(asked, ['b'], now=1010.0, pods=pods)  # one done meanwhile
    assert sentinel_reset.asked_again(asked, ['a', 'c'], now=1010.0, pods=pods)  # another one stale
    # Not done by the time it aged:
    assert sentinel_reset.asked_again(asked, ['a', 'b'], now=1000.0 + MAX_AGE, pods=pods)


def test_a_request_made_among_other_pods_does_not_cover_the_stale_sentinels():
    # Scaled 5 -> 3: sentinels a, b, c reset by the watcher; then 3 -> 1: a remembers b and c.
    asked = sentinel_reset.request(['a', 'b', 'c'], now=1000.0, pods=['a', 'b', 'c'])
    assert not sentinel_reset.asked_again(asked, ['a'], now=1010.0, pods=['c', 'b', 'a'])
    assert sentinel_reset.asked_again(asked, ['a'], now=1010.0, pods=['a'])
    assert sentinel_reset.asked_again({'hosts': ['a'], 'at': 1000.0}, ['a'], now=1010.0,
                                      pods=['a'])  # a request of an older charm: asked again


def test_the_watcher_serves_a_request_once_and_only_while_fresh():
    asked = sentinel_reset.request(['a'], now=1000.0, pods=['a'])
    assert sentinel_reset.due(asked, served_at=None, now=1001.0)
    assert not sentinel_reset.due(asked, served_at=1000.0, now=1001.0)
    assert not sentinel_reset.due(asked, served_at=None, now=1000.0 + MAX_AGE)
    assert not sentinel_reset.due(None, served_at=None, now=1001.0)
    nothing = sentinel_reset.request([], now=1000.0, pods=['a'])
    assert not sentinel_reset.due(nothing, None, now=1001.0)


def test_a_sentinel_is_reset_only_while_its_master_answers_it():
    """``SENTINEL MASTER`` as redis-py parses it (every value a string)."""
    answering = {'flags': 'master', 'last-ok-ping-reply': '420', 'info-refresh': '3100'}
    assert sentinel_reset.master_answers(answering)
    for change in ({'flags': 's_down,master'}, {'flags': 's_down,o_down,master'},
                   {'flags': 'master,disconnected'},
                   {'flags': 'master,failover_in_progress'},
                   {'last-ok-ping-reply': '1600'},  # no answer to the last ping: frozen, cut off
                   {'info-refresh': '12000'}):  # no INFO: it would learn no replica from it
        assert not sentinel_reset.master_answers(dict(answering, **change)), change
    assert not sentinel_reset.master_answers({})


def test_the_sentinel_in_the_masters_pod_is_reset_last():
    states = {'a': {'ip': 'b'}, 'b': {'ip': 'b'}, 'c': None}
    assert sentinel_reset.in_reset_order(['a', 'b', 'c'], states) == ['a', 'c', 'b']
    assert sentinel_reset.in_reset_order(['b', 'c'], states) == ['c', 'b']
    assert sentinel_reset.in_reset_order(['c', 'a'], {}) == ['c', 'a']


class FakeSentinel:
    """One sentinel whose ``SENTINEL MASTER`` replies are ``states`` in turn (the last one
    again once they run out); records the commands it was sent."""

    def __init__(self, states):
        self.states, self.sent = list(states), []

    def __call__(self, host, port, password):
        return self

    def execute_command(self, *command):
        self.sent.append(command[:2])
        if command[1] == 'MASTER':
            return self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return [] if command[1] == 'REPLICAS' else b'OK'

    def close(self):
        pass


DATA = {'sentinels': ['a'], 'port': 26379, 'password': 'p', 'master_name': 'm'}


def state(info_refresh, flags='master'):
    return {'ip': 'b', 'flags': flags, 'last-ok-ping-reply': '300',
            'info-refresh': str(info_refresh), 'num-slaves': '0', 'num-other-sentinels': '0'}


def test_a_sentinel_is_reset_just_before_its_masters_next_info(monkeypatch):
    """RESET keeps the time of the last INFO: reset just after one, the sentinel would know no
    replica for up to the 10 s INFO period."""
    monkeypatch.setattr(sentinel_reset, 'SYNC_POLL_S', 0)
    sentinel = FakeSentinel([state(0), state(2000), state(2500), state(8700), state(9100),
                             state(9300)])
    assert sentinel_reset.reset_in_turn(['a'], DATA, connect=sentinel, log=str) == ['a']
    before_reset = sentinel.sent[:sentinel.sent.index(('SENTINEL', 'RESET'))]
    # Every sentinel's state first, then 2000, 2500, 8700 ms since the last INFO: not yet; 9100.
    assert before_reset.count(('SENTINEL', 'MASTER')) == 5


def test_a_sentinel_whose_master_stops_answering_is_left_alone(monkeypatch):
    monkeypatch.setattr(sentinel_reset, 'SYNC_POLL_S', 0)
    logs = []
    sentinel = FakeSentinel([state(0), state(3000), state(9500, 's_down,master')])
    assert sentinel_reset.reset_in_turn(['a'], DATA, connect=sentinel, log=logs.append,
                                        ready_s=0.2) == []
    assert ('SENTINEL', 'RESET') not in sentinel.sent
    assert 'its master does not answer it' in logs[0]
