"""Thin ctypes wrappers over the Linux calls Python 3.11 does not expose (unshare, mount)."""

import ctypes
import os

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def unshare_mount_ns():
    """Give the calling (single-threaded) process a private copy of the mount table."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")


def bind(src, dst, readonly=False):
    """Bind-mount ``src`` on ``dst`` (both must exist), optionally read-only."""
    _check(_libc.mount(src.encode(), dst.encode(), None, MS_BIND, None), "bind %s" % dst)
    if readonly:
        _check(_libc.mount(b"none", dst.encode(), None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
               "remount ro %s" % dst)


def ensure_mountpoint(path, is_dir=True):
    """Create a missing mount point; returns what had to be created, outermost first."""
    created = []
    parent = os.path.dirname(path) if not is_dir else path
    probe = parent
    missing = []
    while probe and probe != "/" and not os.path.lexists(probe):
        missing.append(probe)
        probe = os.path.dirname(probe)
    for d in reversed(missing):
        os.makedirs(d, exist_ok=True)
        created.append(d)
    if not is_dir and not os.path.lexists(path):
        open(path, "a").close()
        created.append(path)
    return created


def starttime(pid):
    """The kernel start time of ``pid`` (clock ticks), or None if it is gone or a zombie.

    Pairs (pid, starttime) identify a process across pid reuse.
    """
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(pid, start):
    """True when ``pid`` still runs and is the same process as when ``start`` was recorded."""
    return bool(pid) and starttime(pid) == start


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def environ_has(pid, marker):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return marker.encode() in f.read().split(b"\0")
    except OSError:
        return False


def environ_of_nspid(parent, nspid):
    """The environment of the child of ``parent`` whose pid in its own namespace is ``nspid``
    (a container's main process, seen from the host), or None."""
    for pid in children(parent):
        try:
            with open("/proc/%d/status" % pid) as f:
                ns = [line.split()[1:] for line in f if line.startswith("NSpid:")]
            if ns and ns[0] and int(ns[0][-1]) == nspid:
                with open("/proc/%d/environ" % pid, "rb") as f:
                    entries = f.read().split(b"\0")
                return dict(e.decode(errors="replace").split("=", 1) for e in entries if b"=" in e)
        except (OSError, ValueError):
            continue
    return None


def setns_mount(pid):
    """Enter the mount namespace of ``pid`` (used for exec probes inside a container's view)."""
    fd = os.open("/proc/%d/ns/mnt" % pid, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, CLONE_NEWNS), "setns")
    finally:
        os.close(fd)
