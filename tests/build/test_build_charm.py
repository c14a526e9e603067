"""The built charm: tree, zip, charm-proof, and one real hook run by a bare system Python."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

import pytest
import yaml

import fake_juju_tools

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STANDARD_HOOKS = ('install', 'config-changed', 'leader-elected', 'leader-settings-changed',
                  'start', 'stop', 'update-status', 'upgrade-charm')
RELATION_EVENTS = ('created', 'joined', 'changed', 'departed', 'broken')
DEV_FILES = ('tests', 'layers', 'interfaces', 'localmodel', 'bench', 'scripts', 'docs',
             'Makefile', '.venv', '.ci', 'deps', 'build', 'requirements-dev.txt', '.git',
             '.gitignore', '.localmodel', 'caas_base_build')
UBUNTU_OS_RELEASE = 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\n'


def _metadata(charm):
    with open(os.path.join(charm, 'metadata.yaml')) as f:
        return yaml.safe_load(f)


def _manifest(charm):
    with open(os.path.join(charm, '.build.manifest')) as f:
        return json.load(f)['signatures']


def _all_files(charm):
    for dirpath, dirnames, filenames in os.walk(charm):
        for name in filenames:
            yield os.path.relpath(os.path.join(dirpath, name), charm)


def test_hooks_for_every_standard_relation_and_storage_event(built_charm):
    meta = _metadata(built_charm)
    with open(os.path.join(built_charm, 'hooks', 'hook.template')) as f:
        template = f.read()
    expected = list(STANDARD_HOOKS)
    for role in ('provides', 'requires', 'peers'):
        for endpoint in meta.get(role, {}):
            expected += ['{}-relation-{}'.format(endpoint, e) for e in RELATION_EVENTS]
    for store in meta.get('storage', {}):
        expected += [store + '-storage-attached', store + '-storage-detaching']
    assert any('-storage-' in h for h in expected) and any('-relation-' in h for h in expected)
    for hook in expected:
        path = os.path.join(built_charm, 'hooks', hook)
        assert os.stat(path).st_mode & stat.S_IXUSR, hook
        with open(path) as f:
            assert f.read() == template, hook


def test_layers_interface_and_pure_python_dependencies_are_in(built_charm):
    for rel in ('lib/charms/layer/__init__.py', 'lib/charms/layer/caas_base.py',
                'lib/charms/layer/status.py', 'lib/charms/layer/docker_resource.py',
                'lib/charms/layer/options.py', 'reactive/caas_base.py',
                'reactive/docker_resource.py', 'hooks/relations/redis/provides.py',
                'hooks/relations/redis/requires.py', 'lib/charms/reactive/__init__.py',
                'lib/charmhelpers/core/hookenv.py', 'lib/yaml/__init__.py',
                'lib/jinja2/__init__.py', 'lib/markupsafe/_native.py',
                'lib/redis/__init__.py', 'lib/async_timeout/__init__.py',
                'lib/rsa/__init__.py', 'lib/pyasn1/__init__.py', 'lib/asn1crypto/__init__.py',
                'lib/redis_k8s/certificates.py', 'lib/redis_k8s/tls_files.py',
                'lib/pkg_resources/__init__.py'):
        assert os.path.isfile(os.path.join(built_charm, rel)), rel
    with open(os.path.join(built_charm, 'lib', '.vendor.json')) as f:
        vendored = json.load(f)
    assert {'charms-reactive', 'charmhelpers', 'pyyaml', 'redis', 'rsa', 'pyasn1', 'asn1crypto'} <= set(
        vendored['distributions'])
    assert any(r.endswith('.so') for r in vendored['removed'])


def _vendored(charm):
    """The files layer:caas-base's build vendored into ``lib/`` (manifest origin, dynamic)."""
    return {rel for rel, (origin, kind, _) in _manifest(charm).items()
            if origin == 'layer:caas-base' and kind == 'dynamic' and rel.startswith('lib/')}


def test_no_compiled_extension_and_no_development_files(built_charm):
    files = list(_all_files(built_charm))
    assert [f for f in files if f.endswith(('.so', '.pyd', '.dylib'))] == []
    assert not set(os.listdir(built_charm)) & set(DEV_FILES)
    assert not [f for f in files if f.startswith('.unit-state')]
    # the manifest accounts for every file, so a rebuild can detect stray ones
    assert set(files) == set(_manifest(built_charm))


NOT_PRECOMPILED = ('setuptools', 'pkg_resources', 'pbr', '_distutils_hack')


def _modules(charm):
    """The charm's Python modules that hooks may import: under lib/, reactive/ and the
    interface layers' hooks/relations/."""
    return [rel for rel in _all_files(charm)
            if rel.endswith('.py') and (rel.split('/')[0] in ('lib', 'reactive')
                                        or rel.startswith('hooks/relations/'))
            and not (rel.startswith('lib/') and rel.split('/')[1] in NOT_PRECOMPILED)]


# Juju 2.9's operator image runs Python 3.8 (Ubuntu 20.04): the build ships bytecode for it
# when the build machine has one (this one does, pyenv's), beside the build's own Python's.
OPERATOR_PYTHON = os.path.expanduser('~/.pyenv/versions/3.8.18/bin/python3.8')
BYTECODE_PYTHONS = [sys.executable] + [p for p in (OPERATOR_PYTHON,) if os.path.exists(p)]
# Run by each of those Pythons over the charm's sources: what its bytecode should be.
_CHECK_BYTECODE = """
import importlib.util, json, os, sys
charm, sources = sys.argv[1], json.loads(sys.stdin.read())
bad = []
for rel in sources:
    cfile = importlib.util.cache_from_source(rel)
    try:
        with open(os.path.join(charm, cfile), 'rb') as f:
            head = f.read(16)
    except OSError:
        bad.append((cfile, 'missing'))
        continue
    with open(os.path.join(charm, rel), 'rb') as f:
        digest = importlib.util.source_hash(f.read())
    if head[:4] != importlib.util.MAGIC_NUMBER:
        bad.append((cfile, 'magic'))
    elif int.from_bytes(head[4:8], 'little') != 0b11:  # hash-based, checked on import
        bad.append((cfile, 'not checked-hash'))
    elif head[8:16] != digest:
        bad.append((cfile, 'stale hash'))
print(json.dumps({'tag': sys.implementation.cache_tag, 'bad': bad}))
"""


@pytest.mark.parametrize('python', BYTECODE_PYTHONS)
def test_every_module_a_hook_imports_ships_hash_checked_bytecode(built_charm, python):
    proc = subprocess.run([python, '-I', '-c', _CHECK_BYTECODE, built_charm],
                          input=json.dumps(_modules(built_charm)), capture_output=True,
                          text=True, check=True)
    result = json.loads(proc.stdout)
    assert result['bad'] == []
    # the vendored dependencies', the charm's and its layers' own and the interface layers'
    # (compiled by the build's tactics: layer:caas-base PureVendorTactic and
    # CompiledModuleTactic, with compile_interfaces in its sign phase)
    bytecode = set(f for f in _all_files(built_charm) if f.endswith('.pyc'))
    tag = '.{}.pyc'.format(result['tag'])
    assert 'lib/redis/__pycache__/client' + tag in bytecode
    for own in ('lib/redis_k8s/__pycache__/podspec', 'lib/charms/layer/__pycache__/redis_k8s',
                'lib/charms/layer/__pycache__/caas_base', 'reactive/__pycache__/redis',
                'reactive/__pycache__/docker_resource',
                'hooks/relations/redis/__pycache__/provides',
                'hooks/relations/redis-peers/__pycache__/peers'):
        assert own + tag in bytecode, own


def test_bytecode_is_only_for_those_pythons_and_only_of_modules_hooks_import(built_charm):
    bytecode = [f for f in _all_files(built_charm) if f.endswith('.pyc') or '__pycache__' in f]
    assert not [f for f in bytecode if f.split('/')[1] in NOT_PRECOMPILED]
    tags = {os.path.basename(f).split('.')[-2] for f in bytecode}
    expected = {sys.implementation.cache_tag}
    if os.path.exists(OPERATOR_PYTHON):
        expected.add('cpython-38')
    assert tags == expected
    assert set(bytecode) & _vendored(built_charm)


def test_metadata_keeps_auto_fetch_and_proof_has_no_errors(built_charm):
    resources = _metadata(built_charm)['resources']
    assert resources['redis-image']['type'] == 'oci-image'
    assert resources['redis-image']['auto-fetch'] is True
    assert resources['exporter-image']['type'] == 'oci-image'
    assert resources['exporter-image']['auto-fetch'] is True
    assert resources['exporter-image']['upstream-source'] == 'oliver006/redis_exporter:v1.45.0'
    proc = subprocess.run([os.path.join(REPO, '.venv', 'bin', 'charm-proof'), built_charm],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = proc.stdout.decode().splitlines()
    assert not [line for line in lines if line.startswith('E:')], lines


def test_zip_matches_the_tree_and_keeps_exec_bits(built_charm):
    with zipfile.ZipFile(built_charm + '.charm') as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert zf.testzip() is None
    assert set(infos) == set(_all_files(built_charm))
    for name in ('hooks/install', 'hooks/redis-relation-joined',
                 'hooks/database-storage-attached'):
        assert (infos[name].external_attr >> 16) & stat.S_IXUSR, name
    assert 'metadata.yaml' in infos and 'lib/charms/reactive/bus.py' in infos


def test_the_charms_yaml_files_ship_parsed_for_the_hooks(built_charm):
    import hashlib
    manifest = _manifest(built_charm)
    for name in ('metadata.yaml', 'config.yaml', 'layer.yaml'):
        with open(os.path.join(built_charm, name), 'rb') as f:
            text = f.read()
        rel = '.parsed/{}.json'.format(name)
        with open(os.path.join(built_charm, rel)) as f:
            parsed = json.load(f)
        # what the hooks' parser (PyYAML's safe_load) reads from these very bytes
        assert parsed == {'sha256': hashlib.sha256(text).hexdigest(),
                          'data': yaml.safe_load(text)}, name
        assert rel in manifest, rel


def test_actions_yaml_and_executable_actions_are_in_the_tree_and_the_zip(built_charm):
    with open(os.path.join(REPO, 'actions.yaml')) as f:
        declared = yaml.safe_load(f)
    with open(os.path.join(built_charm, 'actions.yaml')) as f:
        assert yaml.safe_load(f) == declared
    with zipfile.ZipFile(built_charm + '.charm') as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert 'actions.yaml' in infos
    for name in declared:
        path = os.path.join(built_charm, 'actions', name)
        assert os.access(path, os.X_OK), path
        assert (infos['actions/' + name].external_attr >> 16) & stat.S_IXUSR, name


class BuiltHook:
    """Runs hooks of a copy of the built charm as real processes: bare /usr/bin/python3
    (no site packages), fake hook tools, Ubuntu os-release in a private mount namespace."""

    def __init__(self, built_charm, tmp_path, python='/usr/bin/python3'):
        self.tmp = str(tmp_path)
        self.charm = os.path.join(self.tmp, 'charm')
        shutil.copytree(built_charm, self.charm, symlinks=True)
        # The charm's own handlers are tested by their owners; this checks the layers
        # inside the built artifact, whatever state reactive/ is in.
        layers = ('layer:', 'interface:')
        for rel, (origin, _, _) in _manifest(built_charm).items():
            if rel.startswith('reactive/') and not origin.startswith(layers):
                os.unlink(os.path.join(self.charm, rel))
        self.bin = os.path.join(self.tmp, 'bin')
        fake_juju_tools.install(self.bin)
        self.python_marker = os.path.join(self.tmp, 'python-used')
        with open(os.path.join(self.bin, 'python3'), 'w') as f:
            f.write('#!/bin/sh\ntouch {}\nexec {} -S "$@"\n'.format(
                self.python_marker, python))
        os.chmod(os.path.join(self.bin, 'python3'), 0o755)
        self.os_release = os.path.join(self.tmp, 'os-release')
        with open(self.os_release, 'w') as f:
            f.write(UBUNTU_OS_RELEASE)
        image = os.path.join(self.tmp, 'image.yaml')
        with open(image, 'w') as f:
            f.write('registrypath: registry.example/redis:7.0\nusername: u\npassword: pw\n')
        exporter = os.path.join(self.tmp, 'exporter-image.yaml')
        with open(exporter, 'w') as f:
            f.write('registrypath: registry.example/oliver006/redis_exporter:v1.45.0\n')
        self.state = os.path.join(self.tmp, 'state.json')
        self.calls_file = os.path.join(self.tmp, 'calls.jsonl')
        self.write_state({'config': {'port': 6379}, 'leader': ['redis-k8s/0'],
                          'resources': {'redis-image': image, 'exporter-image': exporter},
                          'relations': []})

    def write_state(self, state):
        with open(self.state, 'w') as f:
            json.dump(state, f)

    def run(self, hook, unit='redis-k8s/0', **extra_env):
        env = {
            'PATH': self.bin + ':/usr/bin:/bin',
            'JUJU_UNIT_NAME': unit,
            'JUJU_CHARM_DIR': self.charm,
            'CHARM_DIR': self.charm,
            'JUJU_HOOK_NAME': hook,
            'JUJU_MODEL_NAME': 'test',
            'FAKE_JUJU_STATE': self.state,
            'FAKE_JUJU_CALLS': self.calls_file,
            **extra_env,
        }
        if os.path.exists(self.calls_file):
            os.unlink(self.calls_file)
        script = 'mount --bind "$1" /etc/os-release && exec "$2"'
        return subprocess.run(
            ['unshare', '--mount', 'sh', '-c', script, 'sh', self.os_release,
             os.path.join(self.charm, 'hooks', hook)],
            env=env, cwd=self.charm, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=120)

    def calls(self, tool=None):
        return fake_juju_tools.read_calls(self.calls_file, tool)

    def logs(self):
        return [c['args'][-1] for c in self.calls('juju-log')]

    def flags(self, unit='redis-k8s/0'):
        """The reactive flags in ``unit``'s state database (which must exist)."""
        import sqlite3
        path = os.path.join(self.charm, '.unit-state-{}.db'.format(unit.replace('/', '-')))
        assert os.path.exists(path)
        conn = sqlite3.connect(path)
        try:
            keys = [row[0] for row in conn.execute('SELECT key FROM kv')]
        finally:
            conn.close()
        prefix = 'reactive.states.'
        return {key[len(prefix):] for key in keys if key.startswith(prefix)}


@pytest.fixture
def hooks(built_charm, tmp_path):
    return BuiltHook(built_charm, tmp_path)


def test_install_hook_runs_the_layers_on_a_bare_python(hooks):
    proc = hooks.run('install')
    assert proc.returncode == 0, proc.stdout.decode()
    assert os.path.exists(hooks.python_marker)
    assert [c['args'] for c in hooks.calls('resource-get')] == [['exporter-image'], ['redis-image']]
    assert ['maintenance', 'fetching resource: redis-image'] in [
        c['args'] for c in hooks.calls('status-set')]
    # The reactive layers ran: their flags are in the unit's state (config flags set inside
    # dispatch, the image fetched). The hook logged nothing of its own, so charms.reactive's
    # own lines were held back: no juju-log call (layer:caas-base).
    flags = hooks.flags()
    assert {'config.default.port', 'config.set.port',
            'layer.docker-resource.redis-image.available',
            'layer.docker-resource.exporter-image.available'} <= flags
    assert hooks.logs() == []


def _imported(output):
    """Modules a hook run with PYTHONVERBOSE=1 imported."""
    import re
    return set(re.findall(r"^import '([^']+)'", output.decode('utf-8', 'replace'), re.M))


def test_a_steady_hook_parses_no_yaml_and_imports_no_pyyaml(hooks):
    first = hooks.run('install', PYTHONVERBOSE='1')
    assert first.returncode == 0, first.stdout.decode()
    # The image resources are YAML files: the install hook reads them with PyYAML.
    assert 'yaml.scanner' in _imported(first.stdout)
    steady = hooks.run('update-status', PYTHONVERBOSE='1')
    assert steady.returncode == 0, steady.stdout.decode()
    imported = _imported(steady.stdout)
    assert 'charms.reactive' in imported  # the verbose listing works
    assert not [name for name in imported if name.split('.')[0] == 'yaml'], sorted(imported)


def _bytecode(charm):
    found = {}
    for rel in _all_files(charm):
        if rel.endswith('.pyc'):
            with open(os.path.join(charm, rel), 'rb') as f:
                found[rel] = f.read()
    return found


@pytest.mark.parametrize('python', BYTECODE_PYTHONS)
def test_a_units_first_hook_compiles_nothing(built_charm, tmp_path, python):
    # Bare (-S), as an operator's Python would be; the build's own and the operator's (3.8).
    hooks = BuiltHook(built_charm, tmp_path, python=python)
    before = _bytecode(hooks.charm)
    proc = hooks.run('install')
    assert proc.returncode == 0, proc.stdout.decode()
    after = _bytecode(hooks.charm)
    # Everything the hook imports came compiled, the interface layers' modules included
    # (hooks/relations/, compiled in the build's sign phase), and stays as it was.
    assert sorted(set(after) - set(before)) == []
    assert after == before


def test_unit_state_is_per_unit_and_persists(hooks):
    assert hooks.run('install').returncode == 0
    proc = hooks.run('update-status')
    assert proc.returncode == 0, proc.stdout.decode()
    assert hooks.calls('resource-get') == []          # remembered by redis-k8s/0
    assert hooks.run('install', unit='redis-k8s/1').returncode == 0
    assert [c['args'] for c in hooks.calls('resource-get')] == [['exporter-image'], ['redis-image']]
    assert os.path.exists(os.path.join(hooks.charm, '.unit-state-redis-k8s-1.db'))


def test_missing_image_blocks(hooks):
    hooks.write_state({'config': {'port': 6379}, 'leader': [], 'resources': {},
                       'relations': []})
    proc = hooks.run('install')
    assert proc.returncode == 0, proc.stdout.decode()
    assert hooks.calls('status-set')[-1]['args'] == [
        'blocked', 'unable to fetch resource(s): exporter-image, redis-image']


# Operator images ship whatever python3 their base has; check the oldest and newest we
# claim (3.8, 3.12) when this machine has them (pyenv builds).
OTHER_PYTHONS = [p for p in (os.path.expanduser('~/.pyenv/versions/3.8.18/bin/python3'),
                             os.path.expanduser('~/.pyenv/versions/3.12.1/bin/python3'))
                 if os.path.exists(p)]


@pytest.mark.parametrize('python', OTHER_PYTHONS)
def test_install_hook_on_other_pythons(built_charm, tmp_path, python):
    hooks = BuiltHook(built_charm, tmp_path, python=python)
    proc = hooks.run('install')
    assert proc.returncode == 0, proc.stdout.decode()
    assert os.path.exists(hooks.python_marker)
    assert [c['args'] for c in hooks.calls('resource-get')] == [['exporter-image'], ['redis-image']]


# Juju 2.8's operator image (Ubuntu 18.04) runs Python 3.6: the hooks say what they need.
OLDER_PYTHONS = [p for p in (os.path.expanduser('~/.pyenv/versions/3.6.15/bin/python3'),
                             os.path.expanduser('~/.pyenv/versions/3.7.16/bin/python3'))
                 if os.path.exists(p)]


@pytest.mark.parametrize('python', OLDER_PYTHONS)
def test_an_operator_python_older_than_3_8_blocks_naming_what_is_needed(built_charm, tmp_path,
                                                                       python):
    hooks = BuiltHook(built_charm, tmp_path, python=python)
    hooks.write_state({'config': {'port': 6379}, 'leader': [], 'resources': {},
                       'relations': []})
    proc = hooks.run('install')
    assert proc.returncode == 0, proc.stdout.decode()
    version = python.split('/versions/')[1].split('/')[0]
    assert [c['args'] for c in hooks.calls('status-set')] == [[
        'blocked', 'needs Python 3.8 or later in the operator pod (Juju 2.9); it runs '
        + version]]
