"""layer:status: maintenance at once; blocked > waiting > active at hook end; the charm's
own status wins ties against layers'."""

import json
import os

import pytest

# A layer library (lib/charms/layer/) reporting status, as docker-resource does.
FAKE_LAYER_LIB = '''
from charms.layer import status


def report(state, message):
    status.status_set(state, message)
'''

HANDLERS = '''
import json
import os

from charms.reactive import hook

from charms import layer


@hook('{hook}')
def report():
    with open(os.path.join(os.environ['CHARM_DIR'], 'script.json')) as f:
        script = json.load(f)
    for who, state, message in script:
        if who == 'charm':
            layer.status.status_set(state, message)
        elif who == 'layer':
            layer.fakelayer.report(state, message)
        else:
            import subprocess
            subprocess.check_call(['juju-log', message])
'''


@pytest.fixture
def charm(model):
    charm = model.charm('st', layers=('caas-base', 'status'),
                        handlers={'st': HANDLERS.replace('{hook}', 'update-status')})
    with open(os.path.join(charm, 'lib', 'charms', 'layer', 'fakelayer.py'), 'w') as f:
        f.write(FAKE_LAYER_LIB)
    return charm


def run(model, charm, script):
    with open(os.path.join(charm, 'script.json'), 'w') as f:
        json.dump(script, f)
    model.clear_calls()
    model.hook(charm, 'st/0', 'update-status')
    return model.statuses()


def test_blocked_beats_waiting_beats_active_whatever_the_order(model, charm):
    assert run(model, charm, [('charm', 'active', 'ready'), ('layer', 'blocked', 'no image'),
                              ('charm', 'active', 'ready again')]) == [('blocked', 'no image')]
    assert run(model, charm, [('charm', 'waiting', 'for peers'),
                              ('charm', 'active', 'ready')]) == [('waiting', 'for peers')]
    assert run(model, charm, [('layer', 'active', 'layer ok'),
                              ('charm', 'waiting', 'w')]) == [('waiting', 'w')]


def test_charm_wins_ties_against_layers_even_when_earlier(model, charm):
    assert run(model, charm, [('charm', 'blocked', 'charm says'),
                              ('layer', 'blocked', 'layer says')]) == [('blocked', 'charm says')]
    assert run(model, charm, [('layer', 'active', 'layer'),
                              ('charm', 'active', 'charm')]) == [('active', 'charm')]


def test_latest_wins_between_equals_of_the_same_origin(model, charm):
    assert run(model, charm, [('charm', 'waiting', 'first'),
                              ('charm', 'waiting', 'second')]) == [('waiting', 'second')]
    assert run(model, charm, [('layer', 'blocked', 'first'),
                              ('layer', 'blocked', 'second')]) == [('blocked', 'second')]


def test_maintenance_is_written_at_once_and_queued_status_at_the_end(model, charm):
    run(model, charm, [('charm', 'active', 'ready'), ('charm', 'maintenance', 'busy'),
                       ('log', None, 'marker')])
    calls = [(c['tool'], c['args'][-1]) for c in model.calls()
             if c['tool'] == 'status-set' or c['args'][-1:] == ['marker']]
    assert calls == [('status-set', 'busy'), ('juju-log', 'marker'),
                     ('status-set', 'ready')]


def test_nothing_queued_writes_nothing(model, charm):
    assert run(model, charm, [('log', None, 'hello')]) == []


def test_invalid_state_is_refused(model, charm):
    with pytest.raises(ValueError):
        run(model, charm, [('charm', 'error', 'nope')])


def test_origin_comes_from_the_build_manifest(model, charm):
    manifest = {'signatures': {
        'reactive/st.py': ['layer:something', 'static', 'x'],
        'lib/charms/layer/fakelayer.py': ['st', 'static', 'x'],
    }}
    with open(os.path.join(charm, '.build.manifest'), 'w') as f:
        json.dump(manifest, f)
    # Now the "charm" handler counts as a layer and the "layer" library as the charm's.
    assert run(model, charm, [('layer', 'blocked', 'lib'),
                              ('charm', 'blocked', 'handler')]) == [('blocked', 'lib')]
    with model.context(charm, 'st/0', 'update-status'):
        from charms.layer import status
        assert status.is_layer_file(os.path.join(charm, 'reactive', 'st.py'))
        assert not status.is_layer_file(os.path.join(charm, 'lib', 'redis_k8s', 'x.py'))
        assert status.is_layer_file(os.path.join(charm, 'hooks', 'relations', 'redis', 'p.py'))


def test_without_manifest_the_charms_own_layer_library_is_the_charms(model, charm):
    with open(os.path.join(charm, 'lib', 'charms', 'layer', 'st.py'), 'w') as f:
        f.write(FAKE_LAYER_LIB)
    with model.context(charm, 'st/0', 'update-status'):
        from charms.layer import status
        assert not status.is_layer_file(os.path.join(charm, 'lib', 'charms', 'layer', 'st.py'))
        assert status.is_layer_file(os.path.join(charm, 'lib', 'charms', 'layer', 'fakelayer.py'))
        assert status.is_layer_file(os.path.join(charm, 'lib', 'charms', 'layer', 'status.py'))
        assert not status.is_layer_file(os.path.join(charm, 'reactive', 'st.py'))


def test_a_status_equal_to_the_last_one_written_is_not_written_again(model, charm):
    assert run(model, charm, [('charm', 'active', 'ready')]) == [('active', 'ready')]
    assert run(model, charm, [('charm', 'active', 'ready')]) == []
    assert run(model, charm, [('charm', 'active', 'ready now')]) == [('active', 'ready now')]
    # A maintenance status in between: the unit shows it, so the same final status is written.
    assert run(model, charm, [('charm', 'maintenance', 'busy'), ('charm', 'active', 'ready now')]) \
        == [('maintenance', 'busy'), ('active', 'ready now')]
    assert run(model, charm, [('charm', 'maintenance', 'busy')]) == [('maintenance', 'busy')]
    assert run(model, charm, [('charm', 'maintenance', 'busy')]) == []


def test_a_status_written_by_a_hook_that_then_failed_counts_as_written(model, charm):
    # Juju applies status-set at once: the next hook must not take the unit's saved data
    # (lost with the failed hook) for what the unit shows.
    assert run(model, charm, [('charm', 'active', 'ready')]) == [('active', 'ready')]
    failing = HANDLERS.replace('{hook}', 'update-status') + '''

@hook('update-status')
def fail():
    layer.status.maintenance('half way')
    raise RuntimeError('the hook fails')
'''
    with open(os.path.join(charm, 'reactive', 'st.py'), 'w') as f:
        f.write(failing)
    with pytest.raises(RuntimeError):
        run(model, charm, [])
    with open(os.path.join(charm, 'reactive', 'st.py'), 'w') as f:
        f.write(HANDLERS.replace('{hook}', 'update-status'))
    assert run(model, charm, [('charm', 'active', 'ready')]) == [('active', 'ready')]


def test_a_unit_that_lost_its_charm_directory_writes_its_status_again(model, charm):
    assert run(model, charm, [('charm', 'active', 'ready')]) == [('active', 'ready')]
    for name in os.listdir(charm):
        if name.endswith('.status'):
            os.unlink(os.path.join(charm, name))
    assert run(model, charm, [('charm', 'active', 'ready')]) == [('active', 'ready')]
