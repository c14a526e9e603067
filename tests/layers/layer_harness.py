"""Runs our layers for real in-process: charms.reactive discovers and dispatches the
handlers of a charm directory assembled from layers/ and interfaces/, one hook at a time,
against fake hook tools (fake_juju_tools.py) on PATH.

Each hook starts from freshly imported charms.reactive / charmhelpers / layer modules, as
a real hook process would; only the unit's state database persists between hooks.
"""

import contextlib
import gc
import json
import os
import shutil
import sys

import yaml

import fake_juju_tools

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAYERS = os.path.join(REPO, 'layers')
INTERFACES = os.path.join(REPO, 'interfaces')
BASE_LAYERS = ('caas-base', 'status', 'docker-resource')
with open(os.path.join(LAYERS, 'caas-base', 'hooks', 'hook.template')) as _f:
    HOOK_TEMPLATE = _f.read()

# Modules a hook process would import afresh. charmhelpers.osplatform stays: conftest
# patched it, because charmhelpers.core.host refuses to import on Debian.
_FRESH_PREFIXES = ('charms', 'charmhelpers', 'reactive', 'relations')
_KEEP = ('charmhelpers.osplatform',)


def _fresh_imports():
    """Forget the hook-time modules; return them so they can be put back afterwards."""
    removed = {}
    for name in list(sys.modules):
        if name in _KEEP:
            continue
        if any(name == p or name.startswith(p + '.') for p in _FRESH_PREFIXES):
            removed[name] = sys.modules.pop(name)
    return removed


def _copy_tree(src, dst):
    if os.path.isdir(src):
        shutil.copytree(src, dst, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns('__pycache__'))


class Model:
    """Fake Juju model: shared state for the fake hook tools plus charm directories."""

    def __init__(self, root):
        self.root = str(root)
        self.bin = os.path.join(self.root, 'bin')
        self.state_file = os.path.join(self.root, 'state.json')
        self.calls_file = os.path.join(self.root, 'calls.jsonl')
        fake_juju_tools.install(self.bin)
        self.write_state({'config': {}, 'leader': [], 'resources': {}, 'relations': []})

    # -- state of the fake tools -------------------------------------------------------
    def state(self):
        with open(self.state_file) as f:
            return json.load(f)

    def write_state(self, state):
        with open(self.state_file, 'w') as f:
            json.dump(state, f)

    def update(self, **changes):
        state = self.state()
        state.update(changes)
        self.write_state(state)

    def calls(self, tool=None, unit=None):
        return [c for c in fake_juju_tools.read_calls(self.calls_file, tool)
                if unit is None or c['unit'] == unit]

    def clear_calls(self):
        if os.path.exists(self.calls_file):
            os.unlink(self.calls_file)

    def image_file(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    # -- charms --------------------------------------------------------------------------
    def charm(self, name, metadata=None, config_options=None, layers=BASE_LAYERS,
              interfaces=(), handlers=None, layer_options=None):
        """Assemble a charm directory like `charm build` lays it out (without building).

        Args:
            handlers: {module name: source} written to the charm's own reactive/.
        """
        charm_dir = os.path.join(self.root, name)
        for layer in layers:
            _copy_tree(os.path.join(LAYERS, layer, 'lib'), os.path.join(charm_dir, 'lib'))
            _copy_tree(os.path.join(LAYERS, layer, 'reactive'),
                       os.path.join(charm_dir, 'reactive'))
        for iface in interfaces:
            dst = os.path.join(charm_dir, 'hooks', 'relations', iface)
            _copy_tree(os.path.join(INTERFACES, iface), dst)
            open(os.path.join(charm_dir, 'hooks', 'relations', '__init__.py'), 'a').close()
            open(os.path.join(dst, '__init__.py'), 'a').close()
        os.makedirs(os.path.join(charm_dir, 'reactive'), exist_ok=True)
        for module, source in (handlers or {}).items():
            with open(os.path.join(charm_dir, 'reactive', module + '.py'), 'w') as f:
                f.write(source)
        meta = {'name': name, 'summary': name, 'description': name, 'series': ['kubernetes']}
        meta.update(metadata or {})
        with open(os.path.join(charm_dir, 'metadata.yaml'), 'w') as f:
            yaml.safe_dump(meta, f)
        with open(os.path.join(charm_dir, 'config.yaml'), 'w') as f:
            yaml.safe_dump({'options': config_options or {}}, f)
        options = {'docker-resource': {'set-status': True}}
        options.update(layer_options or {})
        with open(os.path.join(charm_dir, 'layer.yaml'), 'w') as f:
            yaml.safe_dump({'options': options}, f)
        return charm_dir

    @contextlib.contextmanager
    def context(self, charm_dir, unit, hook, relation_id=None, remote_unit=None):
        """Hook environment of ``unit`` (env, cwd, sys.path, fresh imports), without main()."""
        saved_env = dict(os.environ)
        saved_path = list(sys.path)
        env = {
            'JUJU_UNIT_NAME': unit,
            'JUJU_CHARM_DIR': charm_dir,
            'CHARM_DIR': charm_dir,
            'JUJU_HOOK_NAME': hook,
            'JUJU_MODEL_NAME': 'test',
            'JUJU_MODEL_UUID': '0b6f7c1e-7d2a-4f5e-9c3b-2a1d4e5f6a7b',
            'PATH': self.bin + os.pathsep + os.environ.get('PATH', ''),
            'UNIT_STATE_DB': self.state_db(charm_dir, unit),
            'FAKE_JUJU_STATE': self.state_file,
            'FAKE_JUJU_CALLS': self.calls_file,
        }
        for key in ('JUJU_RELATION', 'JUJU_RELATION_ID', 'JUJU_REMOTE_UNIT',
                    'JUJU_REMOTE_APP'):
            os.environ.pop(key, None)
        if relation_id:
            env['JUJU_RELATION'] = relation_id.split(':')[0]
            env['JUJU_RELATION_ID'] = relation_id
        if remote_unit:
            env['JUJU_REMOTE_UNIT'] = remote_unit
            env['JUJU_REMOTE_APP'] = remote_unit.split('/')[0]
        os.environ.update(env)
        sys.path.insert(0, os.path.join(charm_dir, 'lib'))
        cwd = os.getcwd()
        os.chdir(charm_dir)
        # Other tests in the session may hold these modules: give them back afterwards.
        outside = _fresh_imports()
        try:
            yield
        finally:
            os.chdir(cwd)
            unitdata = sys.modules.get('charmhelpers.core.unitdata')
            if unitdata is not None and unitdata._KV is not None:
                unitdata._KV.conn.close()
                unitdata._KV = None
            _fresh_imports()
            sys.modules.update(outside)
            sys.path[:] = saved_path
            os.environ.clear()
            os.environ.update(saved_env)
            # The hook template hands the collector's objects over as a process that ends
            # would (gc.freeze); this process goes on.
            gc.unfreeze()
            gc.enable()

    def hook(self, charm_dir, unit, hook, relation_id=None, remote_unit=None):
        """Run one hook of ``unit`` as ``charm build`` renders it (layer:caas-base's
        hooks/hook.template, which ends in ``charms.reactive.main()``), in this process."""
        with self.context(charm_dir, unit, hook, relation_id, remote_unit):
            path = os.path.join(charm_dir, 'hooks', hook)
            exec(compile(HOOK_TEMPLATE, path, 'exec'), {'__name__': '__main__', '__file__': path})

    @staticmethod
    def state_db(charm_dir, unit):
        return os.path.join(charm_dir, '.unit-state-{}.db'.format(unit.replace('/', '-')))

    def kv(self, charm_dir, unit):
        """The unit's persisted key/value data (flags are ``reactive.states.<flag>``)."""
        import sqlite3
        path = self.state_db(charm_dir, unit)
        if not os.path.exists(path):
            return {}
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute('SELECT key, data FROM kv').fetchall()
        finally:
            conn.close()
        return {key: json.loads(data) for key, data in rows}

    def flags(self, charm_dir, unit):
        prefix = 'reactive.states.'
        return {k[len(prefix):] for k in self.kv(charm_dir, unit) if k.startswith(prefix)}

    def statuses(self, unit=None):
        """(state, message) of every status-set call, in order."""
        return [tuple(c['args'][-2:]) for c in self.calls('status-set', unit)]


# Prepended to test handler modules: record(event, **data) appends to events.jsonl.
RECORDER = '''
import json as _json
import os as _os


def record(event, **data):
    data.update(event=event, hook=_os.environ['JUJU_HOOK_NAME'],
                unit=_os.environ['JUJU_UNIT_NAME'])
    with open(_os.path.join(_os.environ['CHARM_DIR'], 'events.jsonl'), 'a') as f:
        f.write(_json.dumps(data, sort_keys=True) + '\\n')
'''


def events(charm_dir, event=None, hook=None):
    """Events recorded by test handlers, optionally filtered."""
    path = os.path.join(charm_dir, 'events.jsonl')
    if not os.path.exists(path):
        return []
    with open(path) as f:
        out = [json.loads(line) for line in f if line.strip()]
    return [e for e in out if (event is None or e['event'] == event)
            and (hook is None or e['hook'] == hook)]
