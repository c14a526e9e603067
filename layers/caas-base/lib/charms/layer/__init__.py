"""Layer libraries of this charm: ``from charms import layer; layer.status.active('ok')``.

Each ``charms/layer/<name>.py`` shipped by a layer is imported on first attribute access,
so charm code does not need one import line per layer.
"""

import importlib


def __getattr__(name):
    if name.startswith('__'):
        raise AttributeError(name)
    try:
        return importlib.import_module('{}.{}'.format(__name__, name))
    except ModuleNotFoundError as e:
        if e.name != '{}.{}'.format(__name__, name):
            raise
        raise AttributeError('no layer library charms.layer.{}'.format(name)) from None
