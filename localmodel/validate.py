"""Validate Kubernetes objects against the OpenAPI schemas shipped with kubernetes-validate.

kubernetes-validate 1.31 needs jsonschema >= 4.18 (``referencing``); the dev venv pins
jsonschema 4.17 (charm-tools), so this resolves the schema references the 4.17 way when the
library's own ``validate`` cannot run.
"""

import json
import os
import re

import jsonschema
import kubernetes_validate
import yaml

SCHEMAS = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")


def _schema_dir(version, strict):
    return os.path.join(SCHEMAS, "v%s-local%s" % (version, "-strict" if strict else ""))


def validate(obj, version="1.31.0", strict=True):
    """Raise ``jsonschema.ValidationError`` if ``obj`` is not a valid Kubernetes object."""
    try:
        kubernetes_validate.validate(obj, version, strict)
        return
    except TypeError:
        pass  # jsonschema too old for the library: resolve references ourselves
    except kubernetes_validate.ValidationError as e:
        raise jsonschema.ValidationError("%s: %s" % (".".join(map(str, e.path)), e.message))
    d = _schema_dir(version, strict)
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", obj["apiVersion"])
    with open(os.path.join(d, "%s-%s.json" % (obj["kind"].lower(), api))) as f:
        schema = json.load(f)
    with open(os.path.join(d, "_definitions.json")) as f:
        defs = json.load(f)
    resolver = jsonschema.RefResolver(base_uri="file:///api/object.json", referrer=schema,
                                      store={"file:///api/_definitions.json": defs})
    jsonschema.Draft202012Validator(schema, resolver=resolver).validate(obj)


def validate_text(text, version="1.31.0", strict=True):
    """Validate every YAML document of ``text``; returns the number of objects."""
    n = 0
    for obj in yaml.safe_load_all(text):
        if obj is None:
            continue
        validate(obj, version, strict)
        n += 1
    return n
