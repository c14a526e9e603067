"""Build tactics of layer:caas-base: vendor the charm's Python dependencies as pure Python, ship
every module a hook imports with its bytecode, and ship the charm's YAML files parsed.

charm-tools' default wheelhouse ships sdists that layer:basic builds into a venv at
install time (minutes, and a compiler in the operator image). Compiled wheels vendored
instead break when the operator's Python differs from the build machine's. This tactic
installs the combined ``wheelhouse.txt`` of all layers into the built charm's ``lib/``,
deletes every compiled extension, and checks that what is left supports Python 3.8+,
declares no missing dependency, and imports without the extensions.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import requirements
from path import Path

from charmtools import utils
from charmtools.build.errors import BuildError
from charmtools.build.tactics import (ConfigYAML, CopyTactic, ExcludeTactic, IgnoreTactic,
                                      LayerYAML, MetadataYAML, WheelhouseTactic)

# Bump when the vendoring steps change, so cached trees from older steps are not reused.
VENDOR_FORMAT = 4
# Juju 2.9's operator image is built from Ubuntu 20.04 (juju's make_functions.sh,
# _base_image): its python3, which runs the hooks, is 3.8 and ignores bytecode of any other
# version. The build compiles for it too when this machine has one.
OPERATOR_PYTHON = (3, 8)
_PY_COMPILE = ('import py_compile, sys\n'
               'for source in sys.argv[1:]:\n'
               '    py_compile.compile(source, doraise=True, invalidation_mode='
               'py_compile.PycInvalidationMode.CHECKED_HASH)\n')
# Operator images run whatever python3 their base provides: focal (3.8) up to 3.12+.
SUPPORTED_PYTHONS = ('3.8', '3.9', '3.10', '3.11', '3.12')
MARKER_ENVIRONMENTS = [
    {'python_version': v, 'python_full_version': v + '.0', 'extra': ''}
    for v in SUPPORTED_PYTHONS
]
COMPILED_SUFFIXES = ('.so', '.pyd', '.dylib')
# Installed by pip --target but meaningless (or harmful) inside a charm's lib/: scripts,
# bytecode, and PyYAML's `_yaml` package, which only re-exports the C extension.
DROP_TOP_LEVEL = ('bin', '__pycache__', '_yaml')
# Vendored for packaging's sake only: no hook imports them (charms.layer.caas_base stands in
# for pkg_resources; pbr is only declared by charmhelpers; on 3.12+, where setuptools' distutils
# is imported, bytecode of the build's Python is not used anyway). Not precompiled.
NOT_IMPORTED_BY_HOOKS = ('setuptools', 'pkg_resources', 'pbr', '_distutils_hack')


def requirement_lines(lines):
    """Requirement lines without comments and blanks, in order."""
    out = []
    for line in lines or []:
        line = line.strip()
        if line and not line.startswith('#'):
            out.append(line.split(' #', 1)[0].strip())
    return out


def _version_of(python):
    try:
        out = subprocess.run([python, '-c', 'import sys; print(*sys.version_info[:2])'],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30,
                             check=True).stdout
        return tuple(int(n) for n in out.split())
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


_operator_python = []


def operator_python():
    """A Python of the operator image's version on this machine, other than the one running the
    build (``$CAAS_BASE_OPERATOR_PYTHON``, ``python3.8`` on PATH, or a pyenv build), or None."""
    if not _operator_python:
        import glob
        found = [os.environ.get('CAAS_BASE_OPERATOR_PYTHON'), shutil.which('python3.8')]
        found += sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/3.8.*/bin/python3.8')),
                        reverse=True)
        chosen = None
        if sys.version_info[:2] != OPERATOR_PYTHON:
            chosen = next((path for path in found
                           if path and _version_of(path) == OPERATOR_PYTHON), None)
        _operator_python.append(chosen)
    return _operator_python[0]


def cache_key(reqs):
    python = operator_python()
    text = json.dumps({'format': VENDOR_FORMAT, 'requirements': reqs,
                       'bytecode-for': [OPERATOR_PYTHON] if python else []})
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:24]


def _canonical(name):
    return name.lower().replace('_', '-').replace('.', '-')


def _metadata(dist_info):
    meta = {'requires_python': None, 'requires_dist': [], 'name': None}
    with open(os.path.join(dist_info, 'METADATA'), encoding='utf-8') as f:
        for line in f:
            if not line.strip():
                break  # headers end at the first blank line
            key, _, value = line.partition(':')
            value = value.strip()
            if key == 'Name':
                meta['name'] = value
            elif key == 'Requires-Python':
                meta['requires_python'] = value
            elif key == 'Requires-Dist':
                meta['requires_dist'].append(value)
    return meta


def check_distributions(target):
    """Fail if a vendored distribution excludes a supported Python or misses a dependency."""
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    dists = {}
    for entry in os.listdir(target):
        if entry.endswith('.dist-info'):
            meta = _metadata(os.path.join(target, entry))
            dists[_canonical(meta['name'])] = meta
    problems = []
    for name, meta in sorted(dists.items()):
        if meta['requires_python']:
            spec = SpecifierSet(meta['requires_python'])
            bad = [v for v in SUPPORTED_PYTHONS if not spec.contains(v + '.0')]
            if bad:
                problems.append('{} requires Python {} (not {})'.format(
                    name, meta['requires_python'], ', '.join(bad)))
        for line in meta['requires_dist']:
            req = Requirement(line)
            if req.marker is not None and not any(
                    Marker(str(req.marker)).evaluate(env) for env in MARKER_ENVIRONMENTS):
                continue
            if _canonical(req.name) not in dists:
                problems.append('{} needs {} (add it to a wheelhouse.txt)'.format(name, line))
    if problems:
        raise BuildError('vendored dependencies unusable:\n  ' + '\n  '.join(problems))
    return sorted(dists)


def strip_compiled(target):
    """Delete compiled extensions and other non-portable files; return what was removed."""
    removed = []
    for name in DROP_TOP_LEVEL:
        p = os.path.join(target, name)
        if os.path.isdir(p):
            shutil.rmtree(p)
            removed.append(name + '/')
    for dirpath, dirnames, filenames in os.walk(target):
        if '__pycache__' in dirnames:
            dirnames.remove('__pycache__')
            shutil.rmtree(os.path.join(dirpath, '__pycache__'))
        for filename in filenames:
            # .pth files only act in site directories, which lib/ is not.
            if filename.endswith(COMPILED_SUFFIXES) or (
                    dirpath == target and filename.endswith('.pth')):
                os.unlink(os.path.join(dirpath, filename))
                removed.append(os.path.relpath(os.path.join(dirpath, filename), target))
    return removed


def top_level_modules(target):
    mods = []
    for entry in sorted(os.listdir(target)):
        full = os.path.join(target, entry)
        if entry.endswith('.py'):
            mods.append(entry[:-3])
        elif os.path.isdir(full) and '.' not in entry and (
                os.path.exists(os.path.join(full, '__init__.py'))):
            mods.append(entry)
    return mods


# Imported with only the standard library and `target` on sys.path; the pure-Python
# fallbacks must be what gets used.
_IMPORT_CHECK = r'''
import importlib, sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
for name in sys.argv[2:]:
    importlib.import_module(name)
import yaml
assert not yaml.__with_libyaml__, "yaml uses libyaml"
import markupsafe
assert markupsafe.escape.__module__ == "markupsafe._native", markupsafe.escape.__module__
'''


def check_imports(target, modules):
    check = _IMPORT_CHECK
    if not os.path.isdir(os.path.join(target, 'yaml')):
        check = check.split('import yaml')[0]
    elif not os.path.isdir(os.path.join(target, 'markupsafe')):
        check = check.split('import markupsafe')[0]
    proc = subprocess.run([sys.executable, '-B', '-I', '-S', '-c', check, target] + modules,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise BuildError('vendored dependencies do not import as pure Python:\n'
                         + proc.stdout.decode('utf-8', 'replace'))


def compile_module(source):
    """Write ``source``'s bytecode beside it (``__pycache__``), hash-checked, for the Python
    running the build and for the operator's (:func:`operator_python`); return their paths."""
    import importlib.util
    import py_compile
    source = str(source)  # path.Path, a str subclass, would reach the code object: unmarshallable
    cfile = importlib.util.cache_from_source(source)
    try:
        py_compile.compile(source, cfile=cfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    except py_compile.PyCompileError as e:
        raise BuildError('{} does not compile with Python {}: {}'.format(
            source, sys.version.split()[0], e.msg)) from None
    cfiles = [cfile]
    python = operator_python()
    if python is not None:
        proc = subprocess.run([python, '-c', _PY_COMPILE, source],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise BuildError('{} does not compile with Python {}.{}:\n{}'.format(
                source, *OPERATOR_PYTHON, proc.stdout.decode('utf-8', 'replace')))
        cfiles.append(os.path.join(os.path.dirname(cfile), '{}.cpython-{}{}.pyc'.format(
            os.path.basename(source)[:-3], *OPERATOR_PYTHON)))
    return cfiles


def precompile(target):
    """Compile the vendored modules hooks import to bytecode of the Python running the build
    and of the operator's (:func:`operator_python`).

    A unit's first hook otherwise compiles them all (each unit has its own copy of the charm):
    a hook's imports took 1.19 s cold and 0.35 s compiled, measured by hand. Hash-checked: the
    bytecode is used whatever times the files get when the charm is unpacked, and never for a
    changed source. An operator running yet another Python version ignores it (another cache
    tag) and compiles as before.
    """
    import compileall
    import py_compile
    import re
    skip = re.compile(r'^{}/({})(/|\.py$)'.format(
        re.escape(target.rstrip(os.sep)), '|'.join(map(re.escape, NOT_IMPORTED_BY_HOOKS))))
    ok = compileall.compile_dir(target, quiet=2, rx=skip, workers=1,
                                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    if not ok:
        raise BuildError('vendored dependencies do not compile with Python {}'.format(
            sys.version.split()[0]))
    python = operator_python()
    if python is not None:
        proc = subprocess.run([python, '-m', 'compileall', '-q', '-q', '-x', skip.pattern,
                               '--invalidation-mode', 'checked-hash', target],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise BuildError('vendored dependencies do not compile with Python {}.{}:\n{}'
                             .format(*OPERATOR_PYTHON, proc.stdout.decode('utf-8', 'replace')))


def vendor(reqs, cache_dir, log):
    """Return a directory holding the pure-Python install of ``reqs``, cached by content."""
    cache_dir = os.path.abspath(os.path.expanduser(cache_dir))
    entry = os.path.join(cache_dir, cache_key(reqs))
    if os.path.exists(os.path.join(entry, '.vendor.json')):
        log.info('Vendored dependencies: cached %s', entry)
        return entry
    os.makedirs(cache_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix='.vendor-', dir=cache_dir)
    try:
        target = os.path.join(work, 'lib')
        req_file = os.path.join(work, 'requirements.txt')
        with open(req_file, 'w') as f:
            f.write('\n'.join(reqs) + '\n')
        env = utils.host_env()
        env.setdefault('PIP_CACHE_DIR', os.path.join(cache_dir, 'pip'))
        log.info('Vendoring %d Python packages (pure Python) into %s',
                 len(reqs), entry)
        # --no-deps: the list is complete and pinned; check_distributions enforces it.
        proc = subprocess.run(
            [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps', '--no-compile',
             '--disable-pip-version-check', '--target', target, '-r', req_file],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise BuildError('pip install failed:\n' + proc.stdout.decode('utf-8', 'replace'))
        removed = strip_compiled(target)
        dists = check_distributions(target)
        modules = top_level_modules(target)
        check_imports(target, modules)
        precompile(target)
        with open(os.path.join(target, '.vendor.json'), 'w') as f:
            json.dump({'requirements': reqs, 'distributions': dists,
                       'removed': removed}, f, indent=1, sort_keys=True)
        os.rename(target, entry)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return entry


class PureVendorTactic(WheelhouseTactic):
    """Install every layer's ``wheelhouse.txt`` into ``lib/`` as pure Python."""

    def __str__(self):
        return 'Vendoring pure-Python dependencies into {}/lib'.format(self.target.directory)

    def __call__(self):
        import logging
        log = logging.getLogger('build')
        self.read()
        reqs = requirement_lines(self.lines)
        for line in reqs:
            next(requirements.parse(line))  # fail early on a malformed line
        cache_dir = os.environ.get('CAAS_BASE_VENDOR_CACHE', '~/.cache/caas-base-vendor')
        if operator_python() is None and sys.version_info[:2] != OPERATOR_PYTHON:
            log.warning('No Python %d.%d on this machine: the charm ships no bytecode for the '
                        'Juju 2.9 operator, whose units compile it in their first hook',
                        *OPERATOR_PYTHON)
        source = vendor(reqs, cache_dir, log)
        lib = Path(self.target.directory) / 'lib'
        self.tracked = []
        for dirpath, dirnames, filenames in os.walk(source):
            rel = os.path.relpath(dirpath, source)
            dest_dir = lib / rel if rel != '.' else lib
            dest_dir.makedirs_p()
            for filename in filenames:
                dest = dest_dir / filename
                if dest.exists() or dest.islink():
                    dest.remove()
                shutil.copy2(os.path.join(dirpath, filename), dest)
                self.tracked.append(dest)
        (Path(self.target.directory) / 'wheelhouse.txt').write_text(
            '# Vendored into lib/ at build time (pure Python):\n' + '\n'.join(reqs) + '\n')

    def sign(self):
        sigs = {'wheelhouse.txt': (self.layer.url, 'dynamic',
                                   utils.sign(self.target.directory / 'wheelhouse.txt'))}
        for dest in self.tracked:
            rel = dest.relpath(self.target.directory)
            sigs[rel] = ('layer:caas-base', 'dynamic', utils.sign(dest))
        return sigs


class CompiledModuleTactic(CopyTactic):
    """Copy a layer's Python module under ``lib/`` or ``reactive/`` and compile it, as
    :func:`precompile` does for the vendored ones: each unit unpacks its own copy of the charm,
    so its first hook (install) compiled every module of the charm and its layers (about
    50, a fifth of that hook on the local model). Ignored and excluded files are left to those
    tactics."""

    ROOTS = ('lib', 'reactive')

    @classmethod
    def trigger(cls, entity, target, layer, next_config):
        relpath = entity.relpath(layer.directory)
        if not relpath.endswith('.py') or relpath.split(os.sep)[0] not in cls.ROOTS:
            return False
        return not any(other.trigger(entity, target, layer, next_config)
                       for other in (IgnoreTactic, ExcludeTactic))

    def __call__(self):
        super().__call__()
        self._bytecode = [Path(cfile) for cfile in compile_module(self.target_file)]

    def sign(self):
        sigs = super().sign()
        compiled = getattr(self, '_bytecode', []) + [
            Path(cfile) for cfile in compile_interfaces(self.target.directory)]
        for bytecode in compiled:
            if bytecode.exists():
                sigs[bytecode.relpath(self.target.directory)] = (
                    self.layer.url, 'dynamic', utils.sign(bytecode))
        return sigs


_interfaces_compiled = set()


def compile_interfaces(charm_dir):
    """Compile the interface layers' modules (``hooks/relations/<interface>/*.py``) as
    :func:`compile_module` does; return the bytecode paths, once per build directory.

    charm-tools copies interface layers whole (``InterfaceCopy``), past any per-file tactic, and
    after the layers' files: they are all in place only once every tactic has been called, so
    this runs in the sign phase. Each unit's first hook otherwise compiled them (9 modules,
    about 45 ms on Python 3.8)."""
    charm_dir = os.path.abspath(str(charm_dir))
    if charm_dir in _interfaces_compiled:
        return []
    _interfaces_compiled.add(charm_dir)
    cfiles = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(charm_dir, 'hooks', 'relations')):
        dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
        for name in sorted(filenames):
            if name.endswith('.py'):
                cfiles += compile_module(os.path.join(dirpath, name))
    return cfiles


# Where the hooks find what the build parsed (charms.layer.caas_base.charm_yaml reads it).
PARSED_DIR = '.parsed'


def write_parsed(yaml_file):
    """Write ``yaml_file``'s data, as PyYAML's ``safe_load`` reads it (the hooks' parser), to
    ``.parsed/<name>.json`` beside it with the SHA-256 of the bytes it was parsed from; return
    that path, or None when JSON cannot hold the data unchanged (the hooks then parse the
    file)."""
    import yaml
    yaml_file = Path(yaml_file)
    text = yaml_file.bytes()
    data = yaml.safe_load(text)
    try:
        if json.loads(json.dumps(data)) != data:
            return None
    except (TypeError, ValueError):  # dates, binary, non-string keys
        return None
    out = yaml_file.parent / PARSED_DIR / (yaml_file.name + '.json')
    out.parent.makedirs_p()
    out.write_text(json.dumps({'sha256': hashlib.sha256(text).hexdigest(), 'data': data},
                              sort_keys=True))
    return out


class _ParsedYAML:
    """Mixin for a tactic that writes one of the charm's YAML files: also write its data as
    JSON (:func:`write_parsed`). The vendored PyYAML is pure Python: every hook parsed
    metadata.yaml (charmhelpers' ``hookenv.metadata``, ~7 ms), and a unit's first hook
    config.yaml and layer.yaml too (~15 ms), each unit having its own copy of the charm."""

    def __call__(self):
        result = super().__call__()
        self._parsed = write_parsed(self.target_file) if self.target_file.isfile() else None
        return result

    def sign(self):
        sigs = super().sign()
        parsed = getattr(self, '_parsed', None)
        if parsed is not None:
            sigs[parsed.relpath(self.target.directory)] = (
                self.layer.url, 'dynamic', utils.sign(parsed))
        return sigs


class ParsedMetadataTactic(_ParsedYAML, MetadataYAML):
    """charm-tools' metadata.yaml merge, and its data as JSON."""


class ParsedConfigTactic(_ParsedYAML, ConfigYAML):
    """charm-tools' config.yaml merge, and its data as JSON."""


class ParsedLayerTactic(_ParsedYAML, LayerYAML):
    """charm-tools' layer.yaml merge, and its data as JSON."""
