"""``run-action`` and ``show-action-output`` as Juju 2.9's client parses and prints them.

Sources: cmd/juju/action/runaction.go (arguments, ``--params``, ``--string-args``, ``--wait``,
the "Action queued with id" line, the ``unit-<app>-<n>:`` map with ``--wait``) and
cmd/juju/action/showoutput.go (``--wait`` given as a duration, seconds when it has no unit,
``FormatActionResult`` in its 2.9 compatible form, progress messages on stderr).
"""

import argparse
import json
import re
import sys
import time

import yaml

from localmodel import actions
from localmodel.client import ModelError

COMMANDS = ("run-action", "show-action-output")
UNIT_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*/([0-9]+|leader)$")


def add_parsers(sub):
    s = sub.add_parser("run-action", help="queue an action for execution (juju run-action)")
    s.add_argument("args", nargs=argparse.REMAINDER)
    s = sub.add_parser("show-action-output", help="show the results of an action")
    s.add_argument("args", nargs=argparse.REMAINDER)


def _flags(argv, with_value, bools, optional=()):
    """gnuflag-style: flags anywhere, ``--f v``, ``--f=v``; ``optional`` flags only take a
    value with ``=``. Returns ``(flags, positionals)``."""
    flags, pos, i = {}, [], 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.lstrip("-").partition("=")
        if not arg.startswith("-") or arg == "-":
            pos.append(arg)
        elif arg == "--":
            pos += argv[i + 1:]
            break
        elif name in with_value:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise ModelError("flag needs an argument: %s" % arg)
                value = argv[i]
            flags[name] = value
        elif name in bools or name in optional:
            flags[name] = value if eq else True
        else:
            raise ModelError("flag provided but not defined: %s" % arg.split("=")[0])
        i += 1
    return flags, pos


def _write(value, fmt):
    if fmt == "json":
        sys.stdout.write(json.dumps(value) + "\n")
    else:
        sys.stdout.write(actions.go_yaml(value))


def run_action(argv, m):
    flags, pos = _flags(argv, ("params", "format", "o", "output"), ("string-args",),
                        optional=("wait",))
    units, name = [], None
    for i, arg in enumerate(pos):
        if UNIT_RE.match(arg):
            units.append(arg)
        elif actions.NAME_RULE.match(arg):
            name = arg
            break
        else:
            raise ModelError('invalid unit or action name "%s"' % arg)
    if not units:
        raise ModelError("no unit specified")
    if name is None:
        raise ModelError("no action specified")
    wait = flags.get("wait")
    wait = None if wait is None else 0.0 if wait is True else actions.parse_duration(wait)
    if wait is not None and 0 < wait < 0.001:
        raise ModelError("timeout must be greater or equal to 1 ms")
    base = {}
    if "params" in flags:
        try:
            with open(flags["params"]) as handle:
                base = yaml.safe_load(handle) or {}
        except OSError as e:
            raise ModelError(str(e))
        if not isinstance(base, dict):
            raise ModelError("params must contain a YAML map with string keys")
    try:
        params = actions.parse_key_values(pos[len(units) + 1:], bool(flags.get("string-args")),
                                          base)
    except actions.ActionsError as e:
        raise ModelError(str(e))
    ids = [(unit, m.run_action(unit, name, params)) for unit in units]
    fmt = flags.get("format", "yaml")
    if wait is None:
        if len(ids) == 1:
            _write({"Action queued with id": ids[0][1]}, fmt)
        else:
            _write({_tag(m, action_id): {"id": action_id, "unit": _unit(m, action_id)}
                    for _, action_id in ids}, fmt)
        return 0
    out = {}
    deadline = time.time() + wait if wait else None
    for _, action_id in ids:
        left = max(deadline - time.time(), 0.001) if deadline else 0
        try:
            record = m.show_action_output(action_id, wait=left)
        except TimeoutError:
            raise ModelError("timeout reached")
        out["unit-" + record["unit"].replace("/", "-")] = actions.format_result(record)
    _write(out, fmt)
    return 0


def _unit(m, action_id):
    return m.show_action_output(action_id)["unit"]


def _tag(m, action_id):
    return "unit-" + _unit(m, action_id).replace("/", "-")


def show_action_output(argv, m):
    flags, pos = _flags(argv, ("wait", "format", "o", "output"), ("watch", "utc"))
    legacy = flags.get("wait", "-1s")
    if not re.search(r"[a-zA-Z]$", legacy):
        legacy += "s"
    wait = actions.parse_duration(legacy)
    if flags.get("watch"):
        if "wait" in flags:
            raise ModelError("specify either --watch or --wait but not both")
        wait = 0.0
    if not pos:
        raise ModelError("no action ID specified")
    if len(pos) > 1:
        raise ModelError("unrecognized args: [%s]" % " ".join('"%s"' % a for a in pos[1:]))
    action_id = pos[0]
    record = m.show_action_output(action_id)
    if wait >= 0 and record["status"] in ("pending", "running"):
        shown, deadline = 0, time.time() + wait if wait else None
        while record["status"] in ("pending", "running"):
            # Progress messages go to stderr as they come (WatchActionProgress).
            for ts, msg in record.get("log", [])[shown:]:
                sys.stderr.write("%s %s\n" % (actions.go_time(ts), msg))
            shown = len(record.get("log", []))
            if deadline and time.time() > deadline:
                raise ModelError("timeout reached")
            time.sleep(0.1)
            record = m.show_action_output(action_id)
        for ts, msg in record.get("log", [])[shown:]:
            sys.stderr.write("%s %s\n" % (actions.go_time(ts), msg))
        if record.get("log"):
            sys.stderr.write("\n")
    _write(actions.format_result(record), flags.get("format", "yaml"))
    return 0


def run(args, m):
    if args.command == "run-action":
        return run_action(args.args, m)
    return show_action_output(args.args, m)
