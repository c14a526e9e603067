"""The model controller: a long-running daemon owning the model state.

It serves the CLI, the Python client and the hook tools on a Unix socket, runs hooks through
the per-application uniter workers, and reconciles pods, operators and Service forwarders. All
state lives in ``state.json``; a restarted controller re-adopts the processes still alive.
"""

import json
import os
import shlex
import shutil
import signal
import socketserver
import sys
import threading
import time

from localmodel import charm as charmlib
from localmodel.actionops import ActionsMixin
from localmodel import dns, state as statelib
from localmodel.hooktools import commands
from localmodel.hooktools.args import ToolError, parse
from localmodel.archive import stage_charm
from localmodel.operations import OperationsMixin, OpError
from localmodel.paths import Paths
from localmodel.pods import RuntimeMixin
from localmodel.runtime import linux, network
from localmodel.uniter import UniterMixin

RUN_LOCK_TIMEOUT = 300
SEVERITY = ["error", "blocked", "maintenance", "waiting", "active", "unknown"]


def frame(resp):
    """A hook tool's answer as the compiled client reads it (``hooktools/jujuc_static.c``):
    ``"<rc> <stdout length> <stderr length>\\n"``, then the two byte strings."""
    if "rc" in resp:
        rc, out, err = resp["rc"], resp.get("stdout", ""), resp.get("stderr", "")
    else:
        rc, out, err = 1, "", "ERROR %s\n" % resp.get("error", "bad request")
    out, err = out.encode(), err.encode()
    return b"%d %d %d\n" % (rc, len(out), len(err)) + out + err


class Controller(OperationsMixin, UniterMixin, ActionsMixin, RuntimeMixin):
    """The model's single writer: state, hook execution and process supervision.

    Every mutation happens under ``lock``; ``cond`` wakes the uniter workers and waiters.
    """

    def __init__(self, home):
        self.paths = Paths(home)
        self.state = statelib.load(self.paths.state)
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.contexts, self.current, self.workers, self.run_requests = {}, {}, {}, {}
        self.busy, self.popens, self.charms, self.service_files = set(), {}, {}, {}
        self.running_actions = set()
        self.unpacking = {}  # app: units whose uniter is unpacking the charm
        self.context_seq = 0
        self.runs_in_flight = 0
        self.dirty = False
        self.hosts_text = None
        self.network_text = self.network_failed = None
        m = self.state["model"]
        self.model_name, self.model_uuid, self.subnet = m["name"], m["uuid"], m["subnet"]
        self.subnet_cidr = self.subnet + ".0.0/16"
        self.network_table = network.table_name(self.model_uuid)
        self.update_status_interval = float(m["update-status-interval"])
        self.retry_delay = float(m["retry-delay"])
        self.cluster_domain = m.get("cluster-domain", dns.DEFAULT_DOMAIN)
        self.volume_sync_delay = float(m.get("volume-sync-delay", 60.0))

    # ---- accessors used by hook tools -----------------------------------------------------

    def app(self, app):
        return self.state["applications"].get(app)

    def unit(self, unit):
        a = self.app(unit.split("/")[0])
        return a["units"].get(unit) if a else None

    def charm(self, app):
        if app not in self.charms:
            self.charms[app] = charmlib.load(self.paths.charm(app))
        return self.charms[app]

    def config(self, app):
        return charmlib.effective_config(self.charm(app)["options"], self.app(app)["config"])

    def is_leader(self, unit):
        a = self.app(unit.split("/")[0])
        return bool(a) and a.get("leader") == unit

    def relation(self, rid):
        return self.state["relations"].get(str(rid))

    def local_endpoint(self, rel, app):
        for e in rel["endpoints"]:
            if e["app"] == app:
                return e["endpoint"]
        return None

    def remote_app(self, rel, app):
        others = [e["app"] for e in rel["endpoints"] if e["app"] != app]
        return others[0] if others else app

    def relations_of(self, app, endpoint=None):
        out = []
        for rel in sorted(self.state["relations"].values(), key=lambda r: r["id"]):
            if rel.get("dying"):
                continue
            for e in rel["endpoints"]:
                if e["app"] == app and (endpoint is None or e["endpoint"] == endpoint):
                    out.append(rel)
        return out

    def relation_units(self, rel):
        out = []
        for e in rel["endpoints"]:
            a = self.app(e["app"])
            if a:
                out += [u for u, r in a["units"].items() if not r.get("dying")]
        return out

    def counterpart_units(self, rel, app):
        """The live units a unit of ``app`` joins in ``rel``: its peers on a peer relation, the
        other application's units otherwise (state/relationunit.go ``WatchScope`` watches the
        scope of ``CounterpartRole``: provider and requirer see each other, a peer its peers)."""
        return [u for u in self.relation_units(rel)
                if rel.get("peer") or u.split("/")[0] != app]

    def joined(self, unit, rid):
        return sorted(self.unit(unit)["joined"].get(str(rid), []))

    def service_address(self, app):
        return self.app(app)["service-address"]

    def leader_set(self, app, changes):
        a = self.app(app)
        if self._merge(a["leader-settings"], changes):
            for u, r in a["units"].items():
                if u != a["leader"] and not r.get("dying"):
                    self.enqueue(u, "leader-settings-changed")
            self.save()

    def set_workload_status(self, unit, status, message):
        self.unit(unit)["workload"] = {"status": status, "message": message}
        self.save()

    def set_app_status(self, app, status, message):
        self.app(app)["app-status"] = {"status": status, "message": message}
        self.save()

    def application_status(self, app):
        a = self.app(app)
        if a.get("app-status"):
            return a["app-status"]
        sts = [r["workload"] for r in a["units"].values()]
        sts += [{"status": "error", "message": r["agent"]["message"]}
                for r in a["units"].values() if r["agent"]["status"] == "error"]
        if not sts:
            return {"status": "waiting", "message": "waiting for units"}
        return min(sts, key=lambda s: SEVERITY.index(s["status"])
                   if s["status"] in SEVERITY else len(SEVERITY))

    def resource_path(self, app, name):
        res = self.app(app)["resources"].get(name)
        return res["path"] if res else None

    def goal_state(self, app):
        a = self.app(app)
        units = {u: {"status": "dying" if r.get("dying") else "active", "since": r["since"]}
                 for u, r in a["units"].items()}
        rels = {}
        for rel in self.relations_of(app):
            ep = self.local_endpoint(rel, app)
            entry = rels.setdefault(ep, {})
            remote = self.remote_app(rel, app)
            if not rel.get("peer"):
                entry[remote] = {"status": "joined", "since": rel["since"]}
            ra = self.app(remote)
            for u, r in (ra["units"].items() if ra else []):
                if u not in units or rel.get("peer"):
                    entry[u] = {"status": "dying" if r.get("dying") else "active",
                                "since": r["since"]}
        return {"units": units, "relations": rels}

    # ---- persistence ----------------------------------------------------------------------

    def save(self):
        statelib.save(self.paths.state, self.state)
        self.dirty = False

    # ---- request handling -----------------------------------------------------------------

    def handle(self, req):
        op = req.get("op")
        if op == "tool":
            return self._handle_tool(req)
        if op == "run":
            rc, out, err = self.run_command(req["unit"], req["command"], req.get("timeout"),
                                            operator=req.get("operator", False))
            return {"result": [rc, out, err]}
        if op == "ping":
            return {"result": {"pid": os.getpid(), "model": self.model_name}}
        if op == "shutdown":
            threading.Thread(target=self.shutdown, daemon=True).start()
            return {"result": "ok"}
        fn = getattr(self, "op_" + op.replace("-", "_"), None) if op else None
        if fn is None:
            return {"error": "unknown operation %r" % op}
        args = dict(req.get("args", {}))
        if op in ("deploy", "upgrade"):
            args["staged"] = self._stage(args.get("charm_dir"))
        try:
            with self.lock:
                try:
                    result = fn(**args)
                except OpError as e:
                    return {"error": str(e)}
                finally:
                    if op not in ("status", "settled", "pod_spec", "manifests", "show_action"):
                        self.save()
                    self.cond.notify_all()
        finally:
            if args.get("staged"):
                shutil.rmtree(args["staged"], ignore_errors=True)
        return {"result": result}

    def _stage(self, charm_dir):
        """The charm's archive, copied before the operation takes the lock (hooks and tool
        calls of the model go on meanwhile, as in Juju while a client uploads a charm)."""
        if not charm_dir or not os.path.isdir(charm_dir):
            return None  # the operation refuses it, worded as Juju does
        try:
            return stage_charm(os.path.abspath(charm_dir), self.paths.staging)
        except OSError:
            return None

    def _handle_tool(self, req):
        if req["tool"] == "juju-run":
            return self._juju_run(req)
        with self.lock:
            ctx = self.contexts.get(req["context"])
            if ctx is None:
                return {"rc": 1, "stdout": "",
                        "stderr": 'ERROR bad request: unknown context "%s"\n' % req["context"]}
            ctx.tool_calls[req["tool"]] = ctx.tool_calls.get(req["tool"], 0) + 1
            rc, out, err = commands.run(self, ctx, req["tool"], req["args"], req.get("stdin"),
                                        req.get("files") or {})
            return {"rc": rc, "stdout": out, "stderr": err}

    def _juju_run(self, req):
        """The ``juju-run`` command of the operator (cmd/jujud/run.go)."""
        if req.get("context"):
            return {"rc": 1, "stdout": "", "stderr":
                    'ERROR juju-run cannot be called from within a hook, have context "%s"\n'
                    % req["context"]}
        try:
            opts, pos = parse(req["args"], ["u", "r|relation", "remote-unit", "remote-app"],
                              ["operator", "no-context", "force-remote-unit"])
        except ToolError as e:
            return {"rc": e.rc, "stdout": "", "stderr": "ERROR %s\n" % e}
        unsupported = [k for k in ("no-context", "relation", "remote-unit", "remote-app",
                                   "force-remote-unit") if opts.get(k)]
        if unsupported:
            return {"rc": 2, "stdout": "", "stderr": "ERROR --%s is not supported by the local "
                    "model\n" % unsupported[0]}
        unit = opts.get("u") or (pos.pop(0) if pos else "")
        if not unit:
            return {"rc": 2, "stdout": "", "stderr": "ERROR missing unit-name\n"}
        if not pos:
            return {"rc": 2, "stdout": "", "stderr": "ERROR missing commands\n"}
        if "/" not in unit or not os.path.isdir(self.paths.unit(unit)):
            return {"rc": 1, "stdout": "", "stderr":
                    'ERROR unit "%s" not found on this machine\n' % unit}
        command = pos[0] if len(pos) == 1 else shlex.join(pos)
        # It waits for the operator's hook lock like any uniter operation; Juju's
        # machine-lock wait for juju-run is bounded by 5 minutes.
        rc, out, err = self.run_command(unit, command, operator=bool(opts.get("operator")),
                                        lock_timeout=RUN_LOCK_TIMEOUT)
        return {"rc": rc, "stdout": out, "stderr": err}

    def _link_pods(self):
        """Juju records the pod a unit runs in as the unit's provider id, once it exists."""
        for app, a in self.state["applications"].items():
            for rec in a["units"].values():
                pod = "%s-%d" % (app, rec.get("ordinal", rec["number"]))
                if rec.get("provider-id") != pod and pod in self.state["pods"] and \
                        not rec.get("dying"):
                    rec["provider-id"] = pod
                    self.dirty = True

    # ---- lifecycle ------------------------------------------------------------------------

    def serve(self):
        ctl = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline()
                framed = False
                try:
                    req = json.loads(line)
                    framed = bool(req.get("framed"))
                    resp = ctl.handle(req)
                except Exception as e:  # report, never kill the controller
                    ctl.log("ERROR", "localmodel.controller", "request failed: %r" % e)
                    resp = {"error": "internal error: %s" % e}
                try:
                    self.wfile.write(frame(resp) if framed else json.dumps(resp).encode() + b"\n")
                except OSError:
                    pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        if os.path.exists(self.paths.socket):
            os.unlink(self.paths.socket)
        self.server = Server(self.paths.socket, Handler)
        os.chmod(self.paths.socket, 0o600)
        return self.server

    def adopt(self):
        """Take over after a (re)start: requeue interrupted hooks, keep live processes."""
        with self.lock:
            for name, pod in list(self.state["pods"].items()):
                self._resolve_init(pod)
                if not (pod.get("pid") and linux.alive(pod["pid"], pod.get("start"))):
                    self.log("INFO", "localmodel.controller", "pod %s lost; recreating" % name)
                    self.stop_ns(pod)
                    del self.state["pods"][name]
            for app, a in self.state["applications"].items():
                for rec in a["units"].values():
                    if rec["agent"]["status"] == "executing":
                        rec["agent"] = {"status": "idle", "message": ""}
                self.start_worker(app)
            self.save()

    def loop(self):
        while not self.stopping.is_set():
            with self.lock:
                try:
                    self.reconcile()
                    self._link_pods()
                except Exception as e:
                    self.log("ERROR", "localmodel.controller", "reconcile failed: %r" % e)
                if self.dirty:
                    self.save()
            self.stopping.wait(0.2)

    def stop(self):
        self.stopping.set()
        with self.lock:
            self.save()
        self.server.shutdown()

    def shutdown(self):
        """Stop everything this model started, then the controller itself."""
        self.stopping.set()
        with self.lock:
            recs = [p for p in self.state["pods"].values()]
            recs += [a.get("operator") or {} for a in self.state["applications"].values()]
            for rec in recs:
                self.stop_ns(rec, signal.SIGKILL)
            for app in list(self.state["forwarders"]):
                self.stop_forwarder(app)
            self.save()
        deadline = time.time() + 5
        while time.time() < deadline and any(self._rec_alive(r) for r in recs if r):
            time.sleep(0.05)
        self._reap()
        self.server.shutdown()


def write_static_files(paths):
    """The files bind-mounted into every namespace of the model."""
    statelib.atomic_write(paths.nsswitch, dns.NSSWITCH)
    model = statelib.load(paths.state)["model"]
    statelib.atomic_write(paths.resolv, dns.resolv(
        model["name"], model.get("cluster-domain", dns.DEFAULT_DOMAIN)))
    statelib.atomic_write(paths.os_release, dns.OS_RELEASE)
    if not os.path.exists(paths.hosts):
        statelib.write_in_place(paths.hosts, dns.HEADER)


def main(home):
    paths = Paths(home)
    write_static_files(paths)
    ctl = Controller(home)
    server = ctl.serve()
    statelib.atomic_write(paths.controller_pid,
                          "%d %s\n" % (os.getpid(), linux.starttime(os.getpid())))
    # SIGTERM stops the controller alone, like a crash: `up` adopts the workloads again.
    # Only the `shutdown` request (from `down`) stops the model's processes.
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(
        target=ctl.stop, daemon=True).start())
    ctl.log("INFO", "localmodel.controller", "controller started (pid %d)" % os.getpid())
    ctl.adopt()
    threading.Thread(target=ctl.loop, name="reconcile", daemon=True).start()
    server.serve_forever(poll_interval=0.2)
    ctl.log("INFO", "localmodel.controller", "controller stopped")
    try:
        os.unlink(paths.socket)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
