"""juju-like command line of the local model: ``python -m localmodel COMMAND ...``."""

import argparse
import json
import sys

import yaml

from localmodel import actioncli, images, operatorpython
from localmodel.client import Model, ModelError, default_subnet
from localmodel.paths import home_from_env


def _kv(items):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ModelError('expected "key=value", got "%s"' % item)
        k, v = item.split("=", 1)
        out[k] = v
    return out


def tabular(st):
    lines = ["Model       Controller  Cloud/Region          Version",
             "%-11s localmodel  localmodel/localhost  %s" % (st["model"]["name"],
                                                             st["model"]["version"]), "",
             "App  Version  Status  Scale  Charm  Rev  Address  Message"]
    rows = []
    for app, a in st["applications"].items():
        s = a["application-status"]
        rows.append([app, a["version"] or "", s["current"], str(a["scale"]), a["charm"],
                     str(a["charm-rev"]), a["address"], s["message"]])
    units = [["Unit", "Workload", "Agent", "Address", "Ports", "Message"]]
    for app, a in st["applications"].items():
        for u, r in a["units"].items():
            units.append([u + ("*" if r["leader"] else ""), r["workload-status"]["current"],
                          r["juju-status"]["current"], r["address"], "",
                          r["workload-status"]["message"] or r["juju-status"]["message"]])
    pods = [["Pod", "Phase", "Ready", "Address", "Restarts"]]
    for name, p in st["pods"].items():
        pods.append([name, p["phase"], str(p["ready"]), p["address"],
                     str(sum(c["restarts"] for c in p["containers"].values()))])

    def table(rows):
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines = lines[:3] + table([lines[3].split()] + rows) + [""] + table(units) + [""] + \
        table(pods)
    if st["relations"]:
        lines += ["", "Relation provider  Requirer  Interface  Type"]
        for r in st["relations"]:
            eps = r["endpoints"]
            lines.append("%s  %s  %s  %s" % (eps[0], eps[-1], r["interface"],
                                             "peer" if r["peer"] else "regular"))
    return "\n".join(lines) + "\n"


def build_parser():
    p = argparse.ArgumentParser(prog="localmodel", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("up", help="create the model and start its controller")
    s.add_argument("--model", default="localmodel")
    s.add_argument("--subnet", default=None, help="127.N (default derived from the home)")
    s.add_argument("--update-status-interval", type=float, default=300.0)
    s.add_argument("--retry-delay", type=float, default=5.0,
                   help="first retry delay of a failed hook (doubles, max 300s)")
    s.add_argument("--cluster-domain", default="cluster.local",
                   help="the Kubernetes cluster domain names resolve under")
    s.add_argument("--volume-sync-delay", type=float, default=60.0,
                   help="the most seconds a ConfigMap/Secret change takes to reach a running "
                        "pod's files (each pod at its own moment)")
    s = sub.add_parser("deploy")
    s.add_argument("charm_dir")
    s.add_argument("app", nargs="?")
    s.add_argument("-n", "--num-units", type=int, default=1)
    s.add_argument("--resource", action="append", default=[])
    s.add_argument("--config", action="append", default=[])
    s = sub.add_parser("config")
    s.add_argument("app")
    s.add_argument("settings", nargs="*")
    s.add_argument("--reset", action="append", default=[])
    s.add_argument("--format", choices=["yaml", "json"], default="yaml")
    for name in ("relate", "remove-relation"):
        s = sub.add_parser(name)
        s.add_argument("a")
        s.add_argument("b")
    s = sub.add_parser("scale")
    s.add_argument("app")
    s.add_argument("n", type=int)
    s = sub.add_parser("move-leader", help="not in Juju: move the leadership lease to a unit")
    s.add_argument("app")
    s.add_argument("unit")
    s = sub.add_parser("remove-application")
    s.add_argument("app")
    s = sub.add_parser("attach-resource")
    s.add_argument("app")
    s.add_argument("resource")
    s = sub.add_parser("upgrade")
    s.add_argument("app")
    s.add_argument("charm_dir")
    s = sub.add_parser("status")
    s.add_argument("--format", choices=["json", "yaml", "tabular"], default="tabular")
    s = sub.add_parser("debug-log")
    s.add_argument("--lines", "-n", type=int, default=None)
    s = sub.add_parser("run", help="juju-run: in the unit's pod, or with --operator in the "
                       "operator")
    s.add_argument("--operator", action="store_true")
    s.add_argument("unit")
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.add_argument("--timeout", type=float, default=None)
    actioncli.add_parsers(sub)
    s = sub.add_parser("restart-operator", help="not in Juju: restart an application's "
                       "operator pod (no persistent storage)")
    s.add_argument("app")
    for name in ("pod-spec", "manifests"):
        s = sub.add_parser(name)
        s.add_argument("app")
    s = sub.add_parser("kill")
    s.add_argument("pod")
    s.add_argument("container", nargs="?")
    s = sub.add_parser("exec", help="run a command in a pod's container (kubectl exec)")
    s.add_argument("pod")
    s.add_argument("-c", "--container", default=None)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s = sub.add_parser("partition", help="not in Juju: cut a pod off from every other pod "
                       "(both ways); clients that are not pods still reach it")
    s.add_argument("pod")
    s.add_argument("--heal", action="store_true", help="undo the partition")
    s = sub.add_parser("heal", help="not in Juju: undo `partition POD`")
    s.add_argument("pod")
    s = sub.add_parser("delete-pod")
    s.add_argument("pod")
    s = sub.add_parser("wait")
    s.add_argument("--timeout", type=float, default=300)
    sub.add_parser("down")
    s = sub.add_parser("image", help="the image store shared by the models of this machine")
    s.add_argument("action", choices=["build", "list"])
    s.add_argument("names", nargs="*", help="recipe names or image references (default: all)")
    return p


def run(args, m):
    c = args.command
    if c == "up":
        started = m.up(args.model, args.subnet or default_subnet(m.home),
                       args.update_status_interval, args.retry_delay,
                       cluster_domain=args.cluster_domain,
                       volume_sync_delay=args.volume_sync_delay)
        st = m.status()["model"]
        print("model %s %s at %s (subnet %s.0.0/16; hooks on Python %s)"
              % (st["name"], "up" if started else "already up", m.home, st["subnet"],
                 st["operator-python"]))
        wanted = "%d.%d" % operatorpython.VERSION
        if not (st["operator-python"] or "").startswith(wanted + "."):
            print("warning: no Python %s here (Juju 2.9's operator has %s): hooks run on the "
                  "host's python3; set %s to a %s" % (wanted, wanted, operatorpython.ENV, wanted),
                  file=sys.stderr)
    elif c == "deploy":
        app = m.deploy(args.charm_dir, args.app, args.num_units, _kv(args.resource),
                       _kv(args.config))
        print('Deployed "%s" (%d unit%s)' % (app, args.num_units,
                                             "" if args.num_units == 1 else "s"))
    elif c == "config":
        values = _kv(args.settings)
        if values or args.reset:
            m.config(args.app, values, args.reset)
        else:
            cfg = m.config(args.app)
            sys.stdout.write(json.dumps(cfg, indent=2) + "\n" if args.format == "json"
                             else yaml.safe_dump(cfg, default_flow_style=False))
    elif c == "relate":
        m.relate(args.a, args.b)
    elif c == "remove-relation":
        m.remove_relation(args.a, args.b)
    elif c == "scale":
        m.scale(args.app, args.n)
    elif c == "move-leader":
        m.move_leader(args.app, args.unit)
    elif c == "remove-application":
        m.remove_application(args.app)
        print("will remove application %s" % args.app)
    elif c == "attach-resource":
        name, value = args.resource.split("=", 1) if "=" in args.resource else (None, None)
        if name is None:
            raise ModelError('expected "name=value", got "%s"' % args.resource)
        m.attach_resource(args.app, name, value)
    elif c == "upgrade":
        rev = m.upgrade(args.app, args.charm_dir)
        print("Upgraded %s to revision %d" % (args.app, rev))
    elif c == "status":
        st = m.status()
        if args.format == "json":
            print(json.dumps(st))
        elif args.format == "yaml":
            sys.stdout.write(yaml.safe_dump(st, default_flow_style=False))
        else:
            sys.stdout.write(tabular(st))
    elif c == "debug-log":
        sys.stdout.write(m.debug_log(args.lines))
    elif c == "run":
        if not args.cmd:
            raise ModelError("no command specified")
        cmd, operator = list(args.cmd), args.operator
        # REMAINDER swallows options given after UNIT: take --operator from its head.
        while cmd[:1] == ["--operator"]:
            operator, cmd = True, cmd[1:]
        cmd = cmd[1:] if cmd[:1] == ["--"] else cmd
        if not cmd:
            raise ModelError("no command specified")
        rc, out, err = m.run(args.unit, cmd, args.timeout, operator=operator)
        sys.stdout.write(out)
        sys.stderr.write(err)
        return rc
    elif c in actioncli.COMMANDS:
        return actioncli.run(args, m)
    elif c == "restart-operator":
        m.restart_operator(args.app)
    elif c == "pod-spec":
        sys.stdout.write(m.pod_spec(args.app))
    elif c == "manifests":
        sys.stdout.write(m.manifests(args.app))
    elif c == "kill":
        m.kill(args.pod, args.container)
    elif c == "exec":
        cmd, container = list(args.cmd), args.container
        # REMAINDER swallows options given after POD: take -c from its head.
        while cmd[:1] in (["-c"], ["--container"]) and len(cmd) > 1:
            container, cmd = cmd[1], cmd[2:]
        cmd = cmd[1:] if cmd[:1] == ["--"] else cmd
        if not cmd:
            raise ModelError("no command specified")
        rc, out, err = m.exec(args.pod, cmd, container)
        sys.stdout.write(out)
        sys.stderr.write(err)
        return rc
    elif c == "partition":
        if args.heal:
            m.heal(args.pod)
        else:
            m.partition(args.pod)
    elif c == "heal":
        m.heal(args.pod)
    elif c == "delete-pod":
        m.delete_pod(args.pod)
    elif c == "wait":
        try:
            m.wait(args.timeout)
        except TimeoutError as e:
            print("ERROR %s" % e, file=sys.stderr)
            return 1
    elif c == "down":
        m.down()
        print("model at %s destroyed" % m.home)
    elif c == "image":
        return image_command(args)
    return 0


def image_command(args):
    try:
        if args.action == "build":
            for name in args.names or [r.name for r in images.RECIPES]:
                print("%s %s" % (name, images.build(name)))
        else:
            for ref, root in images.listing():
                print("%s %s" % (ref, root or "(not built)"))
    except images.ImageError as e:
        print("ERROR %s" % e, file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    m = Model(home_from_env())
    try:
        return run(args, m)
    except ModelError as e:
        print("ERROR %s" % e, file=sys.stderr)
        return 1
