"""Realizing applications as processes: operator namespaces, pods (StatefulSet/Deployment
semantics), the Service forwarders and the model's /etc/hosts.

Runs inside the controller's reconcile loop with the controller lock held.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from localmodel import dns, images, podspec, volumes
from localmodel.runtime import linux, network
from localmodel.state import atomic_write, write_in_place

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# How many of the last pod addresses given out are remembered, to be dropped once their pod is
# gone (a model's tests and benchmarks make a few hundred pods at most).
GIVEN_ADDRESSES_KEPT = 2000
IMAGE_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
                      r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")


def unit_ordinal(rec):
    """The StatefulSet ordinal of a unit's pod (units and pods are linked by provider id)."""
    return rec.get("ordinal", rec["number"])


def image_error(path):
    if not path or not IMAGE_RE.match(path):
        return "InvalidImageName"
    return None


class RuntimeMixin:
    """Part of the controller: everything that has a pid."""

    # ---- processes ------------------------------------------------------------------------

    def _env(self):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "PYTHONPATH": PKG_ROOT, "LOCALMODEL_OWNER": self.paths.home,
               "LOCALMODEL_HOME": self.paths.home}
        return env

    def _spawn(self, argv, logname):
        with open(os.path.join(self.paths.logs, logname), "ab") as log:
            p = subprocess.Popen(argv, env=self._env(), stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=log, start_new_session=True, cwd="/")
        self.popens[p.pid] = p
        return p.pid

    def _spawn_ns(self, module, name, logname):
        # --kill-child: the namespace never outlives its unshare parent, whoever kills it.
        argv = ["unshare", "--mount", "--pid", "--uts", "--fork", "--kill-child", "--mount-proc",
                "--propagation", "private", sys.executable, "-m", module, self.paths.home, name]
        return self._spawn(argv, logname)

    def _reap(self):
        for pid, p in list(self.popens.items()):
            if p.poll() is not None:
                del self.popens[pid]

    def _resolve_init(self, rec):
        """Fill in the host pid of the namespace's init (the child of ``unshare``)."""
        if rec.get("pid") or not rec.get("unshare"):
            return
        kids = linux.children(rec["unshare"])
        if kids:
            rec["pid"] = kids[0]
            rec["start"] = linux.starttime(kids[0])
            self.dirty = True

    def _rec_alive(self, rec):
        if rec.get("pid"):
            return linux.alive(rec["pid"], rec.get("start"))
        return bool(rec.get("unshare")) and linux.alive(rec["unshare"], rec.get("ustart"))

    # ---- operators ------------------------------------------------------------------------

    def start_operator(self, app):
        ready = self.paths.operator_ready(app)
        if os.path.exists(ready):
            os.unlink(ready)
        pid = self._spawn_ns("localmodel.runtime.opinit", app, "operator-%s.log" % app)
        self.state["applications"][app]["operator"] = {
            "unshare": pid, "ustart": linux.starttime(pid), "pid": None, "start": None}
        self.dirty = True

    def operator_ready(self, app):
        op = self.state["applications"][app].get("operator") or {}
        return bool(op.get("pid")) and os.path.exists(self.paths.operator_ready(app)) and \
            linux.alive(op["pid"], op.get("start"))

    def _reconcile_operator(self, app, a):
        op = a.get("operator")
        if op is None:
            self.start_operator(app)
            return
        self._resolve_init(op)
        if not self._rec_alive(op):
            self.log("WARNING", "juju.worker.caasoperator",
                     "operator for %s is gone; restarting it" % app)
            self.start_operator(app)

    def stop_ns(self, rec, sig=signal.SIGKILL):
        for key in ("pid", "unshare"):
            pid = rec.get(key)
            start = rec.get("start" if key == "pid" else "ustart")
            if pid and linux.alive(pid, start):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            if rec.get("pid") and sig != signal.SIGKILL:
                break

    # ---- addresses ------------------------------------------------------------------------

    def alloc_service_address(self):
        c = self.state["counters"]
        c["service-address"] += 1
        return "%s.0.%d" % (self.subnet, 9 + c["service-address"] % 240)

    def alloc_pod_address(self):
        c = self.state["counters"]
        n = c["pod-address"] % (250 * 250)
        c["pod-address"] += 1
        address = "%s.%d.%d" % (self.subnet, 1 + n // 250, 1 + n % 250)
        given = [a for a in self.state.get("pod-addresses", []) if a != address]
        self.state["pod-addresses"] = (given + [address])[-GIVEN_ADDRESSES_KEPT:]
        return address

    def gone_addresses(self):
        """The addresses pods had that no pod has now: Kubernetes routes them nowhere."""
        live = {p["address"] for p in self.state["pods"].values()}
        return sorted(set(self.state.get("pod-addresses", [])) - live)

    # ---- pods -----------------------------------------------------------------------------

    def pods_of(self, app):
        return {n: p for n, p in self.state["pods"].items() if p["app"] == app}

    def pod_status(self, name):
        try:
            with open(os.path.join(self.paths.pod(name), "status.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def pod_ready(self, name):
        pod = self.state["pods"].get(name)
        if not pod or pod.get("terminating"):
            return False
        return bool(self.pod_status(name).get("ready")) and self._rec_alive(pod)

    def _env_for(self, container, pod, address):
        """``(env, refs)``: the values fixed by the pod template, and the variables taken from
        a Secret or ConfigMap, which the pod's init reads when the container starts (as the
        kubelet does), from ``env-sources.json``."""
        env, refs = {}, {}
        for k, v in (container.get("envConfig") or {}).items():
            if isinstance(v, dict) and "field" in v:
                path = v["field"].get("path")
                env[k] = {"status.podIP": address, "metadata.name": pod,
                          "metadata.namespace": self.model_name, "spec.nodeName": "localhost",
                          "status.hostIP": "127.0.0.1"}.get(path, "")
            elif isinstance(v, dict) and ("secret" in v or "config-map" in v):
                ref = v.get("secret") or v.get("config-map")
                refs[k] = {"kind": "secret" if "secret" in v else "configmap",
                           "name": ref.get("name"), "key": ref.get("key")}
            elif isinstance(v, bool):
                env[k] = "true" if v else "false"
            elif isinstance(v, (dict, list)):
                env[k] = json.dumps(v)
            else:
                env[k] = "" if v is None else str(v)
        return env, refs

    def _env_sources_path(self, app):
        return os.path.join(self.paths.app(app), "env-sources.json")

    def create_pod(self, app, ordinal):
        a = self.state["applications"][app]
        spec = podspec.of_pods(a)
        name = "%s-%d" % (app, ordinal)
        pdir = self.paths.pod(name)
        shutil.rmtree(pdir, ignore_errors=True)
        os.makedirs(pdir, exist_ok=True)
        address = self.alloc_pod_address()
        # The pod's processes live in its cgroup, so their connections leave from its address.
        cgroup = network.pod_cgroup(self.model_uuid, name)
        network.ensure_cgroup(cgroup)
        charm = self.charm(app)
        # Juju's k8s provider (configureStorage) mounts the charm's storage into
        # podSpec.Containers[0] only: the first container that is not an init container.
        first = next((c["name"] for c in spec["containers"] if not c.get("init")), None)
        self._sync_volume_data(app, a)
        containers = []
        for c in spec["containers"]:
            env, refs = self._env_for(c, name, address)
            storage = charm["storage"] if c["name"] == first else {}
            # Mount points are made inside each container's own root (runtime/rootfs.py).
            mounts = volumes.mounts(self.paths, app, spec, c, name, ordinal, storage)
            image = (c.get("imageDetails") or {}).get("imagePath", c.get("image", ""))
            containers.append({
                "name": c["name"], "init": bool(c.get("init")),
                "image": image, "image-error": image_error(image),
                "command": c.get("command") or [],
                "args": c.get("args") or [], "workingDir": c.get("workingDir") or "/",
                "env": env, "env-refs": refs, "mounts": mounts,
                "probes": (c.get("kubernetes") or {})})
        config = {"name": name, "app": app, "address": address, "model": self.model_name,
                  "grace": podspec.grace_period(spec), "containers": containers,
                  "marker": self.paths.home, "hosts": self.paths.hosts,
                  "nsswitch": self.paths.nsswitch, "resolv": self.paths.resolv,
                  "env-sources": self._env_sources_path(app),
                  "dir": pdir, "hostname": os.path.join(pdir, "hostname"),
                  "images": images.store_dir(), "cgroup": cgroup}
        atomic_write(os.path.join(pdir, "pod.json"), json.dumps(config), 0o600)
        pid = self._spawn_ns("localmodel.runtime.podinit", name, "pod-%s.log" % name)
        self.state["pods"][name] = {
            "app": app, "ordinal": ordinal, "address": address, "hash": a["spec-hash"],
            "unshare": pid, "ustart": linux.starttime(pid), "pid": None, "start": None,
            "terminating": False, "created": time.time(), "cgroup": cgroup,
            "grace": podspec.grace_period(spec),
            "volume-data": a["volume-data"]["hash"]}
        self.log("INFO", "juju.kubernetes.provider",
                 "pod %s created with address %s" % (name, address))
        self.dirty = True

    def delete_pod(self, name, graceful=True):
        pod = self.state["pods"].get(name)
        if pod is None or pod.get("terminating"):
            return pod is not None
        pod["terminating"] = True
        pod["deadline"] = time.time() + (pod.get("grace", 30) if graceful else 0) + 2
        self.stop_ns(pod, signal.SIGTERM if graceful else signal.SIGKILL)
        self.log("INFO", "juju.kubernetes.provider", "pod %s terminating" % name)
        self.dirty = True
        return True

    def kill_pod(self, name, container=None):
        pod = self.state["pods"].get(name)
        if pod is None:
            raise KeyError(name)
        if container is None:
            self.stop_ns(pod, signal.SIGKILL)
            return
        if container not in self.pod_status(name).get("containers", {}):
            raise KeyError("%s/%s" % (name, container))
        atomic_write(os.path.join(self.paths.pod(name), "kill-request"), container)
        os.kill(pod["pid"], signal.SIGUSR1)

    def _reconcile_pods(self, app, a):
        pods = self.pods_of(app)
        for name, pod in pods.items():
            self._resolve_init(pod)
            alive = self._rec_alive(pod)
            if pod["terminating"]:
                if not alive:
                    del self.state["pods"][name]
                    self.dirty = True
                elif time.time() > pod["deadline"]:
                    self.stop_ns(pod, signal.SIGKILL)
            elif not alive:
                self.log("WARNING", "juju.kubernetes.provider",
                         "pod %s died; the %s recreates it" % (name, a["kind"]))
                del self.state["pods"][name]
                self.dirty = True
        if not a.get("spec"):
            return
        self._sync_volume_data(app, a)
        desired = sorted(unit_ordinal(r) for r in a["units"].values() if not r.get("dying"))
        pods = self.pods_of(app)
        for name, pod in pods.items():
            if pod["ordinal"] not in desired and not pod["terminating"]:
                self.delete_pod(name)
        by_ordinal = {p["ordinal"]: n for n, p in self.pods_of(app).items()}
        for o in desired:
            if o not in by_ordinal:
                self.create_pod(app, o)
        pods = self.pods_of(app)
        old = [n for n, p in pods.items()
               if p["hash"] != a["spec-hash"] and not p["terminating"]]
        if not old:
            return
        settled = all(not p["terminating"] and (self.pod_ready(n) or n in old)
                      for n, p in pods.items())
        if settled:
            victim = max(old, key=lambda n: pods[n]["ordinal"])
            self.log("INFO", "juju.kubernetes.provider",
                     "rolling %s to spec %s" % (victim, a["spec-hash"]))
            self.delete_pod(victim)

    def _sync_volume_data(self, app, a):
        """Follow the content of the app's ConfigMaps and Secrets without replacing pods.

        Env from a Secret/ConfigMap is read when a container starts: the current data is
        published at once in ``env-sources.json``. Projected volumes change in running pods
        on each pod's next periodic sync, when the kubelet re-projects them: every pod worker
        has its own timer (``pod_workers.go``, ``wrapUp``: the next sync is due
        ``wait.Jitter(resyncInterval, 0.5)`` later, syncFrequency 1 min by default), so pods
        see a change at different moments, each within ``volume_sync_delay`` of it
        (:func:`volumes.sync_fraction`).
        """
        current = volumes.data_hash(a["spec"], app)
        sync = a.get("volume-data") or {}
        if sync.get("hash") != current or not os.path.exists(self._env_sources_path(app)):
            data = volumes.source_data(a["spec"], app)
            atomic_write(self._env_sources_path(app), json.dumps(data), 0o600)
            if sync.get("hash") != current:
                a["volume-data"] = sync = {"hash": current, "since": time.time()}
                self.dirty = True
        elapsed = time.time() - sync["since"]
        if elapsed < self.volume_sync_delay * volumes.EARLIEST_SYNC:
            return
        for name, pod in self.pods_of(app).items():
            if pod["terminating"] or pod.get("volume-data") == current or \
                    elapsed < self.volume_sync_delay * volumes.sync_fraction(name, current):
                continue
            try:
                with open(os.path.join(self.paths.pod(name), "pod.json")) as f:
                    config = json.load(f)
            except (OSError, ValueError):
                continue
            volumes.sync(config, a["spec"], app)
            pod["volume-data"] = current
            self.log("INFO", "juju.kubernetes.kubelet",
                     "pod %s: ConfigMap and Secret volumes updated (%.1f s after the change)"
                     % (name, elapsed))
            self.dirty = True

    def pods_settled(self):
        for app, a in self.state["applications"].items():
            pods = self.pods_of(app)
            if any(p["terminating"] for p in pods.values()):
                return False
            if not a.get("spec"):
                continue
            desired = {unit_ordinal(r) for r in a["units"].values() if not r.get("dying")}
            if {p["ordinal"] for p in pods.values()} != desired:
                return False
            for n, p in pods.items():
                if p["hash"] != a["spec-hash"]:
                    return False
                st = self.pod_status(n)
                if st.get("ready"):
                    continue
                waiting = [c for c in st.get("containers", {}).values()
                           if c.get("reason") in ("InvalidImageName", "ErrImagePull",
                                                  "ImagePullBackOff",
                                                  "CreateContainerConfigError")]
                if not waiting:
                    return False
        return True

    # ---- services and names ---------------------------------------------------------------

    def _reconcile_forwarder(self, app, a):
        spec_ports = podspec.ports(a["spec"]) if a.get("spec") else []
        backends = [p["address"] for n, p in sorted(self.pods_of(app).items())
                    if self.pod_ready(n)]
        cfg = json.dumps({"address": a["service-address"], "ports": spec_ports,
                          "backends": backends}, sort_keys=True)
        path = self.paths.service(app)
        if self.service_files.get(app) != cfg:
            atomic_write(path, cfg)
            self.service_files[app] = cfg
        fw = self.state["forwarders"].get(app)
        if spec_ports and not a.get("dying"):
            if fw is None or not linux.alive(fw["pid"], fw.get("start")):
                pid = self._spawn([sys.executable, "-m", "localmodel.service", self.paths.home,
                                   app], "service-%s.log" % app)
                self.state["forwarders"][app] = {"pid": pid, "start": linux.starttime(pid)}
                self.dirty = True

    def stop_forwarder(self, app):
        fw = self.state["forwarders"].pop(app, None)
        if fw and linux.alive(fw["pid"], fw.get("start")):
            os.kill(fw["pid"], signal.SIGKILL)
        if os.path.exists(self.paths.service(app)):
            os.unlink(self.paths.service(app))
        self.service_files.pop(app, None)

    def _write_hosts(self):
        services = {app: a["service-address"] for app, a in self.state["applications"].items()}
        # A terminating pod keeps its name until it is gone: Juju's headless service publishes
        # not-ready addresses, and the endpoints controller keeps terminating pods for such a
        # service (ShouldPodBeInEndpoints(pod, PublishNotReadyAddresses)).
        pods = [(n, p["app"], p["address"]) for n, p in self.state["pods"].items()]
        text = dns.hosts(self.model_name, services, pods, self.cluster_domain)
        if text != self.hosts_text:
            write_in_place(self.paths.hosts, text)
            self.hosts_text = text

    # ---- the loop body --------------------------------------------------------------------

    def reconcile(self):
        self._reap()
        now = time.time()
        for app, a in list(self.state["applications"].items()):
            if a.get("dying") and not a["units"]:
                self._finish_app_removal(app, a)
                continue
            self._reconcile_operator(app, a)
            self._reconcile_pods(app, a)
            self._reconcile_forwarder(app, a)
            self._attach_storage(app, a)
            for unit, rec in a["units"].items():
                if rec.get("started") and not rec.get("dying") and \
                        now >= rec.get("next-update-status", 0):
                    rec["next-update-status"] = now + self.update_status_interval
                    self.enqueue(unit, "update-status")
        for name, pod in list(self.state["pods"].items()):
            if pod["app"] not in self.state["applications"]:
                self._resolve_init(pod)
                if not self._rec_alive(pod):
                    del self.state["pods"][name]
                elif not pod["terminating"]:
                    self.delete_pod(name)
        self._write_hosts()
        self._reconcile_network()
        self.cond.notify_all()

    def _reconcile_network(self):
        """Keep the model's nftables table in line with its pods and partitions; True when
        it is."""
        pods = [(n, p["address"], p["cgroup"]) for n, p in sorted(self.state["pods"].items())
                if p.get("cgroup")]
        text = network.ruleset(self.network_table, self.subnet, pods,
                               set(self.state.get("partitions", [])), self.gone_addresses())
        if text == self.network_text:
            return True
        try:
            network.apply(self.network_table, text)
        except network.NetworkError as e:
            if self.network_failed != text:
                self.log("ERROR", "localmodel.network", str(e))
                self.network_failed = text
            return False
        self.network_text = text
        return True

    def _attach_storage(self, app, a):
        """Storage is provisioned with the pod: storage-attached follows the pod's start."""
        storage = self.charm(app)["storage"]
        if not storage:
            return
        for unit, rec in a["units"].items():
            if rec.get("storage-attached") or rec.get("dying"):
                continue
            pod = "%s-%d" % (app, unit_ordinal(rec))
            if pod in self.state["pods"] and self.pod_status(pod).get("phase") == "Running":
                rec["storage-attached"] = True
                for name in sorted(storage):
                    self.enqueue(unit, "%s-storage-attached" % name)
                self.dirty = True

    def _finish_app_removal(self, app, a):
        for name in self.pods_of(app):
            self.delete_pod(name)
        self._reconcile_pods(app, a)
        if self.pods_of(app):
            return
        op = a.get("operator") or {}
        self.stop_ns(op, signal.SIGKILL)
        self.stop_forwarder(app)
        for rid, rel in list(self.state["relations"].items()):
            if app in [e["app"] for e in rel["endpoints"]]:
                del self.state["relations"][rid]
        for item in self.run_requests.pop(app, []):
            item["result"] = (1, "", 'ERROR application "%s" removed\n' % app)
        volumes.remove_app(self.paths, app)
        shutil.rmtree(self.paths.app(app), ignore_errors=True)
        del self.state["applications"][app]
        self.charms.pop(app, None)
        self.log("INFO", "juju.state", "application %s removed" % app)
        self.dirty = True
