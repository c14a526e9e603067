"""Reading a charm directory: metadata.yaml, config.yaml and the hooks it ships."""

import os

import yaml


class CharmError(Exception):
    pass


def load(charm_dir):
    """Return ``{"name", "meta", "options", "storage", "resources", "peers"}`` of a charm dir."""
    path = os.path.join(charm_dir, "metadata.yaml")
    if not os.path.isfile(path):
        raise CharmError("no metadata.yaml in %s" % charm_dir)
    with open(path) as f:
        meta = yaml.safe_load(f) or {}
    options = {}
    cpath = os.path.join(charm_dir, "config.yaml")
    if os.path.isfile(cpath):
        with open(cpath) as f:
            options = (yaml.safe_load(f) or {}).get("options") or {}
    return {"name": meta.get("name") or os.path.basename(os.path.abspath(charm_dir)),
            "meta": meta, "options": options,
            "storage": meta.get("storage") or {},
            "resources": meta.get("resources") or {},
            "peers": meta.get("peers") or {},
            "provides": meta.get("provides") or {},
            "requires": meta.get("requires") or {}}


def endpoint(charm, name):
    """``(role, interface)`` of an endpoint, or None."""
    for role in ("provides", "requires", "peers"):
        if name in charm[role]:
            return role, (charm[role][name] or {}).get("interface")
    return None


def coerce(options, key, value):
    """Convert a CLI string to the option's declared type, as ``juju config`` does."""
    if key not in options:
        raise CharmError('unknown option "%s"' % key)
    kind = (options[key] or {}).get("type", "string")
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "boolean":
            low = value.lower()
            if low in ("true", "yes", "y", "on", "1"):
                return True
            if low in ("false", "no", "n", "off", "0"):
                return False
            raise ValueError(value)
    except ValueError:
        raise CharmError('option "%s" expected %s, got "%s"' % (key, kind, value))
    return value


def effective_config(options, values):
    out = {}
    for k, o in options.items():
        out[k] = (o or {}).get("default")
    out.update(values)
    return out
