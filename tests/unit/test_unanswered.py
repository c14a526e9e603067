"""Instances that timed out lately, passed from one hook to the next."""

import pytest

from redis_k8s import connection


@pytest.fixture(autouse=True)
def no_timeouts_yet(monkeypatch):
    monkeypatch.setattr(connection, "_unanswered", {})


def test_a_recent_timeout_reaches_the_next_hook_and_an_old_one_does_not(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(connection.time, "time", lambda: now[0])
    connection._unanswered[("redis-k8s-0.x", 6379)] = now[0] - 1
    connection._unanswered[("redis-k8s-1.x", 26379)] = now[0] - connection.UNANSWERED_S - 1
    saved = connection.unanswered()
    assert saved == {"redis-k8s-0.x:6379": 999.0}

    monkeypatch.setattr(connection, "_unanswered", {})
    connection.remember_unanswered(dict(saved, **{"bad": 1, "redis-k8s-2.x:6379": "x"}))
    assert connection.recently_unanswered("redis-k8s-0.x", 6379)
    assert not connection.recently_unanswered("redis-k8s-1.x", 26379)
    now[0] += connection.UNANSWERED_S
    assert not connection.recently_unanswered("redis-k8s-0.x", 6379)
    assert connection.unanswered() == {}


def test_a_timeout_from_the_future_is_not_trusted(monkeypatch):
    # The wall clock stepped back since: the instance is asked again at once.
    monkeypatch.setattr(connection.time, "time", lambda: 1000.0)
    connection.remember_unanswered({"redis-k8s-0.x:6379": 1005.0})
    assert not connection.recently_unanswered("redis-k8s-0.x", 6379)
