"""When the master watcher forces a failover a sentinel aborted (master_watcher.retry_verdict):
the pods' majority must see the master down, the aborting sentinel objectively, and no sentinel
may be failing over."""

from redis_k8s.master_watcher import failover_candidates, retry_verdict

DOWN, ODOWN = {'master', 's_down'}, {'master', 's_down', 'o_down'}
UP, FAILING_OVER = {'master'}, {'master', 's_down', 'o_down', 'failover_in_progress'}


def test_forced_when_the_majority_sees_the_master_down_and_no_one_fails_over():
    assert retry_verdict('a', {'a': ODOWN, 'b': DOWN, 'c': None}) == 'force'
    assert retry_verdict('a', {'a': ODOWN}) == 'force'


def test_not_while_a_sentinel_fails_over_a_split_votes_other_candidate_may_still_wait():
    assert retry_verdict('a', {'a': ODOWN, 'b': FAILING_OVER, 'c': DOWN}) == 'running'


def test_not_for_a_minority_nor_a_sentinel_that_does_not_see_the_master_objectively_down():
    assert retry_verdict('a', {'a': ODOWN, 'b': None, 'c': None}) == 'wait'
    assert retry_verdict('a', {'a': ODOWN, 'b': UP, 'c': UP}) == 'wait'
    assert retry_verdict('a', {'a': DOWN, 'b': DOWN, 'c': DOWN}) == 'wait'
    assert retry_verdict('a', {'a': None, 'b': ODOWN, 'c': ODOWN}) == 'wait'
    # Five pods: two that see it down are not a majority.
    assert retry_verdict('a', {'a': ODOWN, 'b': DOWN, 'c': UP, 'd': None, 'e': None}) == 'wait'


def test_a_failover_is_forced_on_the_aborting_sentinel_first_then_on_another_that_may():
    # The aborting sentinel may know no replica (reset just before the master went down): the
    # others that see the master objectively down come after it, in a stable order.
    assert failover_candidates('b', {'a': ODOWN, 'b': ODOWN, 'c': ODOWN}) == ['b', 'a', 'c']
    assert failover_candidates('b', {'a': DOWN, 'b': ODOWN, 'c': ODOWN}) == ['b', 'c']
    assert failover_candidates('b', {'a': ODOWN, 'b': None, 'c': DOWN}) == ['a']
    assert failover_candidates('b', {'a': ODOWN, 'b': FAILING_OVER, 'c': ODOWN}) == []
    assert failover_candidates('b', {'a': ODOWN, 'b': UP, 'c': UP}) == []
