"""Block-style YAML of plain data (dicts, lists, strings, numbers, booleans, None), fast.

``pod-spec-set`` takes YAML and Juju appends the ``--k8s-resources`` file's text to it, so both
must be block style. The vendored PyYAML is pure Python (its C extension is not portable across
operator images): dumping a pod spec of a few hundred nodes took 0.15 s, twice in every hook
that set a spec. Here every string is a YAML double-quoted scalar written by ``json.dumps``
(JSON's escapes are YAML's), mapping keys plain where YAML 1.1 reads them back as the same
string, so the text parses to the same data in PyYAML and in Juju's yaml.v2.
"""

import json
import re

# A key written plain: a word YAML 1.1 would not read as anything but that string.
_PLAIN_KEY = re.compile(r'^[A-Za-z_][A-Za-z0-9_./-]*$')
_NOT_PLAIN = {'y', 'n', 'yes', 'no', 'true', 'false', 'on', 'off', 'null'}
# JSON escapes a character beyond the BMP as a surrogate pair; YAML wants \UXXXXXXXX.
_SURROGATES = re.compile(r'\\ud([89ab][0-9a-f]{2})\\ud([c-f][0-9a-f]{2})')


def _pair_to_code_point(match):
    high, low = int('d' + match.group(1), 16), int('d' + match.group(2), 16)
    return '\\U{:08x}'.format(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def _string(text):
    return _SURROGATES.sub(_pair_to_code_point, json.dumps(text))


def _key(key):
    if not isinstance(key, str):
        raise TypeError('mapping keys must be strings, not {!r}'.format(key))
    if _PLAIN_KEY.match(key) and key.lower() not in _NOT_PLAIN:
        return key
    return _string(key)


def _scalar(value):
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)  # null, true/false, numbers: YAML reads them as such
    raise TypeError('cannot write {!r} as YAML'.format(value))


def _lines(value, indent):
    pad = ' ' * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                yield '{}{}:'.format(pad, _key(key))
                yield from _lines(item, indent + 2)
            else:
                yield '{}{}: {}'.format(pad, _key(key), _inline(item))
    else:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                nested = list(_lines(item, indent + 2))
                yield '{}- {}'.format(pad, nested[0][indent + 2:])
                yield from nested[1:]
            else:
                yield '{}- {}'.format(pad, _inline(item))


def _inline(value):
    if isinstance(value, dict):
        return '{}'
    if isinstance(value, list):
        return '[]'
    return _scalar(value)


def dump(data) -> str:
    """``data`` (a dict or list; tuples are not data) as block-style YAML text ending in a
    newline."""
    if not isinstance(data, (dict, list)) or not data:
        return _inline(data) + '\n'
    return '\n'.join(_lines(data, 0)) + '\n'
