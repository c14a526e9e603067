"""Layer options of the built charm (``options:`` in its layer.yaml)."""

import os

from .caas_base import charm_yaml


def _load(layer_file=None):
    if layer_file is None:
        charm_dir = os.environ.get('JUJU_CHARM_DIR') or os.environ.get('CHARM_DIR') or '.'
        layer_file = os.path.join(charm_dir, 'layer.yaml')
    if not os.path.exists(layer_file):
        return {}
    return (charm_yaml(layer_file) or {}).get('options') or {}


def get(section=None, option=None, layer_file=None):
    """Return layer options.

    Args:
        section: a layer name (e.g. ``'docker-resource'``); None for all sections.
        option: an option of that layer; None for the whole section.
        layer_file: the layer.yaml to read (default: the charm's).

    Returns:
        All options, one layer's options (``{}`` if unknown), or one value (None if unset).
    """
    if option and not section:
        raise ValueError('option requires a section')
    options = _load(layer_file)
    if section is None:
        return options
    section_options = options.get(section) or {}
    if option is None:
        return section_options
    return section_options.get(option)
