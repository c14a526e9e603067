"""Server side of Juju's hook tools: argument handling, output and errors as in Juju 2.9.

Each tool is ``tool(ctl, ctx, args, stdin, files) -> stdout text`` and raises ``ToolError``.
It runs with the controller lock held; writes that Juju applies at hook end go to ``ctx``.
"""

import yaml

from localmodel import formats, podspec
from localmodel.hooktools.args import ToolError, key_values, parse

STATUSES = ("maintenance", "blocked", "waiting", "active")
TOOLS = {}


def tool(*names):
    def deco(fn):
        for n in names:
            TOOLS[n] = fn
        return fn
    return deco


def out(value, opts):
    return formats.render(value, opts.get("format", "smart"))


def _require_leader(ctl, ctx, message="this unit is not the leader"):
    if not ctl.is_leader(ctx.unit):
        raise ToolError(message)


def _relation(ctl, ctx, opts):
    rid = opts.get("relation")
    if rid is None:
        if ctx.relation_id is None:
            raise ToolError("no relation id specified")
        return ctl.relation(ctx.relation_id)
    num = rid.split(":")[-1]
    rel = ctl.relation(int(num)) if num.isdigit() else None
    if rel is None or ctx.app not in [e["app"] for e in rel["endpoints"]]:
        raise ToolError('invalid value "%s" for option -r: relation not found' % rid, rc=2)
    return rel


def _read_file_arg(files, path, stdin):
    if path == "-":
        return stdin or ""
    if path not in files:
        raise ToolError("open %s: no such file or directory" % path)
    return files[path]


@tool("config-get")
def config_get(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format"], ["a|all"])
    cfg = ctl.config(ctx.app)
    if pos:
        return out(cfg.get(pos[0]), opts)
    if not opts.get("all"):
        cfg = {k: v for k, v in cfg.items() if v is not None}
    return out(cfg, opts)


@tool("is-leader")
def is_leader(ctl, ctx, args, stdin, files):
    opts, _ = parse(args, ["format"])
    return out(ctl.is_leader(ctx.unit), opts)


@tool("leader-get")
def leader_get(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format"])
    data = ctl.app(ctx.app)["leader-settings"]
    if pos and pos[0] != "-":
        return out(data.get(pos[0]), opts)
    return out(dict(data), opts)


@tool("leader-set")
def leader_set(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["file"])
    changes = key_values(pos)
    if "file" in opts:
        changes.update(yaml.safe_load(_read_file_arg(files, opts["file"], stdin)) or {})
    if not ctl.is_leader(ctx.unit):
        raise ToolError("cannot write leadership settings: cannot write settings: not the leader")
    ctl.leader_set(ctx.app, {k: str(v) for k, v in changes.items()})
    return ""


@tool("relation-ids")
def relation_ids(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format"])
    name = pos[0] if pos else None
    if name is None:
        if ctx.relation_id is None:
            raise ToolError("no relation name specified")
        name = ctl.local_endpoint(ctl.relation(ctx.relation_id), ctx.app)
    ids = ["%s:%d" % (name, r["id"]) for r in _context_relations(ctl, ctx.unit, name)]
    return out(sorted(ids), opts)


def _context_relations(ctl, unit, endpoint):
    """The relations in ``unit``'s hook context: Juju's uniter keeps a relation there until
    the unit's relation-broken hook is committed (worker/uniter/relation/statetracker.go,
    CommitHook), so a removed relation is still listed while its departed and broken hooks
    run. A relation the unit is leaving is one it has a relation-broken hook queued for."""
    app = unit.split("/")[0]
    rec = ctl.unit(unit) or {}
    leaving = {e["relation-id"] for e in rec.get("queue", []) if e["hook"] == "relation-broken"}
    out = []
    for rid in sorted(int(k) for k in ctl.state["relations"]):
        rel = ctl.relation(rid)
        if ctl.local_endpoint(rel, app) != endpoint:
            continue
        if rid in leaving or not (rel.get("dying") or rec.get("dying")):
            out.append(rel)
    return out


@tool("relation-list")
def relation_list(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format", "r|relation"], ["app"])
    rel = _relation(ctl, ctx, opts)
    if opts.get("app"):
        return out(ctl.remote_app(rel, ctx.app), opts)
    return out(ctl.joined(ctx.unit, rel["id"]), opts)


@tool("relation-get")
def relation_get(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format", "r|relation"], ["app"])
    rel = _relation(ctl, ctx, opts)
    key = pos[0] if pos else "-"
    rid = "%s:%d" % (ctl.local_endpoint(rel, ctx.app), rel["id"])
    if opts.get("app"):
        target = pos[1] if len(pos) > 1 else (
            ctx.remote_app if ctx.relation_id == rel["id"] and ctx.remote_app
            else ctl.remote_app(rel, ctx.app))
        if target not in [e["app"] for e in rel["endpoints"]]:
            raise ToolError('cannot read settings for application "%s" in relation "%s": '
                            'application "%s": settings not found' % (target, rid, target))
        if target == ctx.app and not ctl.is_leader(ctx.unit) and not rel.get("peer"):
            raise ToolError("permission denied")
        data = dict(rel["data"]["apps"].get(target, {}))
        if target == ctx.app:
            data = ctx.overlay(rel["id"], "app", data)
    else:
        target = pos[1] if len(pos) > 1 else (
            ctx.remote_unit if ctx.relation_id == rel["id"] else None)
        if not target:
            raise ToolError("no unit id specified")
        if target.split("/")[0] not in [e["app"] for e in rel["endpoints"]] or \
                target not in rel["data"]["units"]:
            raise ToolError('cannot read settings for unit "%s" in relation "%s": '
                            'unit "%s": settings not found' % (target, rid, target))
        data = dict(rel["data"]["units"][target])
        if target == ctx.unit:
            data = ctx.overlay(rel["id"], "unit", data)
    if key != "-":
        return out(data.get(key), opts)
    return out(data, opts)


@tool("relation-set")
def relation_set(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format", "r|relation", "file"], ["app"])
    rel = _relation(ctl, ctx, opts)
    changes = {}
    if "file" in opts:
        loaded = yaml.safe_load(_read_file_arg(files, opts["file"], stdin)) or {}
        if not isinstance(loaded, dict):
            raise ToolError("expected YAML map in --file")
        changes.update({k: "" if v is None else str(v) for k, v in loaded.items()})
    changes.update(key_values(pos))
    if opts.get("app") and not ctl.is_leader(ctx.unit):
        raise ToolError("permission denied")
    ctx.relation_set(rel["id"], "app" if opts.get("app") else "unit", changes)
    return ""


@tool("status-get")
def status_get(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format"], ["include-data", "application"])
    if opts.get("application"):
        _require_leader(ctl, ctx, 'finding service status: this unit is not the leader')
        app = ctl.app(ctx.app)
        st = ctl.application_status(ctx.app)
        units = {u: {"status": rec["workload"]["status"], "message": rec["workload"]["message"],
                     "status-data": {}} for u, rec in app["units"].items()}
        return out({"application-status": {"status": st["status"], "message": st["message"],
                                           "status-data": {}, "units": units}}, opts)
    st = ctl.unit(ctx.unit)["workload"]
    if opts.get("include-data") or opts.get("format") in ("json", "yaml"):
        return out({"status": st["status"], "message": st["message"], "status-data": {}}, opts)
    return out(st["status"], opts)


@tool("status-set")
def status_set(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, [], ["application"])
    if not pos:
        raise ToolError("invalid args, require <status> [message] [data]", rc=2)
    status, message = pos[0], " ".join(pos[1:2]) if len(pos) > 1 else ""
    if status not in STATUSES:
        raise ToolError('invalid status "%s", expected one of [%s]'
                        % (status, " ".join(STATUSES)), rc=2)
    if opts.get("application"):
        _require_leader(ctl, ctx)
        ctl.set_app_status(ctx.app, status, message)
    else:
        ctl.set_workload_status(ctx.unit, status, message)
    return ""


@tool("juju-log")
def juju_log(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["l|log-level", "format"], ["debug"])
    level = "DEBUG" if opts.get("debug") else opts.get("log-level", "INFO").upper()
    if not pos:
        raise ToolError("no message specified", rc=2)
    ctl.unit_log(ctx.unit, level, "juju-log", " ".join(pos))
    return ""


@tool("resource-get")
def resource_get(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, [])
    if len(pos) != 1:
        raise ToolError("usage: resource-get <resource name>", rc=2)
    path = ctl.resource_path(ctx.app, pos[0])
    if path is None:
        raise ToolError("could not download resource: HTTP request failed: Get "
                        "https://controller:17070/model/%s/units/%s/resources/%s: "
                        "resource#%s/%s not found"
                        % (ctl.model_uuid, "unit-" + ctx.unit.replace("/", "-"), pos[0],
                           ctx.app, pos[0]))
    return path + "\n"


@tool("pod-spec-set", "k8s-spec-set")
def pod_spec_set(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["file", "k8s-resources"])
    text = _read_file_arg(files, opts["file"], stdin) if "file" in opts else (stdin or "")
    res = _read_file_arg(files, opts["k8s-resources"], stdin) if "k8s-resources" in opts \
        else None
    _require_leader(ctl, ctx)
    try:
        podspec.parse(text, res)
    except podspec.SpecError as e:
        raise ToolError(str(e))
    ctx.pod_spec = (text, res)
    return ""


@tool("pod-spec-get", "k8s-spec-get")
def pod_spec_get(ctl, ctx, args, stdin, files):
    parse(args, [])
    if ctx.pod_spec is not None:
        return ctx.pod_spec[0]
    return ctl.app(ctx.app).get("pod-spec-text") or ""


@tool("k8s-raw-set")
def k8s_raw_set(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["file"])
    text = _read_file_arg(files, opts["file"], stdin) if "file" in opts else (stdin or "")
    _require_leader(ctl, ctx)
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ToolError("yaml: %s" % str(e).splitlines()[0])
    ctx.raw_spec = text
    return ""


@tool("k8s-raw-get")
def k8s_raw_get(ctl, ctx, args, stdin, files):
    parse(args, [])
    return ctx.raw_spec or ctl.app(ctx.app).get("raw-spec") or ""


@tool("network-get")
def network_get(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format", "r|relation"],
                      ["primary-address", "bind-address", "ingress-address", "egress-subnets"])
    if not pos and "relation" not in opts:
        raise ToolError("no arguments specified", rc=2)
    if pos:
        charm = ctl.charm(ctx.app)
        known = set(charm["provides"]) | set(charm["requires"]) | set(charm["peers"]) | \
            set((charm["meta"].get("extra-bindings") or {}))
        if pos[0] not in known:
            raise ToolError('no network config found for binding "%s"' % pos[0])
    # Juju 2.9 (apiserver/facades/agent/uniter/networkinfocaas.go): the unit's addresses are
    # the Service's plus its pod's (the cloud container address, scope machine-local). The
    # machine-local ones are the bind addresses, the others the ingress addresses; the egress
    # subnets are the first ingress address as a /32.
    service = ctl.service_address(ctx.app)
    pod = ctl.unit_pod_address(ctx.unit)
    bound = [{"hostname": "", "address": pod, "cidr": ctl.subnet_cidr, "value": pod}] if pod else []
    info = {"bind-addresses": [{"macaddress": "", "interfacename": "", "addresses": bound}],
            "egress-subnets": [service + "/32"], "ingress-addresses": [service]}
    wanted = [k for k in ("primary-address", "bind-address", "ingress-address",
                          "egress-subnets") if opts.get(k)]
    if not pod and ("primary-address" in wanted or "bind-address" in wanted):
        # jujuc's network-get reads Info[0].Addresses[0]: with no pod address yet it fails.
        raise ToolError('no addresses attached to space for binding "%s"' % pos[0]
                        if pos else "no addresses attached to space")
    values = {"primary-address": pod, "bind-address": pod, "ingress-address": service,
              "egress-subnets": service + "/32"}
    if len(wanted) == 1:
        return out(values[wanted[0]], opts)
    if wanted:
        return out({k: values[k] for k in wanted}, opts)
    return out(info, opts)


@tool("unit-get")
def unit_get(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format"])
    if len(pos) != 1 or pos[0] not in ("private-address", "public-address"):
        raise ToolError('unknown setting "%s"' % (pos[0] if pos else ""), rc=2)
    return out(ctl.service_address(ctx.app), opts)


@tool("application-version-set")
def application_version_set(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, [])
    if len(pos) != 1:
        raise ToolError("no version specified", rc=2)
    ctx.version = pos[0]
    return ""


@tool("goal-state")
def goal_state(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format"])
    return out(ctl.goal_state(ctx.app), opts)


@tool("storage-list")
def storage_list(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format"])
    num = int(ctx.unit.split("/")[1])
    names = [n for n in ctl.charm(ctx.app)["storage"] if not pos or n == pos[0]]
    return out(["%s/%d" % (n, num) for n in names], opts)


@tool("storage-get")
def storage_get(ctl, ctx, args, stdin, files):
    opts, pos = parse(args, ["format", "s"])
    storage = ctl.charm(ctx.app)["storage"]
    sid = opts.get("s") or (sorted(storage) and "%s/0" % sorted(storage)[0])
    name = (sid or "").split("/")[0]
    if name not in storage:
        raise ToolError('storage "%s" not found' % sid)
    info = {"kind": storage[name].get("type", "filesystem"),
            "location": storage[name].get("location", "")}
    if pos:
        return out(info.get(pos[0]), opts)
    return out(info, opts)


@tool("open-port", "close-port", "opened-ports")
def ports(ctl, ctx, args, stdin, files):
    # Kubernetes charms expose ports through the pod spec; Juju accepts these as no-ops here.
    return ""


USAGE = {
    "config-get": ("[options] [<key>]", ["--all, -a", "--format (= smart)",
                                         "--output, -o"]),
    "relation-get": ("[options] <key> <unit id>", ["--app", "--format (= smart)",
                                                   "-r, --relation (= )"]),
    "relation-set": ("[options] key=value [key=value ...]",
                     ["--app", "--file (= )", "--format (= )", "-r, --relation (= )"]),
    "relation-list": ("[options]", ["--app", "--format (= smart)", "-r, --relation (= )"]),
    "relation-ids": ("[options] <name>", ["--format (= smart)"]),
    "pod-spec-set": ("[options] --file <core spec file> [--k8s-resources <k8s spec file>]",
                     ["--file (= -)", "--k8s-resources (= )"]),
    "leader-set": ("[options] <key>=<value> [...]", ["--file (= )"]),
    "status-set": ("[options] <maintenance | blocked | waiting | active> [message]",
                   ["--application"]),
    "juju-log": ("[options] <message>", ["--debug", "--format (= )", "-l, --log-level (= INFO)"]),
    "network-get": ("[options] <binding-name> [--ingress-address] [--bind-address] "
                    "[--egress-subnets]", ["--format (= smart)", "-r, --relation (= )"]),
}


def usage(name):
    summary, options = USAGE.get(name, ("[options]", ["--format (= smart)"]))
    return "Usage: %s %s\n\nSummary:\n%s\n\nOptions:\n%s\n" % (
        name, summary, name, "\n".join(options))


# The action tools register themselves in TOOLS (after ``tool`` exists).
from localmodel.hooktools import actiontools  # noqa: E402,F401


def run(ctl, ctx, name, args, stdin, files):
    """Run tool ``name``; returns ``(rc, stdout, stderr)``."""
    fn = TOOLS.get(name)
    if fn is None:
        return 1, "", "ERROR unknown hook tool %s\n" % name
    if "--help" in args or "-h" in args:
        return 0, usage(name), ""
    try:
        return 0, fn(ctl, ctx, args, stdin, files), ""
    except ToolError as e:
        return e.rc, "", "ERROR %s\n" % e
