"""layer:docker-resource: auto-fetch, success, failure, retry, `.changed` for exactly the
hook in which the image changed, upgrade-charm re-fetch, set-status option."""

import pytest

from layer_harness import RECORDER, events

IMAGE = 'registrypath: registry.example/redis:7.0\nusername: robot\npassword: s3cr3t-pw\n'
NEW_IMAGE = 'registrypath: registry.example/redis:7.2\nusername: robot\npassword: s3cr3t-pw\n'
P = 'layer.docker-resource.img.'

HANDLERS = RECORDER + '''
from charms.reactive import when, when_not

from charms import layer


@when('layer.docker-resource.img.changed')
def image_changed():
    info = layer.docker_resource.get_info('img')
    record('changed', path=info.registry_path, user=info.username, pw=info.password)


@when('layer.docker-resource.img.available')
def image_available():
    record('available', path=layer.docker_resource.get_info('img').registry_path)
    layer.status.active('ready')


@when('layer.docker-resource.other.available')
def other_available():
    record('other-available')


@when_not('layer.docker-resource.other.fetched')
def fetch_other():
    layer.docker_resource.fetch('other')
'''


def make_charm(model, auto_fetch=True, set_status=True):
    return model.charm(
        'dr', handlers={'dr': HANDLERS},
        metadata={'resources': {
            'img': {'type': 'oci-image', 'auto-fetch': auto_fetch},
            'other': {'type': 'oci-image'},
            'cert': {'type': 'file', 'filename': 'c.pem', 'auto-fetch': True},
        }},
        layer_options={'docker-resource': {'set-status': set_status}})


@pytest.fixture
def charm(model):
    return make_charm(model)


def provide(model, **files):
    model.update(resources={name: model.image_file(name + '.yaml', text)
                            for name, text in files.items()})


def test_auto_fetch_success(model, charm):
    provide(model, img=IMAGE, other=IMAGE)
    model.hook(charm, 'dr/0', 'install')
    flags = model.flags(charm, 'dr/0')
    assert {P + 'fetched', P + 'available'} <= flags
    assert not {P + 'failed', P + 'changed'} & flags
    assert events(charm, 'changed') == [{
        'event': 'changed', 'hook': 'install', 'unit': 'dr/0',
        'path': 'registry.example/redis:7.0', 'user': 'robot', 'pw': 's3cr3t-pw'}]
    assert ('maintenance', 'fetching resource: img') in model.statuses()
    assert model.statuses()[-1] == ('active', 'ready')
    # file resources are not images, even with auto-fetch
    assert ['cert'] not in [c['args'] for c in model.calls('resource-get')]
    # the password goes nowhere near the log
    assert not any('s3cr3t' in ' '.join(c['args']) for c in model.calls('juju-log'))


def test_explicit_fetch_of_a_resource_without_auto_fetch(model, charm):
    provide(model, img=IMAGE, other=IMAGE)
    model.hook(charm, 'dr/0', 'install')
    assert len(events(charm, 'other-available')) == 1
    assert 'layer.docker-resource.other.available' in model.flags(charm, 'dr/0')


@pytest.mark.parametrize('content', [
    None,                                   # resource missing: resource-get fails
    'registrypath: [unclosed\n',            # not YAML
    'username: u\npassword: p\n',           # no registrypath
    'registrypath: ""\nusername: u\n',      # empty registrypath
    'just a string\n',                      # not a mapping
    'UNREADABLE',                           # resource-get prints a path that is gone
])
def test_failure_blocks_and_sets_failed(model, charm, content):
    if content == 'UNREADABLE':
        model.update(resources={'img': model.image_file('x', '') + '.gone',
                                'other': model.image_file('o.yaml', IMAGE)})
    elif content is not None:
        provide(model, img=content, other=IMAGE)
    else:
        provide(model, other=IMAGE)
    model.hook(charm, 'dr/0', 'install')
    flags = model.flags(charm, 'dr/0')
    assert P + 'failed' in flags and P + 'available' not in flags
    assert 'layer.docker-resource.other.available' in flags
    # blocked wins over the charm's own `active` of other handlers
    assert model.statuses()[-1] == ('blocked', 'unable to fetch resource(s): img')
    assert events(charm, 'changed') == []
    errors = [c['args'][2] for c in model.calls('juju-log') if c['args'][:2] == ['-l', 'ERROR']]
    assert any('unable to fetch resource img' in e for e in errors)


def test_failed_fetch_is_retried_on_later_hooks(model, charm):
    provide(model, other=IMAGE)
    model.hook(charm, 'dr/0', 'install')
    model.hook(charm, 'dr/0', 'update-status')
    assert model.statuses()[-1] == ('blocked', 'unable to fetch resource(s): img')
    provide(model, img=IMAGE, other=IMAGE)
    model.clear_calls()
    model.hook(charm, 'dr/0', 'update-status')
    flags = model.flags(charm, 'dr/0')
    assert P + 'available' in flags and P + 'failed' not in flags
    assert 'layer.docker-resource.pending' not in flags
    assert [e['hook'] for e in events(charm, 'changed')] == ['update-status']
    assert model.statuses()[-1] == ('active', 'ready')
    # once fetched, later hooks do not call resource-get again
    model.clear_calls()
    model.hook(charm, 'dr/0', 'update-status')
    assert model.calls('resource-get') == []


def test_changed_only_in_the_hook_where_the_image_changed(model, charm):
    provide(model, img=IMAGE, other=IMAGE)
    model.hook(charm, 'dr/0', 'install')
    model.hook(charm, 'dr/0', 'config-changed')
    model.clear_calls()
    model.hook(charm, 'dr/0', 'upgrade-charm')          # re-fetch, same image
    assert [c['args'] for c in model.calls('resource-get')].count(['img']) == 1
    # no maintenance status the charm would have to overwrite for an available image
    assert ('maintenance', 'fetching resource: img') not in model.statuses()
    provide(model, img=NEW_IMAGE, other=IMAGE)
    model.hook(charm, 'dr/0', 'update-status')          # no re-fetch outside upgrade
    model.hook(charm, 'dr/0', 'upgrade-charm')          # re-fetch, new image
    model.hook(charm, 'dr/0', 'update-status')
    changed = events(charm, 'changed')
    assert [(e['hook'], e['path']) for e in changed] == [
        ('install', 'registry.example/redis:7.0'),
        ('upgrade-charm', 'registry.example/redis:7.2')]
    assert P + 'changed' not in model.flags(charm, 'dr/0')
    with model.context(charm, 'dr/0', 'update-status'):
        from charms.layer import docker_resource
        info = docker_resource.get_info('img')
        assert info.registry_path == 'registry.example/redis:7.2'
        assert 's3cr3t' not in repr(info)
        assert docker_resource.get_info('never') is None


def test_state_is_per_unit(model, charm):
    provide(model, img=IMAGE, other=IMAGE)
    model.hook(charm, 'dr/0', 'install')
    model.hook(charm, 'dr/1', 'install')
    assert [e['unit'] for e in events(charm, 'changed')] == ['dr/0', 'dr/1']


def test_set_status_false_reports_nothing(model):
    charm = make_charm(model, set_status=False)
    provide(model, other=IMAGE)
    model.hook(charm, 'dr/0', 'install')
    assert P + 'failed' in model.flags(charm, 'dr/0')
    assert model.statuses() == []


def test_no_auto_fetch_without_the_flag(model):
    charm = make_charm(model, auto_fetch=False)
    provide(model, img=IMAGE, other=IMAGE)
    model.hook(charm, 'dr/0', 'install')
    assert ['img'] not in [c['args'] for c in model.calls('resource-get')]
    assert P + 'fetched' not in model.flags(charm, 'dr/0')
