"""The action hook tools of Juju 2.9: action-get, action-set, action-fail, action-log.

Arguments are checked first (``Init``: exit code 2), then the context (``Run``: exit code 1);
outside an action every one fails with ``not running an action``
(worker/uniter/runner/jujuc/action-*.go, worker/uniter/runner/context/context.go).
"""

import time

from localmodel import actions
from localmodel.hooktools.args import ToolError, parse
from localmodel.hooktools.commands import out, tool

NOT_IN_ACTION = "not running an action"


def _action(ctx):
    if ctx.action is None:
        raise ToolError(NOT_IN_ACTION)
    return ctx.action


def _check_empty(extra):
    if extra:
        raise ToolError("unrecognized args: [%s]" % " ".join('"%s"' % a for a in extra), rc=2)


def _lookup(params, keys):
    value = params
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


@tool("action-get")
def action_get(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format", "o|output"])
    _check_empty(pos[1:])
    params = _action(ctx).get("params") or {}
    answer = _lookup(params, pos[0].split(".")) if pos else dict(params)
    return out(answer, opts)


@tool("action-set")
def action_set(ctl, ctx, args, stdin, files):
    _, pos = parse(args, [])
    pairs = []
    for arg in pos:
        if "=" not in arg:
            raise ToolError('argument "%s" must be of the form key...=value' % arg, rc=2)
        key, value = arg.split("=", 1)
        keys = key.split(".")
        for k in keys:
            if not actions.NAME_RULE.match(k):
                raise ToolError('key "%s" must start and end with lowercase alphanumeric, and '
                                'contain only lowercase alphanumeric, hyphens and periods' % k,
                                rc=2)
            if k in actions.RESERVED_RESULT_KEYS:
                raise ToolError('cannot set reserved action key "%s"' % k, rc=2)
        pairs.append((keys, value))
    _action(ctx)
    for keys, value in pairs:
        actions.set_dotted(ctx.action_results, keys, value)
    return ""


@tool("action-fail")
def action_fail(ctl, ctx, args, stdin, files):
    _, pos = parse(args, [])
    _check_empty(pos[1:])
    message = pos[0] if pos else \
        "action failed without reason given, check action for errors"
    _action(ctx)
    ctx.action_message = message
    ctx.action_failed = True
    return ""


@tool("action-log")
def action_log(ctl, ctx, args, stdin, files):
    _, pos = parse(args, [])
    if not pos:
        raise ToolError("no message specified", rc=2)
    record = _action(ctx)
    # Progress messages reach the controller at once (LogActionMessage), not at the end.
    record.setdefault("log", []).append([time.time(), " ".join(pos)])
    ctl.save()
    return ""
