"""layer:caas-base's build tactic refuses dependency sets that would break at runtime."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'layers', 'caas-base'))

import caas_base_build as vendor  # noqa: E402
from charmtools.build.errors import BuildError  # noqa: E402


def dist(target, name, version='1.0', requires_python=None, requires=()):
    info = os.path.join(target, '{}-{}.dist-info'.format(name.replace('-', '_'), version))
    os.makedirs(info)
    lines = ['Metadata-Version: 2.1', 'Name: ' + name, 'Version: ' + version]
    if requires_python:
        lines.append('Requires-Python: ' + requires_python)
    lines += ['Requires-Dist: ' + r for r in requires]
    with open(os.path.join(info, 'METADATA'), 'w') as f:
        f.write('\n'.join(lines) + '\n\nDescription with Requires-Dist: nothing\n')


def test_complete_set_for_python_38_passes(tmp_path):
    dist(str(tmp_path), 'redis', requires_python='>=3.7', requires=[
        'async-timeout>=4.0.3; python_full_version < "3.11.3"',
        'hiredis>1.0.0; extra == "hiredis"'])
    dist(str(tmp_path), 'async-timeout', requires_python='>=3.7')
    assert vendor.check_distributions(str(tmp_path)) == ['async-timeout', 'redis']


def test_missing_dependency_for_an_old_python_fails(tmp_path):
    dist(str(tmp_path), 'redis', requires=[
        'async-timeout>=4.0.3; python_full_version < "3.11.3"'])
    with pytest.raises(BuildError, match='redis needs async-timeout'):
        vendor.check_distributions(str(tmp_path))


def test_release_dropping_python_38_fails(tmp_path):
    dist(str(tmp_path), 'MarkupSafe', '3.0.2', requires_python='>=3.9')
    with pytest.raises(BuildError, match=r'markupsafe requires Python >=3.9 \(not 3.8\)'):
        vendor.check_distributions(str(tmp_path))


def test_strip_compiled_removes_extensions_bytecode_scripts_and_pth(tmp_path):
    t = str(tmp_path)
    for rel in ('yaml/__init__.py', 'yaml/_yaml.cpython-311-x86_64-linux-gnu.so',
                'yaml/__pycache__/x.pyc', 'bin/pbr', '_yaml/__init__.py',
                'distutils-precedence.pth', 'pkg/data/keep.pth'):
        os.makedirs(os.path.dirname(os.path.join(t, rel)) or t, exist_ok=True)
        open(os.path.join(t, rel), 'w').close()
    removed = vendor.strip_compiled(t)
    left = sorted(os.path.relpath(os.path.join(d, f), t)
                  for d, _, fs in os.walk(t) for f in fs)
    assert left == ['pkg/data/keep.pth', 'yaml/__init__.py']
    assert 'yaml/_yaml.cpython-311-x86_64-linux-gnu.so' in removed


def test_requirement_lines_and_cache_key():
    lines = ['# layer:caas-base', 'PyYAML==6.0.2', '', 'redis==5.0.8  # comment']
    assert vendor.requirement_lines(lines) == ['PyYAML==6.0.2', 'redis==5.0.8']
    assert vendor.cache_key(['a==1']) != vendor.cache_key(['a==2'])
    assert vendor.cache_key(['a==1']) == vendor.cache_key(['a==1'])
