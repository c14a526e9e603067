"""What get-password gives and what a non-leader says (redis_k8s.password_action)."""

import json

from redis_k8s import password_action, rotation


def test_the_generated_password_before_any_rotation_state():
    assert password_action.admin_password('', {'password': 'generated'}) == 'generated'


def test_a_configured_password_wins_over_the_generated_one():
    assert password_action.admin_password('configured', {'password': 'generated'}) == 'configured'


def test_during_a_rotation_the_one_every_pod_accepts_not_the_new_secret():
    state = rotation.Passwords(secret='new', consumers='old', retired=('old',), since=1.0)
    data = dict(rotation.leader_data(state), password='generated')
    assert password_action.admin_password('new', data) == 'old'
    # Once every pod accepts the new one, consumers (and the operator) are given it.
    data['active-password'] = 'new'
    assert password_action.admin_password('new', data) == 'new'


def test_no_password_before_the_leader_made_one():
    assert password_action.admin_password('', {}) is None


def test_a_non_leader_names_the_leader_when_leader_data_does():
    data = {password_action.LEADER_UNIT_KEY: 'redis-k8s/3', 'retired-passwords': json.dumps([])}
    assert password_action.not_leader_message('get-password', data) == (
        'this unit is not the leader: run get-password on the leader unit (redis-k8s/3)')
    assert 'juju status' in password_action.not_leader_message('get-password', {})
