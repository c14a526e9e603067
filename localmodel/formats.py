"""Output formats of Juju's hook tools and CLI: smart, yaml, json."""

import json

import yaml


def render(value, fmt="smart"):
    if fmt == "json":
        return json.dumps(value) + "\n"
    if fmt == "yaml":
        if value is None:
            return ""
        return yaml.safe_dump(value, default_flow_style=False, sort_keys=True)
    if value is None:
        return ""
    if isinstance(value, bool):
        return ("True" if value else "False") + "\n"
    if isinstance(value, (str, int, float)):
        return "%s\n" % value
    if isinstance(value, list):
        return "".join("%s\n" % v for v in value)
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True)
