"""State in, one hook, state out: the charm's reactive handlers run for real, with no pod.

In the spirit of ops' Scenario: a test builds a :class:`State` (config, leadership, leader data,
relations and their data, goal state, the image resource, the unit's flags and key/value data
from earlier hooks, the cluster its pods would show), runs one hook on it with
:meth:`Context.run`, and asserts on the :class:`Output` (pod spec sent or not, leader data,
relation data, status, flags, logs, watcher). ``Output.state`` is the state to run the next hook on.

What is real: the charm directory laid out as ``charm build`` lays it out (our base layers, the
interfaces, the charm's ``reactive/``, ``lib/`` and ``templates/``), charms.reactive's discovery and
dispatch over those handler files, charmhelpers, and a fresh import of all of them per hook, as a
hook process would have (tests/layers/layer_harness.py does the same for the base layers).

What is fake, at the boundaries only:

- Juju's hook tools: ``hook_tools.py`` (over tests/layers/fake_juju_tools.py), run in this
  process behind ``subprocess.Popen`` (:class:`ToolProcess`: a Python start per call would make
  each hook cost a second); the same script is on PATH as one executable per tool.
- Redis: ``redis.Redis`` is ``fake_cluster.FakeRedis`` during the hook, and
  ``socket.create_connection`` (the charm's reading client) gives a ``fake_cluster.FakeSocket``,
  both answering from a ``fake_cluster.FakeCluster`` (``State.cluster``; None: no pod exists,
  nothing answers).
- The master watcher: a Python process the charm starts (``python -m <module> ...``) runs a
  stand-in that only sleeps, with the same arguments on its command line (so the charm finds and
  stops it as it would the real one); ``Output.watcher_running`` says whether one this unit's
  hooks started still runs.

Every Context uses an application name of its own (``rk<random>``): the charm stops master
watchers of its application found in the process table, and must never see a real one.
"""

import dataclasses
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field

import redis
import yaml

import fake_cluster
import hook_tools

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tests', 'layers'))

from layer_harness import Model  # noqa: E402

IMAGE = {'registrypath': 'registry.example/redis:7.0', 'username': '', 'password': ''}
EXPORTER_IMAGE = {'registrypath': 'registry.example/oliver006/redis_exporter:v1.45.0', 'username': '',
                  'password': ''}
FLAG_PREFIX = 'reactive.states.'
# Stand-in for the master watcher: sleeps until it is stopped.
WATCHER_STANDIN = 'import time\nwhile True:\n    time.sleep(1)\n'


class HookFailed(Exception):
    """The hook raised (Juju would mark the unit in error and retry it)."""


@dataclass
class Relation:
    """A relation of this unit's endpoint ``endpoint`` to ``remote_app``.

    ``remote_data`` is ``{remote unit: {key: value}}``; ``local_data`` what this unit published
    before. The peer relation is not one of these: see ``State.peer_data``.
    """

    endpoint: str
    remote_app: str = 'consumer'
    remote_units: tuple = ('consumer/0',)
    remote_data: dict = field(default_factory=dict)
    local_data: dict = field(default_factory=dict)
    app_data: dict = field(default_factory=dict)
    local_app_data: dict = field(default_factory=dict)


@dataclass
class State:
    """What a hook starts from.

    Attributes:
        unit: this unit's number; units are ``0..units-1``.
        units: the application's units (goal state), so its pods are ``<app>-0..units-1``.
        leader: whether this unit leads.
        config: options set by the user (config.yaml defaults fill the rest).
        leader_data: leader settings.
        relations: :class:`Relation` list (to other applications).
        peer_data: the peer relation (``redis-peers``, joined by every unit):
            ``{unit number: {key: value}}``; peer_app_data: its application data.
        image: the ``redis-image`` resource (what ``resource-get``'s file holds), None: missing.
        exporter_image: the ``exporter-image`` resource, likewise.
        files: ``file`` resources uploaded, ``{name: contents}`` (the others fail
            ``resource-get``, as Juju's do when nothing was uploaded).
        kv: the unit's key/value data from earlier hooks (flags are ``reactive.states.<flag>``).
        cluster: the pods as redis-py would see them, None: no pod yet.
        pod_spec, k8s_resources: the spec Juju has (text), if any.
        status: this unit's workload status as Juju shows it, ``(state, message)``; None:
            never set.
        charm_dir: the unit's charm directory in the operator pod (files a hook left there: the
            watcher's pid file); None: a fresh one.
    """

    unit: int = 0
    units: int = 3
    leader: bool = True
    config: dict = field(default_factory=dict)
    leader_data: dict = field(default_factory=dict)
    relations: list = field(default_factory=list)
    peer_data: dict = field(default_factory=dict)
    peer_app_data: dict = field(default_factory=dict)
    image: dict = field(default_factory=lambda: dict(IMAGE))
    exporter_image: dict = field(default_factory=lambda: dict(EXPORTER_IMAGE))
    files: dict = field(default_factory=dict)
    kv: dict = field(default_factory=dict)
    cluster: object = None
    pod_spec: str = None
    k8s_resources: str = None
    charm_dir: str = None
    status: tuple = None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def seen_by(self, unit, leader=False):
        """The application as unit ``unit`` finds it on its first hook: the same model (config,
        leader data, peer data, pods, pod spec), its own relations' data and flags not yet known."""
        return self.replace(unit=unit, leader=leader, kv={}, charm_dir=None, status=None,
                            relations=[dataclasses.replace(r, local_data={})
                                       for r in self.relations])

    def sharing(self, other):
        """This unit's state, with what ``other`` (another unit's state, later) shows of the
        application: leader data, peer data of the other units, config, pods, pod spec."""
        peers = dict(other.peer_data)
        if self.unit in self.peer_data:
            peers[self.unit] = self.peer_data[self.unit]
        return self.replace(leader_data=dict(other.leader_data), peer_data=peers,
                            peer_app_data=dict(other.peer_app_data), config=dict(other.config),
                            units=other.units, cluster=other.cluster, pod_spec=other.pod_spec,
                            k8s_resources=other.k8s_resources)

    def with_flags(self, *flags):
        """This state with ``flags`` set, as earlier hooks would have left them."""
        kv = dict(self.kv)
        kv.update({FLAG_PREFIX + flag: None for flag in flags})
        return self.replace(kv=kv)


@dataclass
class Output:
    """What one hook left behind."""

    state: State  # the state to run the next hook on
    spec_sent: bool  # pod-spec-set ran in this hook
    status: tuple  # (workload status, message) of this unit at the end of the hook
    app_status: tuple
    flags: set
    logs: list  # juju-log messages, in order (charms.reactive's traces among them)
    calls: list  # every hook tool call but juju-log's: {"tool", "args", "stdin", "unit"}
    watcher_running: bool
    watcher_starts: int  # watchers this hook started
    app: str
    modules: set = dataclasses.field(default_factory=set)  # our modules (redis_k8s.*) it loaded

    @property
    def leader_data(self):
        return self.state.leader_data

    @property
    def cluster(self):
        return self.state.cluster

    @property
    def spec(self):
        """The pod spec Juju has after the hook (parsed), None if none was ever set."""
        return yaml.safe_load(self.state.pod_spec) if self.state.pod_spec else None

    @property
    def k8s_resources(self):
        return yaml.safe_load(self.state.k8s_resources) if self.state.k8s_resources else None

    def published(self, endpoint='redis'):
        """What this unit publishes on its first ``endpoint`` relation (``{}`` if none)."""
        for relation in self.state.relations:
            if relation.endpoint == endpoint:
                return dict(relation.local_data)
        return {}


def assemble_charm(dst):
    """Lay the charm out in ``dst`` as ``charm build`` does (without vendoring: the test
    environment provides charms.reactive, charmhelpers and redis)."""
    with open(os.path.join(REPO, 'layer.yaml')) as f:
        root = yaml.safe_load(f)
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
    options = {}
    for include in root.get('includes', []):
        kind, _, name = include.partition(':')
        if kind == 'layer':
            src = os.path.join(REPO, 'layers', name)
            for sub in ('lib', 'reactive', 'templates'):
                if os.path.isdir(os.path.join(src, sub)):
                    shutil.copytree(os.path.join(src, sub), os.path.join(dst, sub),
                                    dirs_exist_ok=True, ignore=ignore)
            with open(os.path.join(src, 'layer.yaml')) as f:
                defines = (yaml.safe_load(f) or {}).get('defines') or {}
            options[name] = {key: spec.get('default') for key, spec in defines.items()}
        else:
            target = os.path.join(dst, 'hooks', 'relations', name)
            shutil.copytree(os.path.join(REPO, 'interfaces', name), target, dirs_exist_ok=True,
                            ignore=ignore)
            open(os.path.join(target, '__init__.py'), 'a').close()
            open(os.path.join(dst, 'hooks', 'relations', '__init__.py'), 'a').close()
    for sub in ('reactive', 'lib', 'templates'):
        shutil.copytree(os.path.join(REPO, sub), os.path.join(dst, sub), dirs_exist_ok=True,
                        ignore=ignore)
    for name in ('metadata.yaml', 'config.yaml'):
        shutil.copy(os.path.join(REPO, name), os.path.join(dst, name))
    for name, values in (root.get('options') or {}).items():
        options.setdefault(name, {}).update(values or {})
    options.setdefault(yaml.safe_load(open(os.path.join(REPO, 'metadata.yaml')))['name'], {})
    with open(os.path.join(dst, 'layer.yaml'), 'w') as f:
        yaml.safe_dump({'includes': root.get('includes', []), 'options': options}, f)
    return dst


def config_defaults():
    with open(os.path.join(REPO, 'config.yaml')) as f:
        options = yaml.safe_load(f)['options']
    return {name: spec.get('default') for name, spec in options.items()}


class Context:
    """Runs hooks of one application's units on States (one per test: ``ctx`` fixture)."""

    def __init__(self, root, template):
        self.root = str(root)
        self.template = template
        self.app = 'rk' + uuid.uuid4().hex[:8]
        self.model = Model(os.path.join(self.root, 'model'))
        hook_tools.install(self.model.bin)
        self.log_file = os.path.join(self.model.root, 'juju-log')
        self._watchers = []  # Popen of every stand-in started
        self._dirs = 0

    def unit_name(self, number):
        return '{}/{}'.format(self.app, number)

    def close(self):
        """Stop every watcher stand-in still running."""
        for process in self._watchers:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()

    # -- a hook -------------------------------------------------------------------------------

    def run(self, state, hook, relation=None, remote_unit=None):
        """Run ``hook`` of unit ``state.unit`` on ``state``; return the :class:`Output`.

        Args:
            relation: for a relation hook, the :class:`Relation` of ``state.relations`` it is
                for, or ``'redis-peers'`` for the peer relation.
            remote_unit: the remote unit of a relation hook (default: the relation's first).

        Raises:
            HookFailed: a handler raised (the unit's flags and data are not saved, as in Juju).
        """
        unit = self.unit_name(state.unit)
        charm_dir = state.charm_dir or self._fresh_charm_dir()
        relations = self._relations(state)
        self._write_juju_state(state, unit, relations)
        self._write_kv(charm_dir, unit, state.kv)
        self.model.clear_calls()
        if os.path.exists(self.log_file):
            os.unlink(self.log_file)
        cluster = state.cluster.copy() if state.cluster is not None else None
        relation_id = None
        if relation is not None:
            index = len(state.relations) if relation == 'redis-peers' else next(
                i for i, r in enumerate(state.relations) if r is relation)
            listed = relations[index]
            relation_id = '{}:{}'.format(listed['endpoints'][self.app], listed['id'])
            if remote_unit is None:
                remote_unit = next((u for u in listed['units'] if u != unit), None)
        started = len(self._watchers)
        error = None
        with self._patched(cluster):
            try:
                self.model.hook(charm_dir, unit, hook, relation_id=relation_id,
                                remote_unit=remote_unit)
            except SystemExit as exit:
                if exit.code not in (None, 0):
                    error = exit
            except Exception as exc:  # the hook failed
                error = exc
            loaded = {name for name in sys.modules if name.startswith('redis_k8s.')}
        if error is not None:
            raise HookFailed('{} of {} failed: {!r}'.format(hook, unit, error)) from error
        out = self._output(state, unit, charm_dir, relations, cluster, started)
        out.modules.update(loaded)
        return out

    def _fresh_charm_dir(self):
        self._dirs += 1
        path = os.path.join(self.root, 'charm-{}'.format(self._dirs))
        shutil.copytree(self.template, path)
        return path

    def _relations(self, state):
        """``state.relations`` in fake_juju_tools' form, the peer relation last."""
        others = tuple(self.unit_name(n) for n in range(state.units) if n != state.unit)
        peers = Relation('redis-peers', remote_app=self.app, remote_units=others,
                         remote_data={self.unit_name(n): data for n, data in state.peer_data.items()
                                      if n != state.unit},
                         local_data=state.peer_data.get(state.unit, {}),
                         local_app_data=state.peer_app_data)
        unit = self.unit_name(state.unit)
        out = []
        for index, relation in enumerate(list(state.relations) + [peers]):
            peer = relation is peers
            data = {name: dict(values) for name, values in relation.remote_data.items()}
            data[unit] = dict(relation.local_data)
            endpoints = {self.app: relation.endpoint}
            if not peer:
                endpoints[relation.remote_app] = relation.endpoint
            units = list(relation.remote_units) + ([unit] if peer else [])
            app_data = {self.app: dict(relation.local_app_data)}
            if not peer:
                app_data[relation.remote_app] = dict(relation.app_data)
            out.append({'id': index + 1, 'endpoints': endpoints, 'units': units, 'data': data,
                        'app_data': app_data})
        return out

    def _write_juju_state(self, state, unit, relations):
        config = config_defaults()
        config.update(state.config)
        resources = {}
        if state.image is not None:
            resources['redis-image'] = self.model.image_file(
                'redis-image.yaml', yaml.safe_dump(state.image))
        if state.exporter_image is not None:
            resources['exporter-image'] = self.model.image_file(
                'exporter-image.yaml', yaml.safe_dump(state.exporter_image))
        for name, contents in state.files.items():
            resources[name] = self.model.image_file(name + '.pem', contents)
        juju = {
            'config': config,
            'leader': [unit] if state.leader else [],
            'leader_data': dict(state.leader_data),
            'resources': resources,
            'relations': relations,
            'goal_units': [self.unit_name(n) for n in range(state.units)],
        }
        if state.status is not None:
            juju['status'] = {unit: list(state.status)}
        if state.pod_spec is not None:
            juju['pod_spec'] = state.pod_spec
        if state.k8s_resources is not None:
            juju['k8s_resources'] = state.k8s_resources
        self.model.write_state(juju)

    @staticmethod
    def _write_kv(charm_dir, unit, kv):
        from charmhelpers.core import unitdata
        store = unitdata.Storage(Model.state_db(charm_dir, unit))
        store.unsetrange(prefix='')
        for key, value in kv.items():
            store.set(key, value)
        store.flush()
        store.close()

    def _patched(self, cluster):
        context = self

        class Patch:
            def __enter__(self):
                self.saved = (redis.Redis, redis.StrictRedis, subprocess.Popen, socket.gethostbyname,
                              socket.create_connection)
                self.path = list(sys.path)
                # `python -m pytest` puts the repository on sys.path: its reactive/ and lib/ must
                # not stand in for the charm directory's.
                sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != REPO]
                os.environ['FAKE_JUJU_LOG'] = context.log_file
                fake_cluster.FakeRedis.cluster = cluster
                redis.Redis = redis.StrictRedis = fake_cluster.FakeRedis
                socket.gethostbyname = fake_cluster.gethostbyname
                socket.create_connection = fake_cluster.create_connection
                subprocess.Popen = context._popen_class(self.saved[2])
                for name in [m for m in sys.modules if m == 'redis_k8s' or m.startswith('redis_k8s.')]:
                    del sys.modules[name]  # the hook imports the charm's own copy afresh

            def __exit__(self, *exc):
                (redis.Redis, redis.StrictRedis, subprocess.Popen, socket.gethostbyname,
                 socket.create_connection) = self.saved
                sys.path[:] = self.path
                os.environ.pop('FAKE_JUJU_LOG', None)
                fake_cluster.FakeRedis.cluster = None
                for name in [m for m in sys.modules if m == 'redis_k8s' or m.startswith('redis_k8s.')]:
                    del sys.modules[name]
        return Patch()

    def _popen_class(self, popen):
        watchers = self._watchers

        class Popen(popen):
            """A hook tool runs in this process (:class:`ToolProcess`); the watcher
            (``python -m <module>``) runs the stand-in; anything else runs as is."""

            def __new__(cls, args, *rest, **kwargs):
                if isinstance(args, (list, tuple)) and args and args[0] in hook_tools.TOOLS:
                    return ToolProcess(args, **kwargs)
                return super().__new__(cls)

            def __init__(self, args, *rest, **kwargs):
                # The only Python program a hook starts is the watcher.
                standin = (isinstance(args, (list, tuple)) and len(args) > 1
                           and os.path.basename(str(args[0])).startswith('python'))
                if standin:
                    args = [sys.executable, '-c', WATCHER_STANDIN] + list(args[1:])
                super().__init__(args, *rest, **kwargs)
                if standin:
                    self.standin_unit = (kwargs.get('env') or os.environ).get('JUJU_UNIT_NAME')
                    watchers.append(self)
        return Popen

    # -- what the hook left ---------------------------------------------------------------------

    def _output(self, state, unit, charm_dir, relations, cluster, started):
        juju = self.model.state()
        calls = self.model.calls()
        kv = self.model.kv(charm_dir, unit)
        written = juju.get('relations', [])
        out_relations = []
        for relation, after in zip(state.relations, written):
            out_relations.append(dataclasses.replace(
                relation, local_data=dict(after['data'].get(unit, {})),
                local_app_data=dict(after.get('app_data', {}).get(self.app, {}))))
        peer_data = dict(state.peer_data)
        peer_data[state.unit] = dict(written[-1]['data'].get(unit, {}))
        peer_app_data = dict(written[-1].get('app_data', {}).get(self.app, {}))
        flags = {key[len(FLAG_PREFIX):] for key in kv if key.startswith(FLAG_PREFIX)}
        logs = hook_tools.read_log(self.log_file)
        mine = [p for p in self._watchers if _unit_of(p) == unit]
        status = juju.get('status', {}).get(unit)
        next_state = state.replace(
            status=tuple(status) if status else None,
            leader_data=dict(juju.get('leader_data', {})), relations=out_relations, kv=kv,
            peer_data=peer_data, peer_app_data=peer_app_data,
            cluster=cluster, pod_spec=juju.get('pod_spec'), k8s_resources=juju.get('k8s_resources'),
            charm_dir=charm_dir)
        return Output(
            state=next_state,
            spec_sent=any(call['tool'] == 'pod-spec-set' for call in calls),
            status=tuple(status or ('unknown', '')),
            app_status=tuple(juju.get('app_status', ('unknown', ''))),
            flags=flags, logs=logs, calls=calls,
            watcher_running=any(p.poll() is None for p in mine),
            watcher_starts=len(self._watchers) - started,
            app=self.app)


class ToolProcess:
    """A hook tool run by ``hook_tools.main`` in this process, behind the ``subprocess.Popen``
    interface ``subprocess.run``/``call``/``check_output`` use: the same fake as the executables
    on PATH, without a Python start per call (a hook makes a dozen or more)."""

    def __init__(self, args, stdin=None, stdout=None, stderr=None, universal_newlines=None,
                 text=None, encoding=None, errors=None, **ignored):
        self.args = list(args)
        self._pipes = (stdout == subprocess.PIPE, stderr == subprocess.PIPE)
        self._text = bool(text or universal_newlines or encoding or errors)
        self.returncode = None
        self.stdout = self.stderr = None
        self._output = (None, None)

    def _run(self, input=None):
        if self.returncode is not None:
            return
        if isinstance(input, bytes):
            input = input.decode()
        saved = sys.stdin, sys.stdout, sys.stderr
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(input or ''), io.StringIO(), io.StringIO()
        try:
            try:
                code = hook_tools.main(self.args[0], [str(a) for a in self.args[1:]])
            except SystemExit as exit:
                if isinstance(exit.code, str):
                    sys.stderr.write(exit.code + '\n')
                    code = 1
                else:
                    code = exit.code or 0
            out, err = sys.stdout.getvalue(), sys.stderr.getvalue()
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved
        self.returncode = code or 0
        if not self._text:
            out, err = out.encode(), err.encode()
        self._output = (out if self._pipes[0] else None, err if self._pipes[1] else None)

    def communicate(self, input=None, timeout=None):
        self._run(input)
        return self._output

    def wait(self, timeout=None):
        self._run()
        return self.returncode

    def poll(self):
        return self.returncode

    def kill(self):
        pass

    terminate = kill

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.wait()


def _unit_of(process):
    return getattr(process, 'standin_unit', None)
