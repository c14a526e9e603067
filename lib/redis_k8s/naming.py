"""Names of pods, services and objects, shared by the pod spec, the scripts and the charm.

Per-pod identity comes from the stable DNS names of the StatefulSet pods behind the headless
``<app>-endpoints`` Service; pod IPs change whenever a pod is recreated. The names end in the
cluster's DNS domain, which is ``cluster.local`` only by default: the charm learns it from the
operator pod's ``/etc/resolv.conf`` (:func:`cluster_domain`).

Pods are ``<app>-0..N-1`` for N units, whatever the units' numbers: a StatefulSet names its pods
by ordinal, and Juju never reuses a unit number (after a scale 3 -> 2 -> 3 the units are /0, /1
and /3, on pods 0, 1 and 2). Nothing here maps a unit number to a pod.
"""

CLUSTER_DOMAIN = "cluster.local"  # Kubernetes' default, when the real one cannot be read


def cluster_domain(resolv_conf: str, model: str) -> str:
    """Return the cluster DNS domain named by a pod's ``resolv.conf`` text.

    The kubelet writes ``search <namespace>.svc.<domain> svc.<domain> <domain>`` into every pod
    (the operator's namespace is the model's); the last ``search`` line counts, as in the
    resolver. Falls back to ``svc.<domain>`` alone, then to :data:`CLUSTER_DOMAIN`.
    """
    searched = []
    for line in resolv_conf.splitlines():
        fields = line.split()
        if fields[:1] == ["search"]:
            searched = [name.rstrip(".") for name in fields[1:]]
    in_model = "{}.svc.".format(model)
    for name in searched:
        if name.startswith(in_model) and len(name) > len(in_model):
            return name[len(in_model):]
    for name in searched:
        if name.startswith("svc.") and len(name) > len("svc."):
            return name[len("svc."):]
    return CLUSTER_DOMAIN


def master_name(app: str) -> str:
    """Return the Sentinel master group name of an application (the application name)."""
    return app


def pod_name(app: str, ordinal: int) -> str:
    """Return the name of the pod with this ordinal, ``<app>-<ordinal>``."""
    if ordinal < 0:
        raise ValueError("ordinal must be >= 0, got {}".format(ordinal))
    return "{}-{}".format(app, ordinal)


def ordinal_of(app: str, name: str) -> int:
    """Return the ordinal in a pod name ``<app>-<n>`` or pod FQDN.

    Raises:
        ValueError: the name is not one of this application's pods.
    """
    short = name.split(".", 1)[0]
    prefix = app + "-"
    rest = short[len(prefix):]
    if not short.startswith(prefix) or not rest.isdigit():
        raise ValueError("{!r} is not a pod of application {!r}".format(name, app))
    return int(rest)


def pod_name_of(fqdn: str) -> str:
    """Return the pod name of a pod FQDN (its first label)."""
    return fqdn.split(".", 1)[0]


def pod_at_address(address: str, fqdns, resolve) -> str:
    """Return the name of the pod whose DNS name resolves to ``address``, or None.

    ``resolve(name)`` gives a name's address and raises ``OSError`` when it has none (a pod
    without an address yet has no DNS record).
    """
    for fqdn in fqdns:
        try:
            if resolve(fqdn) == address:
                return pod_name_of(fqdn)
        except OSError:
            continue
    return None


def peer_domain(app: str, model: str, domain: str = CLUSTER_DOMAIN) -> str:
    """Return the DNS domain of the pods, ``<app>-endpoints.<model>.svc.<domain>``."""
    return "{}-endpoints.{}.svc.{}".format(app, model, domain)


def pod_fqdn(app: str, model: str, ordinal: int, domain: str = CLUSTER_DOMAIN) -> str:
    """Return the stable DNS name of one pod."""
    return "{}.{}".format(pod_name(app, ordinal), peer_domain(app, model, domain))


def all_pod_fqdns(app: str, model: str, count: int, domain: str = CLUSTER_DOMAIN) -> list:
    """Return the DNS names of pods ``0..count-1``."""
    return [pod_fqdn(app, model, n, domain) for n in range(count)]


def secret_name(app: str) -> str:
    """Return the name of the Kubernetes Secret holding the Redis password."""
    return "{}-auth".format(app)


def tls_secret_name(app: str) -> str:
    """Return the name of the Kubernetes Secret holding the TLS mode and material (mounted at
    ``podspec.TLS_DIR`` in the redis and sentinel containers)."""
    return "{}-tls".format(app)
