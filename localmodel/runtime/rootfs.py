"""A container's root filesystem, assembled inside its own mount namespace, as a runtime does.

The image tree is the read-only lower layer of an overlay; the writable layer is fresh for each
container start (a restarted container starts from its image again, as with containerd) and
lives in the pod's directory under the model home. The spec's volumes are bind-mounted inside
the overlay (their mount points are created in the writable layer, never on the host), then
/proc, a minimal /dev and the files Kubernetes manages (/etc/hosts, /etc/hostname,
/etc/resolv.conf). ``pivot_root`` makes it the namespace's root, so nothing else of the host
shows, and anyone entering the namespace (exec, probes: ``setns``) lands in it.
"""

import os
import shutil

from localmodel.runtime import linux

# Device nodes a container runtime provides (the OCI runtime spec's default devices), bound from
# the host's.
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}


def layer_dir(pod_dir, container):
    return os.path.join(pod_dir, "rootfs", container)


def _inside(root, path):
    """``path`` (absolute, in the container) below ``root``, refusing ``..`` escapes."""
    full = os.path.normpath(os.path.join(root, path.lstrip("/")))
    if full != root and not full.startswith(root + "/"):
        raise OSError("mount path %s leaves the container root" % path)
    return full


def _mountpoint(root, path, is_dir):
    """Create the mount point ``path`` inside the container root (in its writable layer).

    Symlinks in the image are followed within the container root, never into the host's tree.
    """
    target = _inside(root, resolve(root, path))
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            open(target, "a").close()
    return target


def resolve(root, path):
    """``path`` with symlinks resolved as the container would (absolute links stay inside)."""
    parts = [p for p in path.split("/") if p]
    out = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if out:
                out.pop()
            continue
        if part == ".":
            continue
        full = os.path.join(root, *out, part)
        if os.path.islink(full):
            hops += 1
            if hops > 40:
                raise OSError("too many levels of symbolic links in %s" % path)
            link = os.readlink(full)
            if link.startswith("/"):
                out = []
            parts = [p for p in link.split("/") if p] + parts
            continue
        out.append(part)
    return "/" + "/".join(out)


def prepare(image_root, layer):
    """Mount the overlay of ``image_root`` on ``layer``/root with a fresh writable layer."""
    shutil.rmtree(layer, ignore_errors=True)
    dirs = {k: os.path.join(layer, k) for k in ("upper", "work", "root")}
    for d in dirs.values():
        os.makedirs(d)
    linux.mount("overlay", dirs["root"], "overlay", 0,
                "lowerdir=%s,upperdir=%s,workdir=%s" % (image_root, dirs["upper"], dirs["work"]))
    return dirs["root"]


def populate(root, mounts, files):
    """Bind the spec's volumes, /proc, /dev and the managed ``{container path: host file}``."""
    for m in mounts:
        dst = _mountpoint(root, m["dst"], os.path.isdir(m["src"]))
        linux.bind(m["src"], dst, m["ro"])
    proc = _mountpoint(root, "/proc", True)
    # A new proc instance shows the pod's pid namespace, which this process is in.
    linux.mount("proc", proc, "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    dev = _mountpoint(root, "/dev", True)
    linux.mount("tmpfs", dev, "tmpfs", linux.MS_NOSUID, "mode=755,size=64k")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            open(os.path.join(dev, name), "a").close()
            linux.bind("/dev/" + name, os.path.join(dev, name))
    for name, target in DEV_LINKS.items():
        os.symlink(target, os.path.join(dev, name))
    for d in ("shm", "pts"):
        os.mkdir(os.path.join(dev, d))
    linux.mount("tmpfs", os.path.join(dev, "shm"), "tmpfs",
                linux.MS_NOSUID | linux.MS_NODEV, "mode=1777,size=65536k")
    for path, source in files.items():
        linux.bind(source, _mountpoint(root, path, False))


def enter(root):
    """Make ``root`` the root of this mount namespace and drop the host's tree from it."""
    os.chdir(root)
    linux.pivot_root(".", ".")
    # The old root is now stacked under the new one: detach it, so nothing of the host remains.
    linux.umount(".", linux.MNT_DETACH)
    os.chdir("/")


def build(image_root, layer, mounts, files, workdir):
    """All of the above, in the (single-threaded) child that becomes the container."""
    root = prepare(image_root, layer)
    populate(root, mounts, files)
    # As container runtimes do, a missing working directory is created.
    os.makedirs(_mountpoint(root, workdir, True), exist_ok=True)
    enter(root)
