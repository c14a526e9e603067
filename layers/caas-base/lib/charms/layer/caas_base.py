"""Helpers for Juju podspec (Kubernetes) charms: pod spec, raw k8s spec, config flags."""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

from . import block_yaml

CONFIG_SNAPSHOT_KEY = 'caas-base.config.previous'

# Juju refuses spec changes while an application is being removed; there is nothing left
# to configure then, so the hook should not fail because of it.
_NOT_ALIVE = re.compile(r'application \S+ not alive')


class PodSpecSetError(Exception):
    """A spec tool (``pod-spec-set``, ``k8s-raw-set``) rejected the spec.

    Attributes:
        tool: the hook tool that failed.
        returncode: its exit status.
        stderr: what it printed on stderr (Juju's validation message).
    """

    def __init__(self, tool, returncode, stderr):
        self.tool = tool
        self.returncode = returncode
        self.stderr = stderr
        super().__init__('{} failed ({}): {}'.format(tool, returncode, stderr.strip()))


def prepare_python():
    """Make the standard library look like Python 3.8-3.11 to the vendored packages.

    charmhelpers imports ``distutils``, which Python 3.12 dropped; the vendored
    setuptools provides a replacement that is normally activated by a ``.pth`` file,
    which the charm's ``lib/`` (not a site directory) never processes. Where the standard library
    still has ``distutils`` (up to 3.11) it is used even if a system setuptools shim would swap in
    its own copy: that copy takes about 0.12 s to import, in every hook.
    """
    shim = sys.modules.get('_distutils_hack')
    if shim is not None and sys.version_info < (3, 12) and 'distutils' not in sys.modules:
        shim.remove_shim()
    try:
        import distutils.version  # noqa: F401
    except ImportError:
        import _distutils_hack
        _distutils_hack.add_shim()


# --- pkg_resources, which charms.reactive imports for one function ---------------------------------

def stand_in_for_pkg_resources():
    """Give charms.reactive the one thing it imports from ``pkg_resources``,
    ``iter_entry_points``, without importing setuptools' ``pkg_resources``.

    charms.reactive imports it in every hook to look up relation factories by entry point;
    importing it scans every installed distribution and pulls in ``packaging``, ``email``,
    ``http.client`` and more: about a third of a hook's import time. The stand-in reads the
    same entry points (``entry_points.txt`` of each ``*.dist-info``/``*.egg-info`` on
    ``sys.path``) with the standard library. Any other name asked of the module imports the
    real ``pkg_resources`` then, and gives its answer. Called by the hook before importing
    charms.reactive; does nothing if ``pkg_resources`` is already imported.
    """
    if 'pkg_resources' not in sys.modules:
        sys.modules['pkg_resources'] = _PkgResourcesStandIn('pkg_resources')


class _EntryPoint:
    """An entry point as ``pkg_resources`` gives it: ``name``, ``module_name``, ``attrs``,
    ``load()``."""

    def __init__(self, name, value):
        self.name = name
        target = value.split('[', 1)[0].strip()
        self.module_name, _, attrs = target.partition(':')
        self.module_name = self.module_name.strip()
        self.attrs = tuple(a for a in attrs.strip().split('.') if a)

    def load(self, *args, **kwargs):
        import importlib
        found = importlib.import_module(self.module_name)
        for attr in self.attrs:
            found = getattr(found, attr)
        return found

    def __repr__(self):
        return 'EntryPoint({!r} = {}:{})'.format(self.name, self.module_name,
                                                  '.'.join(self.attrs))


def _entry_point_files():
    seen = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or '.')
        except OSError:
            continue
        for name in sorted(names):
            if name.endswith(('.dist-info', '.egg-info')):
                path = os.path.join(entry or '.', name, 'entry_points.txt')
                project = name.rsplit('-', 1)[0].lower()
                if project not in seen and os.path.isfile(path):
                    seen.add(project)  # the first one on sys.path wins, as in pkg_resources
                    yield path


def iter_entry_points(group, name=None):
    """The entry points of ``group`` (named ``name``, if given) of every distribution on
    ``sys.path``, as ``pkg_resources.iter_entry_points`` yields them."""
    for path in _entry_point_files():
        try:
            with open(path, encoding='utf-8') as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        section = None
        for line in lines:
            line = line.strip()
            if not line or line.startswith(('#', ';')):
                continue
            if line.startswith('[') and line.endswith(']'):
                section = line[1:-1].strip()
            elif section == group and '=' in line:
                key, _, value = line.partition('=')
                if name is None or key.strip() == name:
                    yield _EntryPoint(key.strip(), value)


class _PkgResourcesStandIn(type(sys)):
    iter_entry_points = staticmethod(iter_entry_points)

    def __getattr__(self, attr):
        if attr.startswith('__'):
            raise AttributeError(attr)
        # Anything else: the real module, which replaces the stand-in from now on.
        del sys.modules['pkg_resources']
        import importlib
        real = importlib.import_module('pkg_resources')
        return getattr(real, attr)


# --- what charms.reactive logs of its own work --------------------------------------------------

# Modules (and their submodules) whose lines below WARNING hold_framework_log holds back:
# charms.reactive's own, and the tracer this layer gives it.
_FRAMEWORK = ('charms.reactive', 'charms.layer.flag_tracer')
_HELD_LEVELS = (None, 'TRACE', 'DEBUG', 'INFO')
_held = []
_send = None  # charmhelpers' hookenv.log, which runs juju-log


def hold_framework_log():
    """Hold back what charms.reactive logs below WARNING about its own work (the hook running,
    each handler invoked, its flag tracer: :mod:`charms.layer.flag_tracer`) until the charm
    logs something, then send it in one ``juju-log`` call just before the charm's line; drop it
    when the charm logs nothing.

    Each ``juju-log`` is a hook tool call (tens of ms on an operator pod), and charms.reactive
    makes six to eight a hook: a steady hook (update-status finding nothing to do) now makes
    none, and a hook that did something still shows in debug-log with the handlers that ran
    before it. Warnings and errors, a failing hook's traceback among them, are never held.
    Called by the hook before ``charms.reactive.main()``.
    """
    global _send
    from charmhelpers.core import hookenv
    if _send is not None:
        return
    _send = hookenv.log

    def log(message, level=None):
        caller = sys._getframe(1).f_globals.get('__name__') or ''
        framework = any(caller == name or caller.startswith(name + '.') for name in _FRAMEWORK)
        if framework and level in _HELD_LEVELS:
            _held.append(message)
            return None
        release_framework_log()
        return _send(message, level=level)

    log.__doc__ = _send.__doc__
    hookenv.log = log


def release_framework_log():
    """Send what :func:`hold_framework_log` holds, in one DEBUG line."""
    if _held and _send is not None:
        text = '\n'.join(_held)
        del _held[:]
        _send(text, level='DEBUG')


def trust_relation_set_file():
    """Tell charmhelpers that ``relation-set`` takes ``--file`` without asking it.

    charmhelpers asks ``relation-set --help`` once per hook before its first write (for Juju
    before 1.23.2): a hook tool call in every hook that writes relation data, the one that gives
    consumers a new master among them. Every Juju this layer runs on (2.8, 2.9:
    ``worker/uniter/runner/jujuc/relation-set.go`` has ``--file``) takes it. Called by the hook
    before ``charms.reactive.main()``.
    """
    from charmhelpers.core import hookenv
    hookenv._relation_set_accepts_file = lambda: True


def _run_spec_tool(tool, spec, k8s_resources=None):
    cmd = [tool]
    resources_file = None
    try:
        if k8s_resources is not None:
            # Juju appends this file's text to the spec, so it must be the whole
            # top-level `kubernetesResources:` section, not just its contents.
            if isinstance(k8s_resources, str):
                text = k8s_resources
            else:
                if set(k8s_resources) != {'kubernetesResources'}:
                    k8s_resources = {'kubernetesResources': k8s_resources}
                text = block_yaml.dump(k8s_resources)
            if not text.lstrip().startswith('kubernetesResources:'):
                raise ValueError('k8s_resources text must start with "kubernetesResources:"')
            fd, resources_file = tempfile.mkstemp(prefix='k8s-resources-', suffix='.yaml')
            with os.fdopen(fd, 'w') as f:
                f.write(text)
            cmd += ['--k8s-resources', resources_file]
        spec_text = spec if isinstance(spec, str) else block_yaml.dump(spec)
        proc = subprocess.run(cmd, input=spec_text.encode('utf-8'),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        if resources_file:
            os.unlink(resources_file)
    stderr = proc.stderr.decode('utf-8', 'replace')
    if proc.returncode == 0:
        return True
    if _NOT_ALIVE.search(stderr):
        _juju_log('{} ignored: {}'.format(tool, stderr.strip()), 'WARNING')
        return False
    raise PodSpecSetError(tool, proc.returncode, stderr)


def pod_spec_set(spec, k8s_resources=None):
    """Send the pod spec to Juju (leader only).

    Args:
        spec: the spec (a dict, dumped as YAML, or YAML text), piped to ``pod-spec-set``.
        k8s_resources: optional ``kubernetesResources`` section: a dict (its contents, or
            ``{'kubernetesResources': contents}``) or YAML text starting with
            ``kubernetesResources:``; passed to the tool as a file.

    Returns:
        True when Juju accepted the spec, False when the application is going away.

    Raises:
        PodSpecSetError: Juju rejected the spec (its stderr is on the exception).
    """
    return _run_spec_tool('pod-spec-set', spec, k8s_resources)


def k8s_raw_set(spec):
    """Send a raw Kubernetes spec to Juju with ``k8s-raw-set`` (leader only).

    Same error handling as :func:`pod_spec_set`.
    """
    return _run_spec_tool('k8s-raw-set', spec)


def _juju_log(message, level):
    from charmhelpers.core import hookenv
    hookenv.log(message, level=level)


# The defaults of config.yaml as JSON, beside it: the vendored YAML parser is pure Python, and
# config.yaml (long descriptions) changes only with the charm.
_DEFAULTS_CACHE = '.config-defaults.json'


def _config_defaults():
    from charmhelpers.core import hookenv
    path = os.path.join(hookenv.charm_dir(), 'config.yaml')
    try:
        stat = os.stat(path)
    except OSError:
        return {}
    stamp = [stat.st_mtime_ns, stat.st_size]
    cache = os.path.join(os.path.dirname(path), _DEFAULTS_CACHE)
    try:
        with open(cache) as f:
            cached = json.load(f)
        if cached.get('stamp') == stamp:
            return cached['defaults']
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    with open(path) as f:
        options = (yaml.safe_load(f) or {}).get('options') or {}
    defaults = {name: (spec or {}).get('default') for name, spec in options.items()}
    try:
        with open(cache + '.tmp', 'w') as f:
            json.dump({'stamp': stamp, 'defaults': defaults}, f)
        os.replace(cache + '.tmp', cache)
    except OSError:  # a read-only charm directory: parsed again next hook
        pass
    return defaults


def _is_set(value):
    return value is not None and value != ''


def update_config_flags():
    """Set the ``config.*`` flags for this hook.

    ``config.changed`` and ``config.changed.<opt>`` are set for every option whose value
    differs from the one this unit saw at the end of its previous successful hook (all
    options on the first hook); ``config.set.<opt>`` while the option has a non-empty
    value; ``config.default.<opt>`` while it equals the default in config.yaml.

    Runs as a ``hookenv.atstart`` callback: after the reactive handlers (and their
    triggers) are registered, before they are dispatched.
    """
    from charmhelpers.core import hookenv, unitdata
    from charms.reactive import clear_flag, get_flags, set_flag
    config = dict(hookenv.config() or {})
    previous = unitdata.kv().get(CONFIG_SNAPSHOT_KEY)
    defaults = _config_defaults()
    wanted = {}
    for opt in sorted(set(config) | set(defaults)):
        value = config.get(opt)
        if previous is None or opt not in previous or previous[opt] != value:
            wanted['config.changed'] = True
            wanted['config.changed.{}'.format(opt)] = True
        wanted['config.set.{}'.format(opt)] = _is_set(value)
        wanted['config.default.{}'.format(opt)] = opt in defaults and value == defaults[opt]
    # Each set_flag and clear_flag reads every flag from the unit's database: a steady hook,
    # where none of these moves, asks once.
    current = set(get_flags())
    for flag, on in wanted.items():
        if on and flag not in current:
            set_flag(flag)
        elif not on and flag in current:
            clear_flag(flag)
    hookenv.atexit(_finish_config_flags, config)


def _finish_config_flags(config):
    from charmhelpers.core import unitdata
    from charms.reactive import clear_flag, get_flags
    for flag in get_flags():
        if flag == 'config.changed' or flag.startswith('config.changed.'):
            clear_flag(flag)
    unitdata.kv().set(CONFIG_SNAPSHOT_KEY, config)


# Names used by the upstream layer.
init_config_states = update_config_flags


def relation_ids_from_goal_state(endpoint_names):
    """Answer ``relation-ids`` for ``endpoint_names`` from ``goal-state`` when it lists no
    relation on the endpoint: no hook tool call for an endpoint nothing is related to.

    charms.reactive asks ``relation-ids`` for every endpoint of the charm on every hook (one
    hook tool call each); ``goal-state`` (read once per hook, cached, by charms that need the
    unit count) already lists every relation of the application by endpoint name. The hook's
    own relation (``JUJU_RELATION``: its -departed and -broken hooks come after goal state
    dropped it) and any endpoint goal state names are asked as before, as is everything when
    goal-state fails. Call it when the charm's reactive modules load (before
    charms.reactive creates the endpoints).
    """
    from charmhelpers.core import hookenv
    names = frozenset(endpoint_names)
    asked = hookenv.relation_ids

    def relation_ids(reltype=None):
        name = reltype or hookenv.relation_type()
        if name in names and name != hookenv.relation_type():
            try:
                relations = (hookenv.goal_state() or {}).get('relations') or {}
            except Exception:  # goal-state is missing on very old agents
                relations = None
            if relations is not None and not relations.get(name):
                return []
        return asked(reltype)

    if getattr(asked, 'goal_state_endpoints', None) is None:
        relation_ids.goal_state_endpoints = names
        hookenv.relation_ids = relation_ids
