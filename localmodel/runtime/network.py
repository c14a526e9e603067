"""The model's pod network in nftables: each pod's source address, and partitions.

Pods share the host's network namespace, each with its own loopback address. A process that
connects without binding an address gets the kernel's choice, 127.0.0.1, where in a Kubernetes
pod the source is always the pod's IP. So every pod's processes live in a cgroup of their own
(the pod init joins it before starting a container, and ``exec`` enters it), and the model's
table marks their connections to the model's subnet with the pod's address and rewrites the
source to it (SNAT), as a pod's own network namespace would give it.

A partition is a Kubernetes-level fault (a NetworkPolicy denying the pod's traffic to and from
the other pods, or its node cut off from theirs): packets between a partitioned pod's address and
any other pod's address are dropped, both ways, established connections included; the pod still
reaches itself, and clients that are not pods (the host, 127.0.0.1, the operators) still reach it.

An address a pod had, once no pod has it, is routed nowhere, as in a cluster whose pod is gone:
packets to it are dropped, so a connection to it times out instead of being refused.

One table per model, ``ip localmodel_<model uuid>``, replaced as a whole in one transaction and
deleted by name: two models on a machine never touch each other's rules (their marks are their
own pods' addresses, and each model has its own subnet).
"""

import os
import subprocess

# nft resolves a ``socket cgroupv2`` path under this directory.
CGROUP_BASE = "/sys/fs/cgroup"
LOOPBACK = "127.0.0.1"


class NetworkError(Exception):
    """nft or the cgroup tree refused a change; ``str(e)`` says which and why."""


def table_name(model_uuid):
    """The model's nftables table: named from its identity, never shared."""
    return "localmodel_%s" % model_uuid


def _mountinfo():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            head, _, tail = line.partition(" - ")
            if tail.split()[:1] == ["cgroup2"]:
                fields = head.split()
                yield fields[3], fields[4]


def cgroup2_mount():
    """``(mount point, root in the hierarchy)`` of the cgroup v2 tree nft can name, or None.

    nft names a cgroup by its path under /sys/fs/cgroup, so the tree must be mounted there or
    below it (``/sys/fs/cgroup`` itself, or ``/sys/fs/cgroup/unified`` beside v1 controllers).
    """
    for root, point in _mountinfo():
        if point == CGROUP_BASE or point.startswith(CGROUP_BASE + "/"):
            return point, root
    return None


def model_cgroup(model_uuid):
    """The directory of the model's cgroup (its pods' cgroups are below it)."""
    mount = cgroup2_mount()
    if mount is None:
        raise NetworkError("no cgroup v2 tree mounted under %s" % CGROUP_BASE)
    return os.path.join(mount[0], "localmodel-%s" % model_uuid)


def pod_cgroup(model_uuid, pod):
    return os.path.join(model_cgroup(model_uuid), pod)


def ensure_cgroup(path):
    os.makedirs(path, exist_ok=True)


def join_cgroup(path, pid):
    """Move ``pid`` into the cgroup ``path``; its later children are born there."""
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write("%d\n" % pid)


def remove_cgroups(model_uuid):
    """Remove the model's cgroups (once their processes are gone); True when none is left."""
    try:
        top = model_cgroup(model_uuid)
    except NetworkError:
        return True
    if not os.path.isdir(top):
        return True
    for name in os.listdir(top):
        path = os.path.join(top, name)
        if os.path.isdir(path):
            try:
                os.rmdir(path)
            except OSError:
                pass
    try:
        os.rmdir(top)
    except OSError:
        return False
    return True


def _nft_path(path):
    """``(path as nft names it, level in the hierarchy)`` of a cgroup directory."""
    point, root = cgroup2_mount()
    inside = os.path.relpath(path, point)
    depth = len([p for p in root.split("/") if p]) + len([p for p in inside.split("/") if p])
    return os.path.relpath(path, CGROUP_BASE), depth


def _mark(address):
    """A pod's connection mark: its IPv4 address as a number (unique on the machine)."""
    a, b, c, d = (int(x) for x in address.split("."))
    return "0x%08x" % ((a << 24) | (b << 16) | (c << 8) | d)


def ruleset(table, subnet, pods, partitioned, gone=()):
    """The table's text for ``nft -f``.

    Args:
        table: the table name (``table_name``).
        subnet: the model's ``127.N``; only connections into it take a pod's source address.
        pods: ``[(name, address, cgroup directory)]``, the model's pods with live processes.
        partitioned: names of the pods cut off from the others.
        gone: addresses of pods that no longer exist.
    """
    lines = ["table ip %s {" % table]
    addresses = sorted({address for _, address, _ in pods})
    lines += ["  set pods {", "    type ipv4_addr;"]
    if addresses:
        lines.append("    elements = { %s }" % ", ".join(addresses))
    lines.append("  }")
    lines += ["  chain pod-mark {",
              "    type filter hook output priority mangle; policy accept;"]
    for name, address, cgroup in pods:
        path, level = _nft_path(cgroup)
        lines.append('    ip saddr %s ip daddr %s.0.0/16 socket cgroupv2 level %d "%s" '
                     'meta mark set %s' % (LOOPBACK, subnet, level, path, _mark(address)))
    lines += ["  }", "  chain pod-source {",
              "    type nat hook postrouting priority srcnat; policy accept;"]
    for name, address, cgroup in pods:
        lines.append("    meta mark %s ip saddr %s snat to %s"
                     % (_mark(address), LOOPBACK, address))
    # On loopback every packet comes in again: the input hook sees it with its final source.
    lines += ["  }", "  chain partition {",
              "    type filter hook input priority filter; policy accept;"]
    for name, address, _ in pods:
        if name in partitioned:
            lines.append("    ip saddr %s ip daddr != %s ip daddr @pods drop" % (address, address))
            lines.append("    ip daddr %s ip saddr != %s ip saddr @pods drop" % (address, address))
    lines += ["  }", "  set gone {", "    type ipv4_addr;"]
    if gone:
        lines.append("    elements = { %s }" % ", ".join(sorted(gone)))
    lines += ["  }", "  chain gone-pods {",
              "    type filter hook input priority filter; policy accept;",
              "    ip daddr @gone drop", "  }", "}"]
    return "\n".join(lines) + "\n"


def _nft(args, text=None):
    r = subprocess.run(["nft"] + args, input=text, capture_output=True, text=True)
    return r.returncode, r.stderr.strip()


def apply(table, text):
    """Replace the table by ``text`` in one transaction (no moment without the rules)."""
    rc, err = _nft(["-f", "-"], "add table ip %s\ndelete table ip %s\n%s" % (table, table, text))
    if rc != 0:
        raise NetworkError("nft refused the table %s: %s" % (table, err))


def delete(table):
    """Delete the table if it exists; True when it is gone."""
    rc, err = _nft(["delete", "table", "ip", table])
    return rc == 0 or "No such file or directory" in err


def exists(table):
    return _nft(["list", "table", "ip", table])[0] == 0
