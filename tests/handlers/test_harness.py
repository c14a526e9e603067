"""The harness itself: what goes in comes out, and a failing hook fails the test."""

import os

import pytest

from harness import HookFailed, State


def test_flags_and_data_from_before_reach_the_hook_and_come_back(ctx):
    state = State(unit=1, leader=False, kv={'some.key': [1, 2]}).with_flags('some.flag')

    out = ctx.run(state, 'update-status')

    assert 'some.flag' in out.flags
    assert out.state.kv['some.key'] == [1, 2]
    assert out.state.unit == 1 and not out.state.leader


def test_a_hook_that_raises_fails_the_test(ctx):
    first = ctx.run(State(unit=1, leader=False), 'install')
    with open(os.path.join(first.state.charm_dir, 'reactive', 'boom.py'), 'w') as handle:
        handle.write('from charms.reactive import hook\n\n\n'
                     '@hook("update-status")\ndef boom():\n    raise RuntimeError("boom")\n')

    with pytest.raises(HookFailed, match='boom'):
        ctx.run(first.state.replace(leader=True), 'update-status')
