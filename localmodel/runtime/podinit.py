"""Init (pid 1) of a pod: runs its containers, restarts them, runs their probes.

Each container gets its own mount namespace whose root is its image (rootfs.py), with its
volumes bind-mounted inside; all share the pod's pid and uts namespaces (hostname = pod name)
and the host's loopback network, where the pod has its own address. Status goes to
``status.json`` for the controller. SIGTERM deletes the pod: containers get SIGTERM, then SIGKILL
after the grace period. SIGUSR1 kills the container named in ``kill-request`` (a crash, for
tests).

A container whose liveness or startup probe fails is stopped as the kubelet stops it: SIGTERM to
its main process, SIGKILL after the grace period. A container that exits is restarted under the
kubelet's crash backoff (runtime/backoff.py).
Its environment variables from Secrets and ConfigMaps are read each time it starts.
"""

import json
import os
import signal
import sys
import time

from localmodel import images
from localmodel.paths import Paths
from localmodel.runtime import expansion, linux, network, nsinit, rootfs
from localmodel.runtime.backoff import CrashBackoff
from localmodel.runtime.probes import Probe
from localmodel.state import atomic_write

BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root"}


def env_from_sources(refs, sources):
    """The values of ``{VAR: {"kind", "name", "key"}}`` from the current ConfigMap/Secret data,
    or None when one is missing (the kubelet's CreateContainerConfigError)."""
    env = {}
    for var, ref in refs.items():
        data = sources.get(ref["kind"], {}).get(ref["name"])
        if data is None or (ref.get("key") and ref["key"] not in data):
            return None
        env[var] = str(data[ref["key"]]) if ref.get("key") else json.dumps(data)
    return env


# pkg/kubelet/kubelet.go: the image backoff is flowcontrol.NewBackOff(backOffPeriod = 10 s,
# MaxContainerBackOff = 300 s).
# The kubelet's minimumGracePeriodInSeconds: a container told to stop always gets this long.
MINIMUM_GRACE_S = 2
PULL_BACKOFF = 10.0
MAX_PULL_BACKOFF = 300.0


class Container:
    def __init__(self, pod, spec, logdir):
        self.pod = pod
        self.spec = spec
        self.name = spec["name"]
        self.log = os.path.join(logdir, self.name + ".log")
        self.base_env = dict(BASE_ENV, HOSTNAME=pod["name"], LOCALMODEL_OWNER=pod["marker"],
                             KUBERNETES_SERVICE_HOST="", **spec["env"])
        self.env = dict(self.base_env)
        # What the kubelet expands $(VAR) in command and args with: the container's own
        # variables (spec and references), not the image's (PATH) nor the runtime's (HOSTNAME).
        self.spec_env = dict(KUBERNETES_SERVICE_HOST="", **spec["env"])
        self.pid = None
        self.restarts = 0
        self.started_at = None
        self.finished_at = None
        self.crash = CrashBackoff()
        self.state = "waiting"
        self.reason = spec.get("image-error") or "ContainerCreating"
        self.exit_code = None
        self.probes = {}
        self.kill_at = None  # when a container told to stop (a failed probe) is killed
        self.pull_backoff = PULL_BACKOFF
        self.pull_failed_at = None
        self.pull_retry_at = None
        argv = list(spec["command"]) + list(spec["args"])
        self.argv = argv
        if not argv:
            self.reason = "RunContainerError"

    @property
    def blocked(self):
        return bool(self.spec.get("image-error") or not self.argv)

    def refresh_env(self, sources_path):
        """Read env from Secrets/ConfigMaps as of now; False when one is missing."""
        refs = self.spec.get("env-refs") or {}
        sources = {}
        if refs:
            try:
                with open(sources_path) as f:
                    sources = json.load(f)
            except (OSError, ValueError):
                return False
        values = env_from_sources(refs, sources)
        if values is None:
            return False
        self.env = dict(self.base_env, **values)
        self.spec_env = dict(KUBERNETES_SERVICE_HOST="", **self.spec["env"], **values)
        return True

    def pull(self, now):
        """Find the container's image in the store, as the kubelet ensures an image exists.

        A missing image is looked for again after a backoff (10 s doubling to 300 s, the
        kubelet's image backoff); meanwhile the reason is ErrImagePull, then ImagePullBackOff.
        """
        root = images.lookup(self.spec["image"], self.pod["images"])
        if root:
            self.pull_failed_at = self.pull_retry_at = None
            self.pull_backoff = PULL_BACKOFF
            return root
        self.state = "waiting"
        self.reason = "ErrImagePull"
        self.pull_failed_at = now
        self.pull_retry_at = now + self.pull_backoff
        self.pull_backoff = min(self.pull_backoff * 2, MAX_PULL_BACKOFF)
        return None

    def start(self, image_root):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                os.setsid()
                linux.unshare_mount_ns()
                fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                devnull = os.open(os.devnull, os.O_RDONLY)
                # The container sees its image, its volumes and the files Kubernetes manages,
                # nothing else of the host (rootfs.py).
                rootfs.build(image_root, rootfs.layer_dir(self.pod["dir"], self.name),
                             self.spec["mounts"], {"/etc/hosts": self.pod["hosts"],
                                                   "/etc/hostname": self.pod["hostname"],
                                                   "/etc/resolv.conf": self.pod["resolv"]},
                             self.spec["workingDir"])
                os.dup2(devnull, 0)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.chdir(self.spec["workingDir"])
                os.set_inheritable(write, False)
                argv = expansion.expand_argv(self.argv, self.spec_env)
                os.execvpe(argv[0], argv, self.env)
            except BaseException as e:
                os.write(write, ("%s" % e).encode())
                os._exit(127)
        os.close(write)
        err = b""
        while True:
            chunk = os.read(read, 4096)
            if not chunk:
                break
            err += chunk
        os.close(read)
        self.pid = pid
        self.started_at = time.time()
        self.state = "running"
        self.reason = ""
        if err:
            self.reason = "StartError: " + err.decode(errors="replace")
        probes = self.spec["probes"]
        self.probes = {k: Probe(k, probes[k], self.started_at)
                       for k in ("startupProbe", "livenessProbe", "readinessProbe")
                       if probes.get(k)}

    @property
    def ready(self):
        if self.state != "running":
            return False
        if "startupProbe" in self.probes and not self.probes["startupProbe"].passed:
            return False
        if "readinessProbe" in self.probes:
            return self.probes["readinessProbe"].passed
        return True

    def exited(self, status, now):
        self.state = "terminated"
        self.exit_code = os.waitstatus_to_exitcode(status)
        self.reason = "Error" if self.exit_code else "Completed"
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        self.pid = None
        self.kill_at = None
        self.finished_at = now
        for p in self.probes.values():
            if p.pid:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except OSError:
                    pass
        self.probes = {}

    def status(self):
        reason = self.reason
        if reason == "ErrImagePull" and time.time() - self.pull_failed_at >= 1:
            # The kubelet's next sync finds the pull in backoff (images.ErrImagePullBackOff).
            reason = "ImagePullBackOff"
        return {"state": self.state, "ready": self.ready, "restarts": self.restarts,
                "pid": self.pid,
                "reason": reason, "exit-code": self.exit_code,
                "image": self.spec["image"]}


class Pod:
    def __init__(self, home, name):
        self.paths = Paths(home)
        self.dir = self.paths.pod(name)
        with open(os.path.join(self.dir, "pod.json")) as f:
            self.config = json.load(f)
        # Kept in the model's logs, across pod re-creations and `down`, for post-mortems.
        logdir = os.path.join(self.paths.logs, "containers", name)
        os.makedirs(logdir, exist_ok=True)
        every = [Container(self.config, c, logdir) for c in self.config["containers"]]
        # Init containers run one after the other, each to success, before the others start.
        self.inits = [c for c in every if c.spec.get("init")]
        self.containers = [c for c in every if not c.spec.get("init")]
        self.init_index = 0
        self.terminating = False
        self.kill_requested = False
        self.last_status = None

    @property
    def initialized(self):
        return self.init_index >= len(self.inits)

    def write_status(self):
        cs = {c.name: c.status() for c in self.containers}
        if self.terminating:
            phase = "Terminating"
        elif not self.initialized:
            phase = "Init:%d/%d" % (self.init_index, len(self.inits))
        elif any(c.blocked for c in self.containers):
            phase = "Pending"
        elif all(c.state == "running" for c in self.containers):
            phase = "Running"
        else:
            phase = "Pending" if all(c.restarts == 0 for c in self.containers) else "Running"
        st = {"phase": phase, "ready": all(c.ready for c in self.containers) and
              self.initialized and not self.terminating, "containers": cs,
              "init-containers": {c.name: c.status() for c in self.inits},
              "address": self.config["address"]}
        if st != self.last_status:
            atomic_write(os.path.join(self.dir, "status.json"), json.dumps(st))
            self.last_status = st

    def handle_exits(self, now):
        for pid, status in nsinit.reap_all():
            for c in self.containers + self.inits:
                if c.pid == pid:
                    c.exited(status, now)
                for p in c.probes.values():
                    if p.pid == pid:
                        ok = os.waitstatus_to_exitcode(status) == 0
                        if p.finished(ok, now) == "fail" and p.kind != "readinessProbe":
                            self._stop(c, p, now)

    def _stop(self, c, probe, now):
        """What the kubelet does to a container whose liveness or startup probe failed
        (kuberuntime_container.go, killContainer): SIGTERM to its main process, which gets the
        probe's ``terminationGracePeriodSeconds``, else the pod's (at least 2 s), before the
        SIGKILL; its probes stop meanwhile."""
        if c.pid is None or c.kill_at is not None:
            return
        grace = probe.spec.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = self.config["grace"]
        c.kill_at = now + max(grace, MINIMUM_GRACE_S)
        try:
            os.kill(c.pid, signal.SIGTERM)
        except OSError:
            pass

    @staticmethod
    def _kill(c):
        if c.pid:
            try:
                os.killpg(c.pid, signal.SIGKILL)
            except OSError:
                pass

    def step(self, now):
        self.handle_exits(now)
        if self.kill_requested:
            self.kill_requested = False
            try:
                with open(os.path.join(self.dir, "kill-request")) as f:
                    target = f.read().strip()
                os.unlink(os.path.join(self.dir, "kill-request"))
            except OSError:
                target = None
            for c in self.containers + self.inits:
                if c.name == target:
                    self._kill(c)
        if not self.initialized:
            self.step_init(now)
            self.write_status()
            return
        for c in self.containers:
            if c.blocked:
                continue
            if c.state != "running":
                self.try_start(c)
            if c.state != "running":
                continue
            if c.kill_at is not None:
                if now >= c.kill_at:
                    self._kill(c)
                continue
            startup = c.probes.get("startupProbe")
            for p in c.probes.values():
                if p.pid and now > p.deadline:
                    os.kill(p.pid, signal.SIGKILL)
                    continue
                if startup and not startup.passed and p is not startup:
                    continue
                if p.due(now) and not (p is startup and startup.passed):
                    p.launch(c.pid, c.env, c.spec["workingDir"], self.config["address"])
        self.write_status()

    def step_init(self, now):
        c = self.inits[self.init_index]
        for main in self.containers:
            if not main.blocked:
                main.reason = "PodInitializing"
        if c.blocked:
            return
        if c.state == "terminated" and c.exit_code == 0:
            c.reason = "Completed"
            self.init_index += 1
        elif c.state != "running":
            self.try_start(c)

    def try_start(self, c):
        """Start a container that is not running, or restart it as the kubelet would: the
        first restart at once, later ones after the crash backoff (``CrashLoopBackOff``)."""
        if c.pull_retry_at is not None and time.time() < c.pull_retry_at:
            return
        if c.finished_at is not None:
            if c.crash.in_backoff_since(c.finished_at):
                c.state, c.reason = "waiting", "CrashLoopBackOff"
                return
            c.crash.next(c.finished_at)
        if not c.refresh_env(self.config["env-sources"]):
            c.state, c.reason = "waiting", "CreateContainerConfigError"
            return
        image_root = c.pull(time.time())
        if image_root is None:
            return
        if c.finished_at is not None:
            c.restarts += 1
        c.start(image_root)

    def terminate(self):
        self.terminating = True
        self.write_status()
        for c in self.containers + self.inits:
            if c.pid:
                # Like the kubelet: only the container's main process is told; it decides how
                # its children stop (a start script may hand over before stopping its server).
                try:
                    os.kill(c.pid, signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.time() + self.config["grace"]
        while time.time() < deadline and any(c.pid for c in self.containers + self.inits):
            self.handle_exits(time.time())
            time.sleep(0.05)
        try:
            os.kill(-1, signal.SIGKILL)  # whatever is left in the pod's pid namespace
        except ProcessLookupError:
            pass  # nothing was left: every container stopped within the grace period


def main(home, name):
    pod = Pod(home, name)
    paths = pod.paths
    if pod.config.get("cgroup"):
        # Before any container starts: every process of the pod is born in its cgroup, so its
        # connections leave from the pod's address (runtime/network.py).
        network.join_cgroup(pod.config["cgroup"], os.getpid())
    hostname = os.path.join(pod.dir, "hostname")
    atomic_write(hostname, name + "\n")
    nsinit.setup(name, {"/etc/hostname": hostname, "/etc/hosts": paths.hosts,
                        "/etc/nsswitch.conf": paths.nsswitch, "/etc/resolv.conf": paths.resolv})
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))

    def on_usr1(*a):
        pod.kill_requested = True
    signal.signal(signal.SIGUSR1, on_usr1)
    while not stop:
        pod.step(time.time())
        time.sleep(0.05)
    pod.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
