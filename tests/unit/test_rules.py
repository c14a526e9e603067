"""The pure rules over an observation (the shell copies are checked in test_shell_rules.py)."""

import pytest

from redis_k8s import rules


@pytest.mark.parametrize('reply, addr', [
    (['a', '6379'], ('a', 6379)),
    (('a', 6380), ('a', 6380)),
    (None, None),
    ([], None),
    (['', '6379'], None),
    (['a', 'x1'], None),
    (['a'], None),
])
def test_master_addr_reads_a_sentinel_reply(reply, addr):
    assert rules.master_addr(reply) == addr


def test_the_vote_counts_addresses_not_sentinels():
    views = {'s0': ('a', 6379), 's1': ('a', 6380), 's2': ('a', 6380)}
    assert rules.master_by_vote(views) == ('a', 6380)
    assert rules.master_by_vote({}) is None


def test_a_tie_goes_to_the_smallest_host_then_port_as_text():
    assert rules.master_by_vote({'s0': ('b', 6379), 's1': ('a', 6379)}) == ('a', 6379)
    # Compared as text, as sort does in the shell: "10000" sorts before "6379".
    assert rules.master_by_vote({'s0': ('a', 6379), 's1': ('a', 10000)}) == ('a', 10000)
    # Bytes, as in the C locale: "r-1." < "r-10".
    assert rules.master_by_vote({'s0': ('r-10.x', 1), 's1': ('r-1.x', 1)}) == ('r-1.x', 1)


def test_only_the_sentinels_at_the_greatest_config_epoch_vote():
    views = {'s0': ('a', 1), 's1': ('a', 1), 's2': ('b', 1), 's3': ('c', 1)}
    assert rules.current_views(views, {'s0': 0, 's1': 0, 's2': 3, 's3': 3}) == \
        {'s2': ('b', 1), 's3': ('c', 1)}
    assert rules.master_by_vote(rules.current_views(views, {'s2': 3})) == ('b', 1)
    # An unknown epoch counts below every known one, 0 included.
    assert rules.current_views(views, {'s3': 0}) == {'s3': ('c', 1)}
    assert rules.current_views(views, {}) == views
    assert rules.current_views({}, {'s0': 1}) == {}


@pytest.mark.parametrize('state, epoch', [
    ({'config-epoch': '7'}, 7), ({'config-epoch': 7}, 7), ({}, -1), (None, -1),
    ({'config-epoch': ''}, -1)])
def test_config_epoch_reads_a_sentinel_master_entry(state, epoch):
    assert rules.config_epoch(state) == epoch


def test_unanimous_only_when_every_sentinel_agrees():
    assert rules.unanimous({'s0': ('a', 1), 's1': ('a', 1)}) == ('a', 1)
    assert rules.unanimous({'s0': ('a', 1), 's1': ('b', 1)}) is None
    assert rules.unanimous({}) is None


def test_quiet_sentinels_see_no_failover_and_no_down_master():
    assert rules.quiet([{'flags': 'master'}, {'flags': 'master'}])
    assert not rules.quiet([{'flags': 'master'}, {}])
    assert not rules.quiet([{'flags': 'master,s_down'}])
    assert not rules.quiet([{'flags': 'master,failover_in_progress'}])


def test_a_redis_loading_its_dataset_does_not_serve_commands_yet():
    assert rules.answers_commands({'role': 'slave', 'loading': 0})
    assert rules.answers_commands({'role': 'slave'})
    assert not rules.answers_commands({'role': 'slave', 'loading': 1})
    assert not rules.answers_commands(None)


def test_the_majority_master_needs_a_quorum_of_the_pods_sentinels():
    a, b = ("a", 6379), ("b", 6379)
    assert rules.majority_master({"s1": b, "s2": b, "s3": a}, 3) == b
    assert rules.majority_master({"s1": b, "s2": a}, 3) is None  # one sentinel did not answer
    assert rules.majority_master({"s1": b, "s2": b}, 5) is None
    assert rules.majority_master({}, 3) is None
