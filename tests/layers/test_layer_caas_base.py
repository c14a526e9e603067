"""layer:caas-base: config flags inside reactive dispatch, pod-spec-set error handling,
layer options and lazy layer libraries."""

import os

import pytest
import yaml

from layer_harness import RECORDER, events

CONFIG_HANDLERS = RECORDER + '''
from charms.reactive import clear_flag, register_trigger, when, when_not

register_trigger(when='config.changed.port', set_flag='test.port-triggered')
register_trigger(when='config.changed.port',
                 callback=lambda: record('trigger-callback'))


@when('config.changed.port')
def port_changed():
    from charmhelpers.core import hookenv
    record('port-changed', port=hookenv.config('port'))


@when('test.port-triggered')
def port_triggered():
    record('port-triggered')
    clear_flag('test.port-triggered')


@when('config.changed')
def any_changed():
    record('config-changed')
'''

OPTIONS = {
    'port': {'type': 'int', 'default': 6379},
    'name': {'type': 'string', 'default': ''},
}


@pytest.fixture
def charm(model):
    model.update(config={'port': 6379, 'name': ''})
    return model.charm('cfg', config_options=OPTIONS, layers=('caas-base',),
                       handlers={'cfg': CONFIG_HANDLERS})


def _flags(model, charm):
    return {f for f in model.flags(charm, 'cfg/0') if f.startswith('config.')}


def test_first_hook_reports_every_option_changed_and_triggers_fire(model, charm):
    model.hook(charm, 'cfg/0', 'install')
    assert [e['port'] for e in events(charm, 'port-changed')] == [6379]
    assert len(events(charm, 'port-triggered')) == 1
    assert len(events(charm, 'trigger-callback')) == 1
    # changed flags live for one hook only; set/default flags persist.
    assert _flags(model, charm) == {'config.set.port', 'config.default.port',
                                   'config.default.name'}


def test_unchanged_config_sets_no_changed_flags(model, charm):
    model.hook(charm, 'cfg/0', 'install')
    model.hook(charm, 'cfg/0', 'update-status')
    assert events(charm, hook='update-status') == []


def test_changed_option_fires_handlers_and_triggers_in_that_hook(model, charm):
    model.hook(charm, 'cfg/0', 'install')
    model.update(config={'port': 7000, 'name': ''})
    model.hook(charm, 'cfg/0', 'config-changed')
    got = {e['event'] for e in events(charm, hook='config-changed')}
    assert got == {'port-changed', 'port-triggered', 'trigger-callback', 'config-changed'}
    assert events(charm, 'port-changed', 'config-changed')[0]['port'] == 7000
    assert _flags(model, charm) == {'config.set.port', 'config.default.name'}
    model.hook(charm, 'cfg/0', 'update-status')
    assert events(charm, hook='update-status') == []


def test_set_and_default_flags_follow_values(model, charm):
    model.update(config={'port': 6379, 'name': 'x'})
    model.hook(charm, 'cfg/0', 'install')
    assert _flags(model, charm) == {'config.set.port', 'config.default.port',
                                   'config.set.name'}


def test_default_flags_follow_a_new_charms_config_yaml(model, charm):
    model.hook(charm, 'cfg/0', 'install')
    assert 'config.default.port' in _flags(model, charm)
    # An upgrade brings a config.yaml with another default (the value in force stays 6379).
    with open(os.path.join(charm, 'config.yaml'), 'w') as f:
        yaml.safe_dump({'options': dict(OPTIONS, port={'type': 'int', 'default': 7000,
                                                       'description': 'the port'})}, f)
    model.hook(charm, 'cfg/0', 'upgrade-charm')
    assert 'config.default.port' not in _flags(model, charm)


def test_config_snapshot_is_per_unit(model, charm):
    # Units of a podspec app share the charm dir: unit 1 must see its own first hook.
    model.hook(charm, 'cfg/0', 'install')
    model.hook(charm, 'cfg/1', 'install')
    assert [e['unit'] for e in events(charm, 'port-changed')] == ['cfg/0', 'cfg/1']


@pytest.fixture
def spec_charm(model):
    return model.charm('app', layers=('caas-base',))


def test_pod_spec_set_pipes_yaml_and_k8s_resources_file(model, spec_charm):
    model.update(leader=['app/0'])
    spec = {'version': 3, 'containers': [{'name': 'redis', 'imageDetails': {
        'imagePath': 'redis:7.0'}}]}
    with model.context(spec_charm, 'app/0', 'config-changed'):
        from charms.layer import caas_base
        assert caas_base.pod_spec_set(spec, k8s_resources={
            'pod': {'terminationGracePeriodSeconds': 30}}) is True
    sent = model.state()['specs']['pod-spec-set']
    doc = yaml.safe_load(sent)
    assert doc['containers'] == spec['containers']
    assert doc['kubernetesResources'] == {'pod': {'terminationGracePeriodSeconds': 30}}
    call = model.calls('pod-spec-set')[0]
    assert call['args'][0] == '--k8s-resources'
    assert yaml.safe_load(call['stdin']) == spec


def test_pod_spec_set_does_not_wrap_an_already_wrapped_section(model, spec_charm):
    model.update(leader=['app/0'])
    with model.context(spec_charm, 'app/0', 'config-changed'):
        from charms.layer import caas_base
        caas_base.pod_spec_set({'version': 3}, k8s_resources={
            'kubernetesResources': {'secrets': [{'name': 's', 'type': 'Opaque'}]}})
    doc = yaml.safe_load(model.state()['specs']['pod-spec-set'])
    assert doc['kubernetesResources'] == {'secrets': [{'name': 's', 'type': 'Opaque'}]}


def test_pod_spec_set_accepts_text_and_rejects_bad_k8s_resources(model, spec_charm):
    model.update(leader=['app/0'])
    with model.context(spec_charm, 'app/0', 'config-changed'):
        from charms.layer import caas_base
        with pytest.raises(ValueError):
            caas_base.pod_spec_set('version: 3\n', k8s_resources='pod: {}\n')
        caas_base.pod_spec_set('version: 3\n',
                               k8s_resources='kubernetesResources:\n  pod: {}\n')
    assert model.state()['specs']['pod-spec-set'] == (
        'version: 3\nkubernetesResources:\n  pod: {}\n')


def test_pod_spec_set_error_carries_stderr(model, spec_charm):
    with model.context(spec_charm, 'app/1', 'config-changed'):
        from charms.layer import caas_base
        with pytest.raises(caas_base.PodSpecSetError) as exc:
            caas_base.pod_spec_set({'version': 3})
    assert exc.value.tool == 'pod-spec-set'
    assert exc.value.returncode == 1
    assert 'this unit is not the leader' in exc.value.stderr
    assert 'not the leader' in str(exc.value)


@pytest.mark.parametrize('tool,call', [
    ('pod-spec-set', lambda cb: cb.pod_spec_set({'version': 3})),
    ('k8s-raw-set', lambda cb: cb.k8s_raw_set({'kind': 'Job'})),
])
def test_application_not_alive_is_logged_and_ignored(model, spec_charm, tool, call):
    model.update(leader=['app/0'], fail={tool: {
        'rc': 1, 'stderr': 'ERROR application app not alive'}})
    with model.context(spec_charm, 'app/0', 'stop'):
        from charms.layer import caas_base
        assert call(caas_base) is False
    logs = [c['args'] for c in model.calls('juju-log')]
    assert any(a[:2] == ['-l', 'WARNING'] and 'not alive' in a[2] for a in logs)


def test_k8s_raw_set_other_errors_raise(model, spec_charm):
    model.update(leader=['app/0'], fail={'k8s-raw-set': {
        'rc': 2, 'stderr': 'ERROR json: unknown field "foo"'}})
    with model.context(spec_charm, 'app/0', 'config-changed'):
        from charms.layer import caas_base
        with pytest.raises(caas_base.PodSpecSetError) as exc:
            caas_base.k8s_raw_set({'foo': 1})
    assert exc.value.returncode == 2 and 'unknown field' in exc.value.stderr


def test_layer_libraries_load_lazily_and_options_read_layer_yaml(model):
    charm = model.charm('app', layer_options={'docker-resource': {'set-status': False}})
    with model.context(charm, 'app/0', 'install'):
        from charms import layer
        assert layer.options.get('docker-resource', 'set-status') is False
        assert layer.options.get('docker-resource') == {'set-status': False}
        assert layer.options.get('nope', 'x') is None
        assert callable(layer.status.active)
        assert callable(layer.docker_resource.get_info)
        assert callable(layer.caas_base.pod_spec_set)
        with pytest.raises(AttributeError):
            layer.no_such_layer


LOGGING_HANDLERS = '''
import os

from charmhelpers.core import hookenv
from charms.reactive import hook, set_flag, when


@hook('update-status')
def steady():
    set_flag('test.ran')


@when('test.ran')
def maybe_log():
    message = os.environ.get('TEST_LOG')
    if message == 'fail':
        raise RuntimeError('the hook fails')
    if message:
        hookenv.log(message, level=os.environ.get('TEST_LOG_LEVEL'))
'''


def _juju_logs(model):
    return [(c['args'][1] if c['args'][:1] == ['-l'] else None, c['args'][-1])
            for c in model.calls('juju-log')]


@pytest.fixture
def logging_charm(model):
    return model.charm('lg', layers=('caas-base',), handlers={'lg': LOGGING_HANDLERS})


def test_a_hook_that_logs_nothing_of_its_own_makes_no_juju_log_call(model, logging_charm):
    model.hook(logging_charm, 'lg/0', 'update-status')
    assert 'test.ran' in model.flags(logging_charm, 'lg/0')  # the handlers did run
    assert _juju_logs(model) == []


def test_the_frameworks_account_goes_out_in_one_call_before_the_charms_line(
        model, logging_charm, monkeypatch):
    monkeypatch.setenv('TEST_LOG', 'master moved')
    model.hook(logging_charm, 'lg/0', 'update-status')
    logs = _juju_logs(model)
    assert len(logs) == 2
    level, held = logs[0]
    assert level == 'DEBUG'
    assert 'Reactive main running for hook update-status' in held
    assert 'Invoking reactive handler: reactive/lg.py' in held
    assert logs[1] == (None, 'master moved')


COUNTING_HANDLERS = '''
import os

from charms.reactive import hook, set_flag
from charms.reactive.bus import Handler


@hook('update-status')
def steady():
    for n in range(5):
        set_flag('test.step.{}'.format(n))


def idle():
    pass


def _counted():
    with open(os.environ['TEST_COUNT_FILE'], 'a') as f:
        f.write('.')
    return False


Handler.get(idle).add_predicate(_counted)
'''


def test_a_flag_change_does_not_test_every_handler_again(model, tmp_path, monkeypatch):
    charm = model.charm('tc', layers=('caas-base',), handlers={'tc': COUNTING_HANDLERS})
    count_file = tmp_path / 'tests'
    monkeypatch.setenv('TEST_COUNT_FILE', str(count_file))
    model.hook(charm, 'tc/0', 'update-status')
    assert {'test.step.0', 'test.step.4'} <= model.flags(charm, 'tc/0')
    # Dispatch tests a handler once per pass of its loop (charms.reactive's LogTracer also
    # tested it after each of the five flags set).
    assert count_file.read_text().count('.') <= 3


def test_the_tracer_logs_flag_changes_and_dispatch_queues(model, logging_charm, monkeypatch):
    monkeypatch.setenv('TEST_LOG', 'master moved')
    model.hook(logging_charm, 'lg/0', 'update-status')
    held = _juju_logs(model)[0][1].splitlines()
    assert 'tracer: starting handler dispatch, 0 flags set' in held
    assert 'tracer: set flag test.ran' in held
    assert 'tracer: ++   queue handler reactive/lg.py:13:maybe_log' in held


def test_a_failing_hook_logs_the_frameworks_account_and_the_error(model, logging_charm,
                                                                   monkeypatch):
    monkeypatch.setenv('TEST_LOG', 'fail')
    with pytest.raises(RuntimeError):
        model.hook(logging_charm, 'lg/0', 'update-status')
    logs = _juju_logs(model)
    assert 'Invoking reactive handler: reactive/lg.py' in logs[0][1]
    assert logs[-1][0] == 'ERROR' and 'the hook fails' in logs[-1][1]


def _run_python(code, *paths, args=()):
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    return subprocess.run([sys.executable, '-c', code] + list(args), env=env, check=True,
                          stdout=subprocess.PIPE, universal_newlines=True).stdout


def test_charms_reactive_imports_without_the_real_pkg_resources(model):
    charm = model.charm('pk', layers=('caas-base',))
    out = _run_python('''
import sys
from charms.layer import caas_base
caas_base.prepare_python()  # as the hook does first
caas_base.stand_in_for_pkg_resources()
import charmhelpers.osplatform
charmhelpers.osplatform.get_platform = lambda: 'ubuntu'
import charms.reactive
print(sorted(m for m in sys.modules if m.split('.')[0] in ('pkg_resources', 'packaging', 'setuptools')))
''', os.path.join(charm, 'lib'))
    # Only the stand-in: nothing of setuptools was imported.
    assert out.split() == ["['pkg_resources']"]


def test_the_stand_in_finds_the_entry_points_pkg_resources_would(tmp_path):
    site = tmp_path / 'site'
    (site / 'fac-1.0.dist-info').mkdir(parents=True)
    (site / 'fac-1.0.dist-info' / 'entry_points.txt').write_text(
        '[console_scripts]\nfac = fac:main\n\n'
        '[charms.reactive.relation_factory]\nfactory = fac:Holder.Factory [extra]\n')
    (site / 'fac.py').write_text('class Holder:\n    class Factory:\n        pass\n')
    code = '''
import sys
from charms.layer import caas_base
caas_base.stand_in_for_pkg_resources()
import pkg_resources
found = list(pkg_resources.iter_entry_points('charms.reactive.relation_factory'))
print([(ep.name, ep.load().__qualname__) for ep in found])
print(list(pkg_resources.iter_entry_points('charms.reactive.relation_factory', 'other')))
# Anything else comes from the real module.
print(pkg_resources.parse_version('1.10') > pkg_resources.parse_version('1.9'))
'''
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'layers', 'caas-base', 'lib')
    out = _run_python(code, lib, str(site)).splitlines()
    assert out == ["[('factory', 'Holder.Factory')]", '[]', 'True']


CAAS_BASE_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'layers', 'caas-base', 'lib')


def _parsed(yaml_file, data, text=None):
    """Write what the build writes for ``yaml_file`` (caas_base_build.write_parsed), with
    ``data`` in place of the file's own, so a test tells which one a reader used."""
    import hashlib
    import json
    with open(yaml_file, 'rb') as f:
        digest = hashlib.sha256(f.read() if text is None else text).hexdigest()
    parsed = os.path.join(os.path.dirname(yaml_file), '.parsed')
    os.makedirs(parsed, exist_ok=True)
    with open(os.path.join(parsed, os.path.basename(yaml_file) + '.json'), 'w') as f:
        json.dump({'sha256': digest, 'data': data}, f)


def test_charm_yaml_reads_what_the_build_parsed_only_for_the_bytes_it_parsed(tmp_path):
    meta = tmp_path / 'metadata.yaml'
    meta.write_text('name: parsed-at-run-time\n')
    code = '''
import sys
from charms.layer import caas_base
print(caas_base.charm_yaml(sys.argv[1])['name'])
'''

    def read():
        import subprocess
        import sys
        env = dict(os.environ, PYTHONPATH=CAAS_BASE_LIB)
        return subprocess.run([sys.executable, '-c', code, str(meta)], env=env, check=True,
                              stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()

    assert read() == 'parsed-at-run-time'  # nothing from the build: the file is parsed
    _parsed(str(meta), {'name': 'from-the-build'})
    assert read() == 'from-the-build'
    meta.write_text('name: edited-since\n')  # the JSON is of other bytes now
    assert read() == 'edited-since'
    _parsed(str(meta), {'name': 'from-the-build'}, text=b'{not: the bytes}')
    assert read() == 'edited-since'
    (tmp_path / '.parsed' / 'metadata.yaml.json').write_text('{"sha256": ')  # torn
    assert read() == 'edited-since'


def test_a_hook_loads_pyyaml_only_when_something_parses_yaml(model):
    charm = model.charm('ym', layers=('caas-base',), metadata={'summary': 'from the file'})
    _parsed(os.path.join(charm, 'metadata.yaml'), {'name': 'ym', 'summary': 'from the build'})
    with open(os.path.join(charm, 'layer.yaml')) as f:
        _parsed(os.path.join(charm, 'layer.yaml'), yaml.safe_load(f))
    out = _run_python('''
import os
import sys
os.environ['CHARM_DIR'] = sys.argv[1]
from charms.layer import caas_base
caas_base.prepare_python()  # as the hook does first
caas_base.defer_yaml()
caas_base.metadata_from_build()
caas_base.stand_in_for_pkg_resources()
import charmhelpers.osplatform
charmhelpers.osplatform.get_platform = lambda: 'ubuntu'
from charmhelpers.core import hookenv
import charms.reactive
from charms.layer import options
print(hookenv.metadata()['summary'].replace(' ', '-'), options.get('docker-resource', 'set-status'))
print(type(sys.modules['yaml']).__name__, sorted(m for m in sys.modules if m.startswith('yaml.')))
import yaml.constructor  # a submodule, before the package's own code ran
print(hookenv.yaml.safe_load('a: [1]'), type(sys.modules['yaml']).__name__)
import yaml
print(yaml is hookenv.yaml, yaml.constructor is sys.modules['yaml.constructor'],
      yaml.SafeLoader.construct_yaml_map is yaml.constructor.SafeConstructor.construct_yaml_map)
''', os.path.join(charm, 'lib'), args=(charm,))
    lines = out.splitlines()
    # charms.reactive and the layers imported, metadata.yaml and layer.yaml read: no YAML parsed.
    assert lines[0] == 'from-the-build True'
    assert lines[1] == '_ModuleStandIn []'
    # The first use runs PyYAML's code into the module every importer has: one module, its
    # submodules each imported once.
    assert lines[2:] == ["{'a': [1]} module", 'True True True']


def test_the_metadata_stand_in_reads_each_version_as_importlib_metadata_does():
    out = _run_python('''
import importlib
import sys
from charms.layer import caas_base
caas_base.stand_in_for_importlib_metadata()
from importlib import metadata
names = sorted({project for project, _ in caas_base._distributions()})
answers = [metadata.version(name) for name in names]
print(type(sys.modules['importlib.metadata']).__name__, len(names))
try:
    metadata.version('no-such-distribution')
except metadata.PackageNotFoundError:  # the real module answers what the stand-in cannot
    print('not found', type(sys.modules['importlib.metadata']).__name__)
print(importlib.metadata is sys.modules['importlib.metadata'] is metadata)
for name, answer in zip(names, answers):
    real = metadata.version(name)
    if answer != real:
        print('differs', name, answer, real)
''', CAAS_BASE_LIB)
    lines = out.splitlines()
    stand_in, count = lines[0].split()
    assert stand_in == '_ImportlibMetadataStandIn' and int(count) > 20  # the venv's, at least
    assert lines[1:] == ['not found module', 'True']  # and no version differs


def test_redis_py_imports_with_its_version_and_without_importlib_metadata(model):
    charm = model.charm('rp', layers=('caas-base',))
    out = _run_python('''
import sys
from charms.layer import caas_base
caas_base.stand_in_for_importlib_metadata()
import redis
print(redis.__version__, type(sys.modules['importlib.metadata']).__name__,
      sorted(m for m in sys.modules if m.startswith(('importlib.metadata.', 'email.'))))
''', os.path.join(charm, 'lib'))
    import redis
    assert out.split() == [redis.__version__, '_ImportlibMetadataStandIn', '[]']
