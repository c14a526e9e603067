"""layer:caas-base's block-style YAML writer: what it writes reads back as the same data (PyYAML's
YAML 1.1, as Juju's yaml.v2), block style so Juju can append the k8s resources to the spec."""

import importlib.util
import os
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SPEC = importlib.util.spec_from_file_location(
    'block_yaml', os.path.join(ROOT, 'layers', 'caas-base', 'lib', 'charms', 'layer',
                               'block_yaml.py'))
block_yaml = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(block_yaml)

AWKWARD = ['', ' lead', 'trail ', 'multi\nline\n', 'tab\there', 'quote " and \\ back', "it's",
           'yes', 'No', 'on', 'OFF', 'y', 'n', 'null', '~', 'true', '1', '0o17', '0x1f', '1e3',
           '.inf', '.nan', '2026-11-30', '- item', 'a: b', '#comment', '&anchor', '*alias',
           '!tag', '%directive', '@at', '`tick`', '{flow}', '[flow]', '|', '>', '?', ',',
           '\x00nul', '\x07bell', '\x7fdel', '\x85nel', '\u2028ls', 'caf\u00e9', '\U0001F600',
           '\ufeffbom']


def test_awkward_strings_as_values_and_keys_read_back_the_same():
    data = {'values': AWKWARD, 'keys': {text: text for text in AWKWARD if text}}
    assert yaml.safe_load(block_yaml.dump(data)) == data


def test_numbers_booleans_null_and_empty_collections_keep_their_types():
    data = {'int': 6379, 'negative': -1, 'float': 0.25, 'big': 10 ** 20, 'true': True,
            'false': False, 'none': None, 'dict': {}, 'list': [],
            'nested': [[1, [2, []]], {}, {'a': [{'b': {}}]}]}
    assert yaml.safe_load(block_yaml.dump(data)) == data
    assert yaml.safe_load(block_yaml.dump([])) == [] and yaml.safe_load(block_yaml.dump({})) == {}


def test_a_pod_spec_and_its_resources_parse_as_one_document_once_appended():
    sys.path.insert(0, os.path.join(ROOT, 'lib'))
    try:
        from redis_k8s import podspec, settings
    finally:
        sys.path.pop(0)
    parsed = settings.parse({}, 3, app_name='redis-k8s')
    rendered = podspec.render('redis-k8s', 'model', {'registrypath': 'redis:7.0'}, parsed,
                              'redis-k8s-secret', exporter_image={'registrypath': 'exporter:1'})
    spec, resources = block_yaml.dump(rendered.spec), block_yaml.dump(rendered.k8s_resources)
    assert resources.startswith('kubernetesResources:\n')
    assert yaml.safe_load(spec + resources) == dict(rendered.spec, **rendered.k8s_resources)
    # Block style all the way: no flow collection but the empty ones.
    assert not [line for line in (spec + resources).splitlines()
                if line.rstrip().endswith(('{', '[')) or line.lstrip().startswith(('{', '['))]


@pytest.mark.parametrize('data', [{'k': (1, 2)}, {'k': {1, 2}}, {1: 'int key'}, {'k': b'bytes'}])
def test_what_is_not_plain_data_is_refused(data):
    with pytest.raises(TypeError):
        block_yaml.dump(data)
