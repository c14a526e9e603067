"""Python API of the local model, mirroring the CLI. Used by the CLI and by tests.

    m = Model(home)            # LOCALMODEL_HOME, default ./.localmodel
    m.up(subnet="127.61")
    m.deploy("build/mycharm", "app", num_units=3, resources={"image": "img:1"})
    m.wait(timeout=120)
    rc, out, err = m.run("app/0", "is-leader")
    m.down()
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from localmodel import debuglog, hooktools, images, operatorpython, podexec
from localmodel import state as statelib
from localmodel.paths import Paths, home_from_env
from localmodel.runtime import enter, linux, network

LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DOMAIN_RE = re.compile(r"^%s(\.%s)*$" % (LABEL, LABEL))

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ModelError(Exception):
    """An operation the controller refused; ``str(e)`` is Juju-like."""


class PrerequisiteError(ModelError):
    """The machine cannot host a model (not root, no namespaces, a binary missing)."""


def check_prerequisites():
    if os.geteuid() != 0:
        raise PrerequisiteError("the local model needs root (namespaces and bind mounts)")
    for binary in ("unshare", "nsenter"):
        if shutil.which(binary) is None:
            raise PrerequisiteError("required binary %r not found (util-linux)" % binary)
    if shutil.which("nft") is None:
        raise PrerequisiteError("required binary 'nft' not found (nftables)")
    if network.cgroup2_mount() is None:
        raise PrerequisiteError("no cgroup v2 tree under /sys/fs/cgroup (pods' source "
                                "addresses need one)")
    if not os.path.exists("/usr/bin/python3"):
        raise PrerequisiteError("/usr/bin/python3 not found: hook tools need it")
    rc = subprocess.call(["unshare", "--mount", "--pid", "--uts", "--fork", "--mount-proc",
                          "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if rc != 0:
        raise PrerequisiteError("cannot create mount/pid/uts namespaces (unshare failed)")


def default_subnet(home):
    return "127.%d" % (100 + sum(home.encode()) % 100)


class Model:
    """A handle on the model living in ``home`` (its LOCALMODEL_HOME)."""

    def __init__(self, home=None):
        self.paths = Paths(home or home_from_env())
        self.home = self.paths.home

    # ---- plumbing -------------------------------------------------------------------------

    def _request(self, req, timeout=None):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.paths.socket)
        except OSError:
            raise ModelError("the model at %s is not up (run `up` first)" % self.home)
        try:
            s.sendall(json.dumps(req).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        if not buf:
            raise ModelError("the controller closed the connection")
        resp = json.loads(buf)
        if "error" in resp:
            raise ModelError(resp["error"])
        return resp.get("result")

    def _call(self, op, **args):
        return self._request({"op": op, "args": args})

    def controller_pid(self):
        try:
            with open(self.paths.controller_pid) as f:
                pid, start = f.read().split()
            pid = int(pid)
        except (OSError, ValueError):
            return None
        return pid if linux.alive(pid, int(start) if start != "None" else None) else None

    def is_up(self):
        try:
            self._request({"op": "ping"}, timeout=5)
            return True
        except (ModelError, OSError):
            return False

    # ---- lifecycle ------------------------------------------------------------------------

    def _install_tools(self):
        """The hook tools: every name a link to one client, as every Juju hook tool is a link
        to jujud. The client is the compiled one (:meth:`_build_static_client`): jujud is a
        compiled binary, and a Python client would add its interpreter's start (about 30 ms)
        to every call of every hook. Without a compiler, the Python client (same requests,
        same answers) stands in."""
        static = self._build_static_client()
        src = static or os.path.join(PKG_ROOT, "localmodel", "hooktools", "jujuc.py")
        dst = os.path.join(self.paths.tools, "jujuc")
        tmp = dst + ".new"
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dst)
        for name in hooktools.NAMES:
            link = os.path.join(self.paths.tools, name)
            if not os.path.lexists(link):
                os.symlink("jujuc", link)

    def _build_static_client(self):
        """The compiled hook tool client, for the operator and for workload containers (actions
        run there): static C, as Juju's jujud is a static binary that runs in any image. Built
        once per source in the machine's image store, then copied into the model; returns its
        path in the model, or None without a compiler (then actions in pods fail, with a
        message saying so)."""
        src = os.path.join(PKG_ROOT, "localmodel", "hooktools", "jujuc_static.c")
        with open(src, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()[:16]
        built = os.path.join(images.store_dir(), "tools", "jujuc-static-" + digest)
        if not os.path.exists(built):
            cc = shutil.which("cc") or shutil.which("gcc")
            if cc is None:
                return None
            os.makedirs(os.path.dirname(built), exist_ok=True)
            tmp = "%s.%d" % (built, os.getpid())
            subprocess.call([cc, "-static", "-Os", "-o", tmp, src],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not os.path.exists(tmp):
                return None
            os.replace(tmp, built)
        dst = os.path.join(self.paths.tools, "jujuc-static")
        shutil.copyfile(built, dst)
        os.chmod(dst, 0o755)
        return dst

    def up(self, model="localmodel", subnet=None, update_status_interval=300.0,
           retry_delay=5.0, timeout=20, cluster_domain="cluster.local",
           volume_sync_delay=60.0):
        """Create the model (or restart its controller after a crash, keeping its state).

        ``cluster_domain``: the Kubernetes cluster domain (``<app>.<model>.svc.<domain>``).
        ``volume_sync_delay``: the most seconds a ConfigMap/Secret change takes to show in a
        running pod's files (each pod's own periodic kubelet sync).
        """
        check_prerequisites()
        if self.is_up():
            return False
        self.paths.makedirs()
        self._install_tools()
        try:
            python, version = operatorpython.choose()
        except operatorpython.OperatorPythonError as e:
            raise PrerequisiteError(str(e))
        operatorpython.install(self.paths.operator_bin, python, version)
        if not os.path.exists(self.paths.state):
            subnet = subnet or default_subnet(self.home)
            parts = subnet.split(".")
            if len(parts) != 2 or parts[0] != "127" or not parts[1].isdigit() or \
                    not 1 <= int(parts[1]) <= 254:
                raise ModelError('invalid subnet "%s": expected 127.N' % subnet)
            if not DOMAIN_RE.match(cluster_domain or ""):
                raise ModelError('invalid cluster domain "%s"' % cluster_domain)
            state = statelib.new_state(
                model, subnet, float(update_status_interval), float(retry_delay),
                cluster_domain, float(volume_sync_delay))
        else:
            state = statelib.load(self.paths.state)
        state["model"]["operator-python"] = ".".join(map(str, version))
        statelib.save(self.paths.state, state)
        env = dict(os.environ, PYTHONPATH=PKG_ROOT, LOCALMODEL_OWNER=self.home,
                   LOCALMODEL_HOME=self.home)
        with open(self.paths.controller_log, "ab") as log:
            subprocess.Popen([sys.executable, "-m", "localmodel.controller", self.home],
                             env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             start_new_session=True, cwd="/")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.is_up():
                return True
            time.sleep(0.05)
        raise ModelError("controller did not start; see %s" % self.paths.controller_log)

    def processes(self):
        """Pids of every live process of this model (found by its environment marker)."""
        out = []
        me = os.getpid()
        for d in os.listdir("/proc"):
            if d.isdigit() and int(d) != me and linux.environ_has(int(d), self.paths.marker) \
                    and linux.starttime(int(d)) is not None:
                out.append(int(d))
        return out

    def down(self, timeout=15):
        """Stop every process of the model and delete its state (logs are kept)."""
        if self.is_up():
            try:
                self._request({"op": "shutdown"}, timeout=5)
            except (ModelError, OSError):
                pass
            deadline = time.time() + 8
            while time.time() < deadline and self.controller_pid():
                time.sleep(0.05)
        pids = []
        try:
            st = statelib.load(self.paths.state)
        except (OSError, ValueError):
            st = None
        if st:
            recs = list(st["pods"].values()) + list(st["forwarders"].values())
            recs += [a.get("operator") or {} for a in st["applications"].values()]
            for r in recs:
                if r.get("pid") and linux.alive(r["pid"], r.get("start")):
                    pids.append(r["pid"])
                if r.get("unshare") and linux.alive(r["unshare"], r.get("ustart")):
                    pids.append(r["unshare"])
        cpid = self.controller_pid()
        if cpid:
            pids.append(cpid)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + timeout
        while True:
            left = self.processes()
            if not left or time.time() > deadline:
                break
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        if st:
            # Every rule the model added, and its cgroups (empty now that its processes died).
            uuid = st["model"]["uuid"]
            if not network.delete(network.table_name(uuid)):
                raise ModelError("could not delete nftables table %s"
                                 % network.table_name(uuid))
            network.remove_cgroups(uuid)
        for name in ("state.json", "apps", "pods", "storage", "run", "tools"):
            p = os.path.join(self.home, name)
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            elif os.path.exists(p):
                os.unlink(p)
        if left:
            raise ModelError("processes still alive after down: %s" % left)

    # ---- juju-like operations -------------------------------------------------------------

    def deploy(self, charm_dir, app=None, num_units=1, resources=None, config=None):
        return self._call("deploy", charm_dir=os.path.abspath(charm_dir), app=app,
                          num_units=num_units, resources=resources or {},
                          config={k: str(v) for k, v in (config or {}).items()})

    def config(self, app, values=None, reset=None):
        """Set options (``{key: value}``) or, with nothing to set, return the config dict."""
        values = {k: (str(v).lower() if isinstance(v, bool) else str(v))
                  for k, v in (values or {}).items()}
        return self._call("config", app=app, values=values, reset=reset or [])

    def get_config(self, app):
        return {k: v["value"] for k, v in self.config(app)["settings"].items()}

    def relate(self, a, b):
        return self._call("relate", a=a, b=b)

    def remove_relation(self, a, b):
        return self._call("remove-relation", a=a, b=b)

    def scale(self, app, n):
        return self._call("scale", app=app, n=int(n))

    def move_leader(self, app, unit):
        """Not in Juju: move the leadership lease to ``unit`` (as a lease expiry would)."""
        return self._call("move-leader", app=app, unit=unit)

    def remove_application(self, app):
        return self._call("remove-application", app=app)

    def attach_resource(self, app, name, value):
        return self._call("attach-resource", app=app, name=name, value=value)

    def upgrade(self, app, charm_dir):
        return self._call("upgrade", app=app, charm_dir=os.path.abspath(charm_dir))

    def status(self):
        return self._call("status")

    def run(self, unit, command, timeout=None, operator=False):
        """``juju-run``: run ``command`` (a shell string or argv list) in ``unit``'s hook
        context, in the unit's pod (its first container), or in the operator if ``operator``.
        """
        if isinstance(command, (list, tuple)):
            command = " ".join(command)
        rc, out, err = self._request({"op": "run", "unit": unit, "command": command,
                                      "timeout": timeout, "operator": bool(operator)})
        return rc, out, err

    def run_action(self, unit, action, params=None, wait=None):
        """``juju run-action``: queue ``action`` on ``unit`` with ``params`` (a dict, values
        already typed). Returns the action id, or with ``wait`` (seconds; 0 = no limit) the
        result as ``show_action_output`` gives it. Raises ``ModelError`` with Juju's message
        when Juju refuses the action or its parameters."""
        action_id = self._call("enqueue_action", unit=unit, name=action, params=params or {})
        if wait is None:
            return action_id
        return self.show_action_output(action_id, wait=wait)

    def show_action_output(self, action_id, wait=None):
        """The action's record (``show-action-output``): ``{"id", "unit", "name", "status",
        "message", "results", "log", "enqueued", "started", "completed"}``. With ``wait``
        (seconds; 0 = no limit) it waits until the action is completed or failed and raises
        ``TimeoutError`` after ``wait`` seconds."""
        deadline = time.time() + wait if wait else None
        while True:
            record = self._call("show_action", action_id=str(action_id))
            if wait is None or record["status"] not in ("pending", "running"):
                return record
            if deadline and time.time() > deadline:
                raise TimeoutError("timeout reached")
            time.sleep(0.1)

    def restart_operator(self, app):
        """Not in Juju: restart the application's operator pod (see the README)."""
        return self._call("restart-operator", app=app)

    def partition(self, pod):
        """Not in Juju: cut ``pod`` off from every other pod of the model, both ways; clients
        that are not pods still reach it (a NetworkPolicy deny, or its node cut off)."""
        return self._call("partition", pod=pod)

    def heal(self, pod):
        """Undo ``partition(pod)``."""
        return self._call("partition", pod=pod, heal=True)

    def pod_spec(self, app):
        return self._call("pod_spec", app=app)

    def manifests(self, app):
        return self._call("manifests", app=app)

    def kill(self, pod, container=None):
        return self._call("kill", pod=pod, container=container)

    def delete_pod(self, pod):
        return self._call("delete_pod", pod=pod)

    def settled(self, allow_errors=False):
        return self._call("settled", allow_errors=allow_errors)

    def wait(self, timeout=120, allow_errors=False):
        """Block until no hook is queued or running and pods are settled.

        A unit in error keeps its failed hook queued (Juju retries it), so it counts as
        unsettled unless ``allow_errors``. Raises ``TimeoutError``.
        """
        deadline = time.time() + timeout
        calm = 0
        while time.time() < deadline:
            calm = calm + 1 if self.settled(allow_errors) else 0
            if calm >= 2:
                return True
            time.sleep(0.1)
        raise TimeoutError("model not settled after %ss" % timeout)

    def exec(self, pod, command, container=None, timeout=60):
        """Run ``command`` (shell string or argv) in a pod's container, like ``kubectl exec``.

        The command runs in the container's root (its image) and sees its mounts, pid
        namespace, hostname and environment.
        Returns ``(rc, stdout, stderr)``.
        """
        st = statelib.load(self.paths.state)
        try:
            prefix, env, _ = podexec.target(self.paths, st["pods"], pod, container)
        except podexec.ExecError as e:
            raise ModelError(str(e))
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        r = subprocess.run(prefix + argv, env=env, capture_output=True, text=True,
                           timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    # ---- helpers for tests ----------------------------------------------------------------

    def wait_for(self, predicate, timeout=60, interval=0.1):
        """Poll ``predicate(status)`` until it returns a truthy value, which is returned."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.status()
            value = predicate(last)
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError("condition not met after %ss; last status: %s"
                           % (timeout, json.dumps(last, indent=1)[:4000]))

    def pod_address(self, pod):
        p = self.status()["pods"].get(pod)
        return p["address"] if p else None

    def service_address(self, app):
        return self.status()["applications"][app]["address"]

    def unit_status(self, unit):
        return self.status()["applications"][unit.split("/")[0]]["units"].get(unit)

    def debug_log(self, lines=None):
        return debuglog.tail(self.paths.debug_log, lines)

    def container_log(self, pod, container):
        path = os.path.join(self.paths.logs, "containers", pod, container + ".log")
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return ""

    def hook_durations(self):
        try:
            return statelib.load(self.paths.state).get("hook-durations", [])
        except (OSError, ValueError):
            return []

    def hook_runs(self):
        """The last 1000 hooks run, oldest first, as ``(hook, unit, seconds)`` tuples."""
        try:
            runs = statelib.load(self.paths.state).get("hook-runs", [])
        except (OSError, ValueError):
            return []
        return [tuple(run[:3]) for run in runs]

    def hook_tool_calls(self):
        """The last 1000 hooks run, oldest first, with their hook tool calls (juju-log
        included), as ``(hook, unit, seconds, {tool: calls})`` tuples."""
        try:
            runs = statelib.load(self.paths.state).get("hook-runs", [])
        except (OSError, ValueError):
            return []
        return [(run[0], run[1], run[2], dict(run[3]) if len(run) > 3 else {}) for run in runs]
