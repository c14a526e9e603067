"""The Kubernetes pod spec (Juju pod spec version 3) of redis-k8s.

Nothing in the spec depends on the unit count, so scaling never rolls the pods; nothing in it
holds the Redis password, which only reaches the containers as a file of the Secret's volume.

Kubernetes replaces pods only when the pod template changes (image, command, env, ports, probes,
volume list); new ConfigMap or Secret contents reach running pods as files, in place, after the
kubelet's sync. So the template holds only what must roll the pods: the ports and a digest of
the raw template sources (an upgrade bringing new scripts rolls the pods). Every option the
leader can apply live (``redis_k8s.live``) is only in the ConfigMap files, which the containers
read when they start.

The pod-level fields (the termination grace period) are another matter: Juju sets them when it
creates the StatefulSet and never changes them (``ensureStatefulSet`` copies only the new
containers onto an existing one). The grace period is chosen once, for the first spec
(:func:`grace_period`), and every later spec carries that one; a failover-timeout whose stop
would not fit in it is refused (:func:`check_stop_fits`).
"""

import copy
import hashlib
import math
import os
from dataclasses import dataclass

import yaml

from . import custom_config, metrics_user, naming, templating
from .settings import ConfigError

SCRIPTS_DIR = "/etc/redis-k8s"
SENTINEL_CONF_DIR = "/etc/redis-sentinel"
DATA_DIR = "/var/lib/redis"
# Shared by both containers of a pod (an emptyDir: survives container restarts, not the pod):
# the markers the containers use to coordinate and the sentinel's live configuration.
SHARED_DIR = "/run/redis-k8s"
# The Secret's volume: the password as a file, re-read by every script and probe call.
AUTH_DIR = "/etc/redis-k8s-auth"
# The TLS Secret's volume (``<app>-tls``), mounted whether TLS is on or off, so that switching
# TLS never changes the pod template: ``tls.env`` (the mode, read by every script call), and only
# while TLS is on ``ca.pem`` and each pod's ``<pod>.pem`` / ``<pod>.key``.
TLS_DIR = "/etc/redis-k8s-tls"
TLS_ENV_FILE = "tls.env"
TLS_CA_FILE = "ca.pem"
# Every redis and sentinel also listens on a unix socket in the pod's shared emptyDir: the
# exporter reaches them there whatever the TLS mode (only the pod's containers see the socket).
REDIS_SOCKET = SHARED_DIR + "/redis.sock"
SENTINEL_SOCKET = SHARED_DIR + "/sentinel.sock"

REDIS_SCRIPTS_VOLUME = "redis-k8s-scripts"
SENTINEL_SCRIPTS_VOLUME = "sentinel-scripts"
SENTINEL_CONF_VOLUME = "sentinel-conf"
SHARED_VOLUME = "shared"
AUTH_VOLUME = "auth"
TLS_VOLUME = "tls"

SECRET_KEY = "password"
# The exporter's own password (``redis_k8s.metrics_user``): generated once, never rotated.
METRICS_SECRET_KEY = "metrics-password"
EXPORTER_CONTAINER = "redis-exporter"
# Where the upstream image (oliver006/redis_exporter, built FROM scratch: no shell) has it.
EXPORTER_BINARY = "/redis_exporter"
# A scrape of a pod that does not answer gives up after this, well within Prometheus' default
# scrape timeout (10 s), so the exporter reports redis_up 0 instead of the scrape failing.
EXPORTER_CONNECT_TIMEOUT = "3s"
CLI_TIMEOUT_S = 3
# The write fence (templates/fence.sh): a replica that has not answered within this is silent;
# a round every FENCE_ROUND_S.
FENCE_ASK_TIMEOUT_S = 0.25
FENCE_ROUND_S = 0.2
CATCH_UP_WAIT_S = 5
RESOLVE_WAIT_S = 120
# redis.conf shutdown-timeout: how long a stopping master waits for lagging replicas.
SHUTDOWN_TIMEOUT_S = 10
# Redis' default: a replica that finished its first sync is as good a candidate as any other.
REPLICA_PRIORITY = 100
# The first grace period is the stop's need rounded up to one of 60, 120, 240... s: room for a
# later, longer failover-timeout, since the pods keep it.
GRACE_STEP_S = 60

# The actions that run in the `redis` container (the storage is there) keep their scripts there:
# handover.sh, the planned master switch of redis-stop.sh and failover.sh (the failover action's
# work); the backup actions' scripts.
REDIS_FILES = ("lib.sh", "fence.sh", "fence.env", "handover.sh", "redis-start.sh", "redis-stop.sh",
               "failover.sh", "probe-redis.sh", "redis.conf", "backup-lib.sh", "backup.sh",
               "list-backups.sh", "restore.sh")
SENTINEL_SCRIPT_FILES = ("lib.sh", "sentinel-start.sh", "probe-sentinel.sh")
SENTINEL_CONF_FILES = ("sentinel.conf", "sentinel-master.conf")


@dataclass(frozen=True)
class PodSpec:
    """A rendered pod spec: ``spec`` for ``pod-spec-set``, ``k8s_resources`` for ``--k8s-resources``.

    ``k8s_resources`` holds the top-level ``kubernetesResources`` key; merge the password Secret
    in with :func:`with_secret` just before ``pod-spec-set``.
    """

    spec: dict
    k8s_resources: dict

    def text(self) -> str:
        """Return the YAML of spec and resources (no password in it: safe to log or hash)."""
        return yaml.safe_dump(self.spec, sort_keys=True) + yaml.safe_dump(self.k8s_resources, sort_keys=True)

    def digest(self) -> str:
        """Return a SHA-256 of :meth:`text`, to tell whether the spec changed."""
        return hashlib.sha256(self.text().encode()).hexdigest()


def timings(settings) -> dict:
    """Return the waits (seconds / ms) the scripts use, derived from the settings."""
    down_after_s = int(math.ceil(settings.down_after_ms / 1000.0))
    failover_wait_s = int(math.ceil(settings.failover_timeout_ms / 1000.0)) + 5
    return {
        "cli_timeout_s": CLI_TIMEOUT_S,
        "fence_after_ms": settings.fence_after_ms,
        "fence_ask_timeout_s": FENCE_ASK_TIMEOUT_S,
        "fence_round_s": FENCE_ROUND_S,
        "replica_priority": REPLICA_PRIORITY,
        "catch_up_wait_s": CATCH_UP_WAIT_S,
        "resolve_wait_s": RESOLVE_WAIT_S,
        "sentinel_wait_s": max(10, 2 * down_after_s),
        "failover_wait_s": failover_wait_s,
        # The stop script waits for replicas to catch up, then up to as long again for a sentinel
        # to accept the failover (twice, when the sentinels gave the first one up), then for the
        # new master. Writes stay paused all along; the pause then ends with the process.
        "pause_ms": (3 * CATCH_UP_WAIT_S + failover_wait_s + 5) * 1000,
        "grace_period_s": grace_period(stop_needs_s(settings)),
    }


# What a stop needs beside the failover's own wait (failover-timeout + 5 s): three catch-up
# waits, 5 s of slack, then redis' shutdown-timeout, and 5 s for the processes to end.
_STOP_BESIDE_FAILOVER_S = 3 * CATCH_UP_WAIT_S + 5 + SHUTDOWN_TIMEOUT_S + 5


def stop_needs_s(settings) -> int:
    """Seconds a graceful stop of the master may take with these settings: catching its
    replicas up, a failover (asked twice if the sentinels give the first up) and the shutdown."""
    return int(math.ceil(settings.failover_timeout_ms / 1000.0)) + _STOP_BESIDE_FAILOVER_S


def grace_period(needed_s: int) -> int:
    """The termination grace period for a stop that needs ``needed_s``: the next of 60, 120, 240,
    480... seconds."""
    grace = GRACE_STEP_S
    while grace < needed_s:
        grace *= 2
    return grace


def check_stop_fits(settings, grace_s) -> None:
    """Raise :class:`redis_k8s.settings.ConfigError` when a graceful stop with ``settings`` would
    outlast ``grace_s``, the grace period the pods were created with (None: not known yet, no
    spec was sent). Kubernetes kills a pod's processes at the end of its grace period: a master
    killed in the middle of its handover leaves the failover to the sentinels' own detection."""
    if grace_s is None or stop_needs_s(settings) <= grace_s:
        return
    raise ConfigError("failover-timeout", (
        "{} needs pods that may take {} s to stop; these pods were created with {} s, which "
        "Juju keeps for the application's life: set failover-timeout to {} or less").format(
            settings.failover_timeout_ms, stop_needs_s(settings), grace_s,
            (grace_s - _STOP_BESIDE_FAILOVER_S) * 1000))


def sources_digest() -> str:
    """A digest of the raw template sources (not the rendered files): an upgrade that brings new
    scripts or base configuration changes it, so the pods roll and run them; option values do not."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(templating.TEMPLATES_DIR)):
        with open(os.path.join(templating.TEMPLATES_DIR, name), "rb") as handle:
            digest.update(name.encode() + b"\0" + handle.read() + b"\0")
    return digest.hexdigest()[:16]


def template_context(app: str, settings) -> dict:
    """Return the context every template is rendered with."""
    context = {
        "data_dir": DATA_DIR,
        "scripts_dir": SCRIPTS_DIR,
        "shared_dir": SHARED_DIR,
        "password_file": AUTH_DIR + "/" + SECRET_KEY,
        "metrics_password_file": AUTH_DIR + "/" + METRICS_SECRET_KEY,
        "metrics_user": metrics_user.NAME,
        "metrics_redis_permissions": metrics_user.permissions(metrics_user.REDIS_COMMANDS),
        "metrics_sentinel_permissions": metrics_user.permissions(metrics_user.SENTINEL_COMMANDS),
        # Only where the mode is read: nothing rendered here depends on it (see tls_env).
        "tls_dir": TLS_DIR,
        "tls_env_file": TLS_DIR + "/" + TLS_ENV_FILE,
        "tls_ca_file": TLS_DIR + "/" + TLS_CA_FILE,
        "redis_socket": REDIS_SOCKET,
        "sentinel_socket": SENTINEL_SOCKET,
        "sentinel_conf_dir": SENTINEL_CONF_DIR,
        "master_name": naming.master_name(app),
        "port": settings.port,
        "sentinel_port": settings.sentinel_port,
        "down_after_ms": settings.down_after_ms,
        "failover_timeout_ms": settings.failover_timeout_ms,
        "min_replicas_to_write": settings.min_replicas_to_write_option,
        "min_replicas_max_lag": settings.min_replicas_max_lag,
        "appendonly": settings.appendonly,
        "maxmemory": settings.maxmemory,
        "maxmemory_policy": settings.maxmemory_policy,
        # redis-config and sentinel-config lines, as configuration file lines take them.
        "redis_config": [(name, custom_config.file_value(value)) for name, value in settings.custom.redis],
        "sentinel_config": [(name, custom_config.file_value(value))
                            for name, value in settings.custom.sentinel],
        # For tls.env alone (the Secret, switched live): a ConfigMap template using them would
        # roll the pods on every switch.
        "tls": settings.tls,
        "tls_auth_clients": settings.tls_auth_clients,
        "non_tls_port": settings.non_tls_port,
    }
    context.update(timings(settings))
    return context


def volume_files(app: str, settings) -> dict:
    """Return ``{volume name: {file name: content}}`` of the three ConfigMap volumes."""
    context = template_context(app, settings)

    def render(names):
        return {name: templating.render(name, **context) for name in names}

    return {
        REDIS_SCRIPTS_VOLUME: render(REDIS_FILES),
        SENTINEL_SCRIPTS_VOLUME: render(SENTINEL_SCRIPT_FILES),
        SENTINEL_CONF_VOLUME: render(SENTINEL_CONF_FILES),
    }


def mount_paths() -> dict:
    """Return ``{volume name: mount path}``."""
    return {
        REDIS_SCRIPTS_VOLUME: SCRIPTS_DIR,
        SENTINEL_SCRIPTS_VOLUME: SCRIPTS_DIR,
        SENTINEL_CONF_VOLUME: SENTINEL_CONF_DIR,
        SHARED_VOLUME: SHARED_DIR,
        AUTH_VOLUME: AUTH_DIR,
        TLS_VOLUME: TLS_DIR,
    }


def environment(app: str, model: str, settings, domain: str = naming.CLUSTER_DOMAIN) -> dict:
    """Return the ``envConfig`` of both containers: no password (env from a Secret is read only when
    a container starts; the scripts read the Secret's file instead). ``PEER_DOMAIN`` ends in the
    cluster DNS ``domain``, so the scripts never assume one."""
    return {
        "POD_IP": {"field": {"path": "status.podIP", "api-version": "v1"}},
        "POD_NAME": {"field": {"path": "metadata.name", "api-version": "v1"}},
        "APP_NAME": app,
        "MODEL_NAME": model,
        "PEER_DOMAIN": naming.peer_domain(app, model, domain),
        "REDIS_PORT": str(settings.port),
        "SENTINEL_PORT": str(settings.sentinel_port),
        "MASTER_NAME": naming.master_name(app),
        # Changes with the scripts' sources only: an upgrade rolls the pods, an option does not.
        "REDIS_K8S_SOURCES": sources_digest(),
    }


def _image_field(image, field):
    if isinstance(image, dict):
        return image.get(field) or ""
    return getattr(image, field, "") or ""


def _probe(command, initial_delay, period, timeout, failures):
    return {
        "exec": {"command": command},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def _files_volume(name, mount_path, files):
    return {
        "name": name,
        "mountPath": mount_path,
        "files": [{"path": path, "content": files[path]} for path in sorted(files)],
    }


def _shared_dir_volume():
    return {"name": SHARED_VOLUME, "mountPath": SHARED_DIR, "emptyDir": {}}


def _shared_volumes(secret_name, tls_secret_name):
    """The volumes both containers mount, identical in each (Juju makes one pod volume of them)."""
    return [
        _shared_dir_volume(),
        {"name": AUTH_VOLUME, "mountPath": AUTH_DIR,
         "secret": {"name": secret_name, "defaultMode": 0o400}},
        {"name": TLS_VOLUME, "mountPath": TLS_DIR,
         "secret": {"name": tls_secret_name, "defaultMode": 0o400}},
    ]


def _image_details(image):
    return {
        "imagePath": _image_field(image, "registry_path"),
        "username": _image_field(image, "username"),
        "password": _image_field(image, "password"),
    }


def exporter_container(exporter_image, settings, secret_name: str) -> dict:
    """The ``redis-exporter`` container: oliver006/redis_exporter on the pod's address at
    ``metrics-port``, exporting the pod's redis at ``/metrics`` and, through its multi-target
    ``/scrape?target=`` endpoint, the pod's sentinel.

    It reaches both through their unix sockets in the pod's shared emptyDir (mounted here too):
    the same whether TLS is on or off, so switching TLS changes nothing here and the exporter
    needs no certificate. redis_exporter v1.45 dials ``unix://<path>`` (``DialURL`` refuses the
    scheme, then it dials ``unix`` with the path: ``exporter/redis.go``, ``connectToRedis``),
    for ``--redis.addr`` and for ``/scrape?target=`` alike (checked with the Debian build of
    1.45.0). The upstream image runs as uid 59000, so the sockets are ``unixsocketperm 777``:
    the password still guards them, and nothing outside the pod sees the emptyDir.

    The upstream image has no shell, so the exporter is configured by arguments, which
    Kubernetes expands (``$(POD_IP)``) from the container's environment, and by environment
    variables it reads itself, once, when it starts: it logs in as the metrics user
    (``REDIS_USER``, :mod:`redis_k8s.metrics_user`) with that user's password, from the Secret's
    ``metrics-password`` key (a reference: the password is in neither the spec nor a ConfigMap).
    That password never changes, so a rotation of the main one never stops the scrapes. It is
    kept from ``CONFIG GET``, which the user may not run (it answers the main password).
    No readiness probe: a pod's readiness must say whether its redis serves, not its exporter.
    """
    port = settings.metrics_port
    return {
        "name": EXPORTER_CONTAINER,
        "imageDetails": _image_details(exporter_image),
        "imagePullPolicy": "IfNotPresent",
        "command": [EXPORTER_BINARY],
        "args": [
            "--web.listen-address=$(POD_IP):{}".format(port),
            "--redis.addr=unix://" + REDIS_SOCKET,
            "--connection-timeout=" + EXPORTER_CONNECT_TIMEOUT,
            "--redis-only-metrics",
            # Not CONFIG: the metrics user may not run CONFIG GET (see redis_k8s.metrics_user).
            "--config-command=" + metrics_user.CONFIG_COMMAND,
        ],
        "ports": [{"name": "metrics", "containerPort": port, "protocol": "TCP"}],
        "volumeConfig": [_shared_dir_volume()],
        "envConfig": {
            "POD_IP": {"field": {"path": "status.podIP", "api-version": "v1"}},
            "REDIS_USER": metrics_user.NAME,
            "REDIS_PASSWORD": {"secret": {"name": secret_name, "key": METRICS_SECRET_KEY}},
        },
        "kubernetes": {
            "livenessProbe": {
                "httpGet": {"path": "/health", "port": port},
                "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 5,
                "failureThreshold": 6,
            },
        },
    }


def redis_ports(settings) -> list:
    """The ``redis`` container's ports: ``redis-port`` (TLS or plain, as the mode says) and, when
    ``non-tls-port`` is set, the plain port redis also serves while TLS is on."""
    ports = [{"name": "redis", "containerPort": settings.port, "protocol": "TCP"}]
    non_tls_port = getattr(settings, "non_tls_port", 0) or 0
    if non_tls_port > 0:
        ports.append({"name": "redis-non-tls", "containerPort": non_tls_port, "protocol": "TCP"})
    return ports


def render(app: str, model: str, image, settings, secret_name: str,
           domain: str = naming.CLUSTER_DOMAIN, exporter_image=None,
           tls_secret_name: str = None, grace_s: int = None) -> PodSpec:
    """Return the pod spec of the application.

    Args:
        app: application name.
        model: model name (the Kubernetes namespace).
        image: the OCI image info, with ``registry_path``, ``username`` and ``password``
            (attributes or dict keys).
        settings: a :class:`redis_k8s.settings.Settings`.
        secret_name: name of the Secret holding the Redis password (see :func:`with_secret`).
        domain: the cluster's DNS domain (the charm reads it in the operator).
        exporter_image: the redis-exporter image info, as ``image``; None: no exporter
            container.
        tls_secret_name: name of the TLS Secret (see :func:`with_tls_secret`), by default
            :func:`naming.tls_secret_name`. The spec mounts it whatever the TLS mode: the mode and
            the certificates are only in the Secret, so switching TLS never rolls the pods.
        grace_s: the termination grace period the pods were created with (the first spec's);
            None: the one these settings need (:func:`grace_period`).
    """
    if tls_secret_name is None:
        tls_secret_name = naming.tls_secret_name(app)
    files = volume_files(app, settings)
    env = environment(app, model, settings, domain)
    image_details = _image_details(image)
    probe_timeout = CLI_TIMEOUT_S + 2
    redis = {
        "name": "redis",
        "imageDetails": dict(image_details),
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", SCRIPTS_DIR + "/redis-start.sh"],
        "ports": redis_ports(settings),
        "envConfig": copy.deepcopy(env),
        "volumeConfig": [_files_volume(REDIS_SCRIPTS_VOLUME, SCRIPTS_DIR, files[REDIS_SCRIPTS_VOLUME])]
        + _shared_volumes(secret_name, tls_secret_name),
        "kubernetes": {
            "readinessProbe": _probe(["/bin/sh", SCRIPTS_DIR + "/probe-redis.sh", "readiness"],
                                     1, 2, probe_timeout, 3),
            "livenessProbe": _probe(["/bin/sh", SCRIPTS_DIR + "/probe-redis.sh", "liveness"],
                                    30, 10, probe_timeout, 6),
        },
    }
    sentinel = {
        "name": "sentinel",
        "imageDetails": dict(image_details),
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", SCRIPTS_DIR + "/sentinel-start.sh"],
        "ports": [{"name": "sentinel", "containerPort": settings.sentinel_port, "protocol": "TCP"}],
        "envConfig": copy.deepcopy(env),
        "volumeConfig": [
            _files_volume(SENTINEL_SCRIPTS_VOLUME, SCRIPTS_DIR, files[SENTINEL_SCRIPTS_VOLUME]),
            _files_volume(SENTINEL_CONF_VOLUME, SENTINEL_CONF_DIR, files[SENTINEL_CONF_VOLUME]),
        ] + _shared_volumes(secret_name, tls_secret_name),
        "kubernetes": {
            "readinessProbe": _probe(["/bin/sh", SCRIPTS_DIR + "/probe-sentinel.sh"], 1, 2, probe_timeout, 3),
            # Sentinel may wait up to RESOLVE_WAIT_S for the master's name before it listens.
            "livenessProbe": _probe(["/bin/sh", SCRIPTS_DIR + "/probe-sentinel.sh"],
                                    RESOLVE_WAIT_S + 10, 10, probe_timeout, 6),
        },
    }
    # Juju mounts the storage (/var/lib/redis) in the first container only: `redis` stays first,
    # and nothing the sentinel or exporter containers need is on the storage.
    containers = [redis, sentinel]
    if exporter_image is not None:
        containers.append(exporter_container(exporter_image, settings, secret_name))
    spec = {"version": 3, "containers": containers}
    k8s_resources = {
        "kubernetesResources": {
            "pod": {"terminationGracePeriodSeconds": (
                timings(settings)["grace_period_s"] if grace_s is None else grace_s)},
        },
    }
    return PodSpec(spec=spec, k8s_resources=k8s_resources)


def with_secret(k8s_resources: dict, secret_name: str, password: str,
                metrics_password: str = None) -> dict:
    """Return a copy of ``k8s_resources`` (a PodSpec's) with the Secret holding the Redis password
    and, given one, the metrics user's (replacing a Secret of the same name); the spec itself
    never carries a password."""
    merged = copy.deepcopy(k8s_resources)
    resources = merged.setdefault("kubernetesResources", {})
    secrets = [item for item in resources.get("secrets", []) if item.get("name") != secret_name]
    resources["secrets"] = secrets + [{
        "name": secret_name,
        "type": "Opaque",
        "stringData": dict({SECRET_KEY: password},
                           **({METRICS_SECRET_KEY: metrics_password} if metrics_password else {})),
    }]
    return merged


def with_tls_secret(k8s_resources: dict, secret_name: str, data: dict) -> dict:
    """Return a copy of ``k8s_resources`` with the TLS Secret ``secret_name`` holding ``data``
    (``{key: text}``: ``tls.env`` always, the PEM files while TLS is on; see
    :func:`redis_k8s.tls_env.secret_data`), replacing a Secret of the same name."""
    if TLS_ENV_FILE not in data:
        raise ValueError("the TLS Secret must hold {}".format(TLS_ENV_FILE))
    merged = copy.deepcopy(k8s_resources)
    resources = merged.setdefault("kubernetesResources", {})
    secrets = [item for item in resources.get("secrets", []) if item.get("name") != secret_name]
    resources["secrets"] = secrets + [{"name": secret_name, "type": "Opaque", "stringData": dict(data)}]
    return merged
