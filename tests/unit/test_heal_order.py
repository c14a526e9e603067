"""healing.heal: the steps run in a fixed order and the first that acts ends the pass."""

from redis_k8s import healing


def recorder(calls, name, result):
    def step(snapshot):
        calls.append(name)
        return result
    step.__name__ = name
    return step


def test_the_first_step_that_acts_ends_the_pass():
    calls = []
    steps = [recorder(calls, 'first', None), recorder(calls, 'second', ['b']),
             recorder(calls, 'third', ['c'])]
    assert healing.heal('snapshot', steps) == ('second', ['b'])
    assert calls == ['first', 'second']


def test_a_cluster_that_needs_nothing_runs_every_step():
    calls = []
    steps = [recorder(calls, name, result) for name, result in (('a', None), ('b', []), ('c', ''))]
    assert healing.heal('snapshot', steps) is None
    assert calls == ['a', 'b', 'c']


def test_the_order_is_lost_master_moved_master_second_masters_sentinels_strays_then_stale():
    # The last step only finds the stale sentinels: the master watcher resets them
    # (redis_k8s.sentinel_reset), as their waits would hold every hook of the application.
    assert [step.__name__ for step in healing.STEPS] == [
        'recover_lost_master', 'follow_moved_master', 'demote_second_masters', 'realign_sentinels',
        'repoint_strays', 'stale_sentinels']
