"""When the leader's hook asks the master watcher to reset stale sentinels, and when the watcher
serves a request (redis_k8s.sentinel_reset): once, while fresh, never twice at once."""

from redis_k8s import sentinel_reset

MAX_AGE = sentinel_reset.REQUEST_MAX_AGE_S


def test_a_hook_asks_once_while_a_fresh_request_covers_the_stale_sentinels():
    asked = sentinel_reset.request(['a', 'b'], now=1000.0)
    assert sentinel_reset.asked_again(None, ['a'], now=1000.0)
    assert not sentinel_reset.asked_again(asked, ['a', 'b'], now=1010.0)
    assert not sentinel_reset.asked_again(asked, ['b'], now=1010.0)  # one done meanwhile
    assert sentinel_reset.asked_again(asked, ['a', 'c'], now=1010.0)  # another one stale
    assert sentinel_reset.asked_again(asked, ['a', 'b'], now=1000.0 + MAX_AGE)  # not done


def test_the_watcher_serves_a_request_once_and_only_while_fresh():
    asked = sentinel_reset.request(['a'], now=1000.0)
    assert sentinel_reset.due(asked, served_at=None, now=1001.0)
    assert not sentinel_reset.due(asked, served_at=1000.0, now=1001.0)
    assert not sentinel_reset.due(asked, served_at=None, now=1000.0 + MAX_AGE)
    assert not sentinel_reset.due(None, served_at=None, now=1001.0)
    assert not sentinel_reset.due(sentinel_reset.request([], now=1000.0), None, now=1001.0)
