"""Juju 2.9 actions without any process: actions.yaml, parameter validation, CLI values, output.

Everything here is plain data in, data out, so it is tested directly. The model's controller
(``actionops``) queues and runs actions; the CLI (``actioncli``) prints them.

Sources (Juju 2.9, charm v8):

- ``actions.yaml`` becomes one JSON-Schema object per action (``ReadActionsYaml``): ``title`` is
  the name, ``description`` defaults to "No description", ``params`` become ``properties``;
  ``required``, ``additionalProperties`` and any other key are kept as given. An absent
  ``additionalProperties`` allows extra parameters in Juju 2.9 and 3 (juju/juju#21294: Juju 4
  flipped the default with juju/charm#424).
- ``Unit.PrepareActionPayload`` (state/unit.go): an unknown action is
  ``action "X" not defined on unit "U"``; the params are validated, then the schema's defaults
  inserted.
- The validation messages are juju/gojsonschema's, joined by ``; `` after ``validation failed: ``
  (charm ``ActionSpec.ValidateParams`` and its tests).
"""

import json
import re
import time

import yaml

# charm.GetActionNameRule(): action names, run-action keys and action-set keys.
NAME_RULE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
PROHIBITED_SCHEMA_KEYS = ("$ref", "$schema")
# action-set refuses these (juju/juju#13748, in 2.9 since early 2022).
RESERVED_RESULT_KEYS = ("stdout", "stdout-encoding", "stderr", "stderr-encoding")
STATUSES_DONE = ("completed", "failed", "cancelled", "aborted")


class ActionsError(Exception):
    """An actions.yaml Juju would refuse, or parameters it would refuse."""


# ---- actions.yaml ---------------------------------------------------------------------------

def _cleanse(value):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ActionsError("map keyed with non-string value")
            if key in PROHIBITED_SCHEMA_KEYS:
                raise ActionsError('schema key "%s" not compatible with this version of juju'
                                   % key)
            out[key] = _cleanse(item)
        return out
    if isinstance(value, list):
        return [_cleanse(item) for item in value]
    return value


def parse_actions_yaml(text):
    """The action specs of an ``actions.yaml`` text: ``{name: schema}`` (charm v8
    ``ReadActionsYaml``). Each schema is the JSON-Schema object the parameters are checked
    against, with ``description`` also the action's description."""
    data = yaml.safe_load(text) if text and text.strip() else None
    data = data or {}
    if not isinstance(data, dict):
        raise ActionsError("actions.yaml is not a map of actions")
    specs = {}
    for name, raw in data.items():
        if not isinstance(name, str) or not NAME_RULE.match(name):
            raise ActionsError("bad action name %s" % name)
        schema = {"description": "No description", "type": "object", "title": name,
                  "properties": {}}
        for key, value in (raw or {}).items():
            if key in ("description", "title"):
                if not isinstance(value, str):
                    raise ActionsError('value for schema key "%s" must be a string' % key)
                schema[key] = value
            elif key == "required":
                if not isinstance(value, list):
                    raise ActionsError('value for schema key "%s" must be a YAML list' % key)
                schema[key] = value
            elif key == "params":
                value = _cleanse(value or {})
                if not isinstance(value, dict):
                    raise ActionsError("params failed to parse as a map")
                schema["properties"] = value
            elif key in ("parallel", "execution-group"):
                continue  # read by Juju 2.9, not used by its uniter (runner.go TODO)
            else:
                schema[key] = _cleanse(value)
        specs[name] = schema
    return specs


# ---- validation (juju/gojsonschema wording) -------------------------------------------------

def go_json(value):
    """``value`` as Go's ``json.Marshal`` writes it: compact, sorted keys, <>& escaped, whole
    floats without a fraction (parameters cross Juju's API as JSON numbers, float64)."""
    def norm(v):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v
    text = json.dumps(norm(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _is_type(value, kind):
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or \
            (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return {"string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
            "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
            "null": lambda v: v is None}.get(kind, lambda v: True)(value)


def _validate(schema, value, where, errors):
    if not isinstance(schema, dict):
        return
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is_type(value, k) for k in kinds):
            errors.append("%s : must be of type %s, given %s"
                          % (where, ",".join(kinds), go_json(value)))
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s : must match one of the enum values [%s], given %s"
                      % (where, " ".join(go_json(e) for e in schema["enum"]), go_json(value)))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append("%s : must be greater than or equal to %s, given %s"
                          % (where, go_json(schema["minimum"]), go_json(value)))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append("%s : must be less than or equal to %s, given %s"
                          % (where, go_json(schema["maximum"]), go_json(value)))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append("%s : string length must be greater than or equal to %d, given %s"
                          % (where, schema["minLength"], go_json(value)))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append("%s : string length must be less than or equal to %d, given %s"
                          % (where, schema["maxLength"], go_json(value)))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append('%s : does not match pattern "%s", given %s'
                          % (where, schema["pattern"], go_json(value)))
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                errors.append('%s : "%s" property is missing and required, given %s'
                              % (where, name, go_json(value)))
        if schema.get("additionalProperties") is False:
            for name in sorted(value):
                if name not in props:
                    errors.append('%s : additional property "%s" is not allowed, given %s'
                                  % (where, name, go_json(value)))
        for name in sorted(props):
            if name in value:
                _validate(props[name], value[name], "%s.%s" % (where, name), errors)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _validate(schema["items"], item, "%s.%d" % (where, i), errors)


def validate(schema, params):
    """Check ``params`` against an action's ``schema``; returns the error message Juju gives
    (``validation failed: ...``) or None."""
    errors = []
    _validate(schema, params or {}, "(root)", errors)
    return "validation failed: " + "; ".join(errors) if errors else None


def insert_defaults(schema, params):
    """``params`` with the schema's ``default`` values added where a property is absent,
    recursing into object properties (gojsonschema ``InsertDefaults``)."""
    out = dict(params or {})
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if name not in out and "default" in prop:
            out[name] = prop["default"]
        if isinstance(out.get(name), dict) and prop.get("properties"):
            out[name] = insert_defaults(prop, out[name])
    return out


def prepare(specs, unit, name, params):
    """What ``Unit.PrepareActionPayload`` does: the payload to run, or ``ActionsError``."""
    if not specs:
        raise ActionsError('no actions defined on charm "local:kubernetes/%s"'
                           % unit.split("/")[0])
    schema = specs.get(name)
    if schema is None:
        raise ActionsError('action "%s" not defined on unit "%s"' % (name, unit))
    message = validate(schema, params)
    if message:
        raise ActionsError(message)
    return insert_defaults(schema, params)


# ---- CLI values (gopkg.in/yaml.v2 scalars) --------------------------------------------------

_GO_BOOL = {"y": True, "Y": True, "yes": True, "Yes": True, "YES": True, "on": True,
            "On": True, "ON": True, "true": True, "True": True, "TRUE": True,
            "n": False, "N": False, "no": False, "No": False, "NO": False, "off": False,
            "Off": False, "OFF": False, "false": False, "False": False, "FALSE": False}
_GO_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def yaml_value(text):
    """A ``key=value`` value as ``juju run-action`` reads it: YAML (yaml.v2), so ``3`` is an
    int, ``true`` and ``y`` are booleans, ``[a, b]`` a list; an empty value stays ``""``."""
    if text == "":
        return ""
    if text in _GO_BOOL:
        return _GO_BOOL[text]
    if text in ("~", "null", "Null", "NULL"):
        return None
    plain = text.replace("_", "")
    if re.match(r"^[-+]?0[0-7]+$", plain):
        return int(plain, 8)
    if re.match(r"^[-+]?(0x[0-9a-fA-F]+|0o[0-7]+|0b[01]+|[0-9]+)$", plain):
        return int(plain, 0)
    if _GO_FLOAT.match(plain):
        return float(plain)
    return _load(text)


def _load(text):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ActionsError("yaml: %s" % str(e).splitlines()[0])


def set_dotted(target, keys, value):
    """``addValueToMap``: put ``value`` at ``keys`` in nested maps, replacing non-maps."""
    for key in keys[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[keys[-1]] = value


def parse_key_values(args, string_args=False, base=None):
    """``juju run-action`` ``key.key=value`` arguments over ``base`` (the --params file)."""
    params = dict(base or {})
    for arg in args:
        if "=" not in arg:
            raise ActionsError('argument "%s" must be of the form key...=value' % arg)
        key, value = arg.split("=", 1)
        keys = key.split(".")
        for k in keys:
            if not NAME_RULE.match(k):
                raise ActionsError('key "%s" must start and end with lowercase alphanumeric, '
                                   'and contain only lowercase alphanumeric and hyphens' % k)
        set_dotted(params, keys, value if string_args else yaml_value(value))
    return params


# ---- output ---------------------------------------------------------------------------------

def go_time(seconds):
    """A timestamp as the 2.9 client prints it in UTC: ``2006-01-02 15:04:05 +0000 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(seconds))


def convert_output(results):
    """``ConvertActionOutput`` in the 2.9 compatible form (cmd/juju/action/showoutput.go):
    ``Stdout``/``Stderr`` when not empty, the exit code as ``ReturnCode`` only when it is not
    0; the uniter's ``Code`` key itself is not shown."""
    values = dict(results)
    code = values.pop("Code", None)
    for key in ("Stdout", "Stderr"):
        if not values.get(key):
            values.pop(key, None)
        else:
            values[key] = values[key].replace("\r\n", "\n")
    if code not in (None, "") and str(code).lstrip("-").isdigit() and int(code) != 0:
        values["ReturnCode"] = int(code)
    return values


def format_result(record):
    """``FormatActionResult(id, result, utc=false, compat=true)`` of one action record."""
    out = {"id": record["id"], "status": record["status"], "UnitId": record["unit"]}
    if record.get("message"):
        out["message"] = record["message"]
    results = convert_output(record.get("results") or {})
    if results:
        out["results"] = results
    if record.get("log"):
        out["log"] = ["%s %s" % (go_time(ts), msg) for ts, msg in record["log"]]
    timing = {k: go_time(record[k]) for k in ("enqueued", "started", "completed")
              if record.get(k) is not None}
    if timing:
        out["timing"] = timing
    return out


class _GoDumper(yaml.SafeDumper):
    pass


def _represent_str(dumper, text):
    """yaml.v2 style: plain where it reads back as the same string, else double quotes;
    multi-line strings as literal blocks."""
    tag = "tag:yaml.org,2002:str"
    if "\n" in text:
        return dumper.represent_scalar(tag, text, style="|")
    try:
        same = yaml.safe_load(text) == text and text.strip() == text and text != ""
    except yaml.YAMLError:
        same = False
    if text in _GO_BOOL:
        same = False
    return dumper.represent_scalar(tag, text, style=None if same else '"')


_GoDumper.add_representer(str, _represent_str)


def go_yaml(value):
    """YAML as Juju's client prints it (sorted keys, yaml.v2 quoting)."""
    return yaml.dump(value, Dumper=_GoDumper, default_flow_style=False, sort_keys=True,
                     allow_unicode=True)


def parse_duration(text):
    """Go ``time.ParseDuration`` (``1h2m3.5s``, ``500ms``); seconds as a float."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
             "h": 3600.0}
    sign = -1.0 if text.startswith("-") else 1.0
    rest = text.lstrip("+-")
    if rest == "0":
        return 0.0
    parts = re.findall(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)", rest)
    if not rest or "".join(a + b for a, b in parts) != rest:
        raise ActionsError('time: invalid duration "%s"' % text)
    return sign * sum(float(n) * units[u] for n, u in parts)
