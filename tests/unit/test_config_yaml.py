import os

import yaml

from redis_k8s import settings

CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "config.yaml")
TYPES = {int: "int", str: "string", bool: "boolean"}


def options():
    with open(CONFIG) as f:
        return yaml.safe_load(f)["options"]


def test_config_yaml_declares_every_option_with_the_parser_defaults():
    opts = options()
    assert set(opts) == set(settings.DEFAULTS)
    for name, default in settings.DEFAULTS.items():
        assert opts[name]["type"] == TYPES[type(default)], name
        assert opts[name]["default"] == default, name
        assert len(opts[name]["description"]) > 40, name


def test_config_yaml_defaults_are_valid():
    settings.parse({name: o["default"] for name, o in options().items()}, 3)
