"""Pods without Kubernetes: the rendered scripts of the pod spec run as real processes.

Each pod gets its own 127.70.x.y address, storage directory and, through a private mount
namespace (``unshare --mount``), its own view of ``/etc/hosts``, ``/etc/nsswitch.conf`` (files
only, so no name lookup leaves the machine) and of the spec's volumes, as Juju 2.9 and Kubernetes
mount them: the storage at ``/var/lib/redis`` in the first container only, the ConfigMap files,
the pod's emptyDir (one directory both containers share, gone with the pod) and the Secret's
files (updated in place by :meth:`Cluster.set_password`, as the kubelet does). The directories
holding the mount points are overlays in the namespace, so nothing is created on the host.
Every container is a process group; :meth:`Cluster.close` kills them.
"""

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))

from redis_k8s import naming, podspec, rules, tls_env  # noqa: E402

# Mount points live below these; each namespace overlays them so mkdir stays private.
OVERLAID = ("/etc", "/var/lib", "/run")


def wait_for(predicate, timeout, interval=0.1, what="condition"):
    """Poll ``predicate`` until it returns a truthy value; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (redis.RedisError, OSError) as e:
            last_error = e
        time.sleep(interval)
    raise TimeoutError("timed out after {}s waiting for {} (last error: {})".format(timeout, what, last_error))


class Container:
    """One container: the spec's command in the pod's mount namespace, as a process group."""

    def __init__(self, pod, name, spec):
        self.pod = pod
        self.name = name
        self.spec = spec
        self.proc = None
        self.log_path = os.path.join(pod.root, name + ".log")

    def env(self):
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        for key, value in self.spec["envConfig"].items():
            if isinstance(value, dict) and "field" in value:
                path = value["field"]["path"]
                env[key] = {"status.podIP": self.pod.ip, "metadata.name": self.pod.name}[path]
            elif isinstance(value, dict) and "secret" in value:
                ref = value["secret"]
                env[key] = self.pod.cluster.secrets[ref["name"]][ref["key"]]
            else:
                env[key] = str(value)
        return env

    def mounts(self):
        """``[(source, mount point)]`` of this container, as Juju 2.9 builds the pod."""
        mounts = [
            (self.pod.cluster.hosts_path, "/etc/hosts"),
            (self.pod.cluster.nsswitch_path, "/etc/nsswitch.conf"),
        ]
        if self.spec is self.pod.cluster.spec["containers"][0]:
            mounts.append((self.pod.storage, podspec.DATA_DIR))  # storage: first container only
        for volume in self.spec["volumeConfig"]:
            mounts.append((self.pod.volume_source(volume), volume["mountPath"]))
        return mounts

    def namespace_script(self, command):
        """A /bin/sh script that builds this container's mounts in a fresh namespace, then execs."""
        work = tempfile.mkdtemp(prefix="ns-", dir=self.pod.root)
        lines = []
        for i, top in enumerate(OVERLAID):
            upper, lower = os.path.join(work, str(i), "u"), os.path.join(work, str(i), "w")
            os.makedirs(upper)
            os.makedirs(lower)
            lines.append("mount -t overlay overlay -o lowerdir={},upperdir={},workdir={} {}".format(
                top, upper, lower, top))
        for src, dst in self.mounts():
            make = "mkdir -p" if os.path.isdir(src) else "touch"
            lines.append("{} {}".format(make, shlex.quote(dst)))
            lines.append("mount --bind {} {}".format(shlex.quote(src), shlex.quote(dst)))
        lines.append("exec " + " ".join(shlex.quote(c) for c in command))
        return " && ".join(lines)

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        script = self.namespace_script(self.spec["command"])
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig):
        """Signal the container's first process only, as a container runtime does."""
        if self.running():
            self.proc.send_signal(sig)

    def kill_group(self, sig=signal.SIGKILL):
        """Signal every process of the container (its process group)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout=60):
        """SIGTERM the first process, wait, then kill whatever is left of the group."""
        if self.running():
            self.send(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill_group(signal.SIGKILL)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def probe(self, kind):
        """Run the spec's readiness or liveness probe inside the container's view; True on success."""
        command = self.spec["kubernetes"][kind + "Probe"]["exec"]["command"]
        script = self.namespace_script(command)
        result = subprocess.run(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script],
                                env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                timeout=30)
        return result.returncode == 0

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Pod:
    """One pod: address, storage, the ConfigMap files, and its two containers."""

    def __init__(self, cluster, ordinal):
        self.cluster = cluster
        self.ordinal = ordinal
        self.name = naming.pod_name(cluster.app, ordinal)
        self.fqdn = naming.pod_fqdn(cluster.app, cluster.model, ordinal)
        self.ip = "{}.{}".format(cluster.subnet, ordinal + 1)
        self.root = os.path.join(cluster.root, self.name)
        self.storage = os.path.join(self.root, "storage")
        os.makedirs(self.storage, exist_ok=True)
        self.write_volumes()
        self.containers = {c["name"]: Container(self, c["name"], c) for c in cluster.spec["containers"]}

    def volume_dir(self, name):
        return os.path.join(self.root, "volumes", name)

    def volume_source(self, volume):
        """The directory a volume of the spec is mounted from."""
        if "secret" in volume:
            return self.cluster.secret_dir(volume["secret"]["name"])
        if "emptyDir" in volume:
            return os.path.join(self.root, "emptydir", volume["name"])
        return self.volume_dir(volume["name"])

    def write_volumes(self):
        os.makedirs(os.path.join(self.root, "emptydir"), exist_ok=True)
        for container in self.cluster.spec["containers"]:
            for volume in container["volumeConfig"]:
                if "emptyDir" in volume:
                    os.makedirs(self.volume_source(volume), exist_ok=True)
                if "files" not in volume:
                    continue
                directory = self.volume_dir(volume["name"])
                os.makedirs(directory, exist_ok=True)
                for f in volume["files"]:
                    with open(os.path.join(directory, f["path"]), "w") as out:
                        out.write(f["content"])

    @property
    def redis(self):
        return self.containers["redis"]

    @property
    def sentinel(self):
        return self.containers["sentinel"]

    def start(self):
        self.sentinel.start()
        self.redis.start()

    def stop(self, timeout=60):
        self.redis.stop(timeout)
        self.sentinel.stop(timeout)

    def terminate(self, timeout=60):
        """Delete the pod as Kubernetes does: SIGTERM to every container at once, then wait.

        Returns ``{container: exit status}`` (None for one that had to be killed)."""
        for container in self.containers.values():
            container.send(signal.SIGTERM)
        statuses = {}
        for name, container in self.containers.items():
            try:
                statuses[name] = container.wait(timeout)
            except subprocess.TimeoutExpired:
                statuses[name] = None
            container.kill_group(signal.SIGKILL)
        return statuses

    def wipe_storage(self):
        subprocess.run(["rm", "-rf", self.storage], check=True)
        os.makedirs(self.storage)

    def recreate(self):
        """What a pod deleted and created again gets: an empty emptyDir (the storage stays)."""
        shared = os.path.join(self.root, "emptydir")
        subprocess.run(["rm", "-rf", shared], check=True)
        self.write_volumes()

    def client(self, **kwargs):
        return self.cluster.client(self.ip, self.cluster.settings.port, **kwargs)

    def sentinel_client(self, **kwargs):
        return self.cluster.client(self.ip, self.cluster.settings.sentinel_port, **kwargs)


class Cluster:
    """N pods of one application, with the Secret, the DNS (a hosts file) and the spec."""

    def __init__(self, root, settings, count, subnet, app="redis-k8s", model="pods", password="s3cret-Pods-pw",
                 tls_data=None):
        self.root = root
        self.settings = settings
        self.app = app
        self.model = model
        self.subnet = subnet
        self.password = password
        # The TLS options of the harness's own clients (redis-py ``ssl_*`` keywords), None: plain.
        self.client_tls = None
        secret = naming.secret_name(app)
        rendered = podspec.render(app, model, {"registry_path": "redis:7.0"}, settings, secret)
        self.spec = rendered.spec
        self.k8s_resources = podspec.with_tls_secret(
            podspec.with_secret(rendered.k8s_resources, secret, password), naming.tls_secret_name(app),
            tls_data if tls_data is not None else tls_env.tls_secret_data_off(settings))
        self.secrets = {s["name"]: s["stringData"] for s in self.k8s_resources["kubernetesResources"]["secrets"]}
        for name in self.secrets:
            self.write_secret(name)
        self.hosts_path = os.path.join(root, "hosts")
        self.nsswitch_path = os.path.join(root, "nsswitch.conf")
        with open(self.nsswitch_path, "w") as f:
            f.write("hosts: files\n")
        self.pods = []
        self.removed = []
        self.clients = []
        for ordinal in range(count):
            self.add_pod()

    def secret_dir(self, name):
        return os.path.join(self.root, "secrets", name)

    def write_secret(self, name):
        """Write a Secret's keys as files, each replaced atomically (as the kubelet swaps them),
        and remove the files of keys it no longer has (the kubelet's new ``..data`` lacks them)."""
        directory = self.secret_dir(name)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        for key, value in self.secrets[name].items():
            temporary = os.path.join(directory, "." + key + ".new")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(str(value))
            os.replace(temporary, os.path.join(directory, key))
        for key in os.listdir(directory):
            if not key.startswith(".") and key not in self.secrets[name]:
                os.remove(os.path.join(directory, key))

    def set_tls_secret(self, data):
        """Replace the TLS Secret's content as Kubernetes does: in place in running pods."""
        name = naming.tls_secret_name(self.app)
        self.secrets[name] = dict(data)
        self.write_secret(name)

    def tls_file(self, key):
        """The path of a key of the TLS Secret, as the harness sees it (for its own clients)."""
        return os.path.join(self.secret_dir(naming.tls_secret_name(self.app)), key)

    def set_password(self, password):
        """Change the Secret's password as Kubernetes does: the files in running pods change in
        place, nothing restarts. The clients of this harness use it from now on."""
        name = naming.secret_name(self.app)
        self.secrets[name] = dict(self.secrets[name], password=password)
        self.write_secret(name)
        self.password = password

    def add_pod(self):
        pod = Pod(self, len(self.pods))
        self.pods.append(pod)
        self.write_hosts()
        return pod

    def remove_pod(self):
        """Scale down: stop the highest ordinal and drop its DNS name."""
        pod = self.pods.pop()
        self.removed.append(pod)
        pod.stop()
        self.write_hosts()
        return pod

    def write_hosts(self):
        lines = ["127.0.0.1 localhost"]
        lines += ["{} {} {}".format(p.ip, p.fqdn, p.name) for p in self.pods]
        # Rewritten in place: the pods see this inode through their bind mounts.
        with open(self.hosts_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def by_fqdn(self, fqdn):
        for pod in self.pods:
            if pod.fqdn == fqdn:
                return pod
        raise KeyError(fqdn)

    def client(self, ip, port, password=True, **kwargs):
        if self.client_tls is not None and "ssl" not in kwargs:
            kwargs = dict(self.client_tls, **kwargs)
        kwargs = dict({"socket_timeout": 5, "socket_connect_timeout": 2}, **kwargs)
        c = redis.Redis(host=ip, port=port, password=self.password if password is True else password,
                        decode_responses=True, **kwargs)
        self.clients.append(c)
        return c

    def start(self):
        for pod in self.pods:
            pod.start()

    def connect(self, host, port, password):
        """A topology connector: pod names map to pod addresses without any DNS."""
        if host[0].isdigit():
            return self.client(host, port, password=password)
        try:
            ip = self.by_fqdn(host).ip
        except KeyError:
            # What a client gets for a name DNS no longer knows.
            raise redis.ConnectionError("cannot resolve {}".format(host))
        return self.client(ip, port, password=password)

    def master_from_sentinels(self):
        """The master most running sentinels at the greatest config epoch report (the charm's
        rule), as a Pod, or None."""
        views, epochs = {}, {}
        for pod in self.pods:
            if not pod.sentinel.running():
                continue
            try:
                client = pod.sentinel_client()
                addr = rules.master_addr(client.sentinel_get_master_addr_by_name(self.app))
                epochs[pod.name] = rules.config_epoch(client.sentinel_master(self.app))
            except (redis.RedisError, OSError):
                continue
            if addr:
                views[pod.name] = addr
        master = rules.master_by_vote(rules.current_views(views, epochs))
        return None if master is None else self.by_fqdn(master[0])

    def close(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:
                pass
        for pod in self.pods + self.removed:
            for container in pod.containers.values():
                container.kill_group(signal.SIGKILL)
                if container.proc is not None:
                    try:
                        container.proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass

    def logs(self):
        return "\n".join("===== {} {}\n{}".format(p.name, c.name, c.log_text()[-4000:])
                         for p in self.pods for c in p.containers.values())
