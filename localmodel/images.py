"""The image store: container root filesystems built from Debian packages, found by image name.

A Kubernetes node pulls an image from a registry; the local model has no registry, so each image
it can run is a recipe (Debian packages installed by ``mmdebstrap``) built once into a directory
tree. The store lives outside every model home (``$LOCALMODEL_IMAGES``, default
``/var/cache/localmodel-images``) and is shared by all the models of the machine. A build is
keyed by a hash of its recipe, so changing a recipe builds it again and an unchanged one is reused.

Image references map to recipes by the last element of the repository path and the tag
(``redis:7.0``, ``docker.io/library/redis:7.0`` and ``localhost:32000/redis:7.0@sha256:...`` all
select ``redis:7.0``); with no tag, the tag is ``latest``, as the kubelet applies it. A digest
cannot be checked against a locally built tree and is ignored.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from localmodel.runtime import rootfs
from localmodel.state import atomic_write

STORE_ENV = "LOCALMODEL_IMAGES"
SUITE = "bookworm"
# Bumped when the build procedure (not a recipe) changes, so every image is built again.
BUILD_VERSION = 1
# Man pages, docs and translations are not part of a server image.
DPKG_EXCLUDES = ("/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*",
                 "/usr/share/info/*")
# What every image has, like the redis:7.0 image (Debian bookworm based): a POSIX shell,
# coreutils and getent.
BASE_REQUIRED = ("bin/sh", "usr/bin/env", "usr/bin/cat", "usr/bin/getent", "etc/os-release")


class Recipe:
    def __init__(self, name, tags, packages, required=(), absent=(), users=(), links=()):
        self.name = name
        self.tags = tuple(tags)
        self.packages = tuple(packages)
        self.required = BASE_REQUIRED + tuple(required)
        self.absent = tuple(absent)
        self.users = tuple(users)
        # ``(path, target)`` symlinks made after the packages are installed: where an upstream
        # image has a binary that the Debian package installs elsewhere.
        self.links = tuple(tuple(link) for link in links)

    def key(self):
        """A hash of everything that shapes the built tree: a new one means a new build."""
        data = json.dumps({"build": BUILD_VERSION, "suite": SUITE, "variant": "minbase",
                           "packages": self.packages, "required": self.required,
                           "absent": self.absent, "users": self.users,
                           "excludes": DPKG_EXCLUDES,
                           **({"links": self.links} if self.links else {})}, sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()[:16]


RECIPES = (
    # The workload image of redis-k8s: what the official redis:7.0 image has (Debian bookworm,
    # a shell, coreutils, getent, redis 7.0 server, sentinel and cli, a `redis` user) and,
    # like it, no python.
    Recipe("redis", ("7.0", "7"), ("redis-server", "redis-sentinel", "redis-tools"),
           required=("usr/bin/redis-server", "usr/bin/redis-sentinel", "usr/bin/redis-cli"),
           absent=("usr/bin/python3",), users=("redis",)),
    # The local model's test charm (tests/localmodel/charms/echo) runs a python server, which
    # needs more of the standard library than python3-minimal has (socketserver).
    Recipe("lm-echo", ("1.0", "1"), ("python3",), required=("usr/bin/python3",)),
    # redis-k8s' exporter image: upstream oliver006/redis_exporter:v1.45.0 is the Go binary
    # alone, at /redis_exporter (FROM scratch); Debian bookworm packages the same release
    # (prometheus-redis-exporter 1.45.0) as /usr/bin/prometheus-redis-exporter, linked there.
    Recipe("redis_exporter", ("v1.45.0", "1.45.0"), ("prometheus-redis-exporter",),
           required=("usr/bin/prometheus-redis-exporter", "redis_exporter"),
           links=(("redis_exporter", "/usr/bin/prometheus-redis-exporter"),)),
)


class ImageError(Exception):
    pass


# Machine-wide, not in the clone: every clone and worktree on the machine (and CI's fresh clone,
# run on the session's machine) reuses one build.
DEFAULT_STORE = "/var/cache/localmodel-images"


def store_dir():
    return os.path.abspath(os.environ.get(STORE_ENV) or DEFAULT_STORE)


def parse_reference(ref):
    """``(name, tag)`` of an image reference: last repository path element, tag or latest."""
    ref = ref.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    name, _, tag = last.partition(":")
    return name, tag or "latest"


def recipe_for(ref):
    name, tag = parse_reference(ref)
    for r in RECIPES:
        if r.name == name and tag in r.tags:
            return r
    return None


def recipe_named(name):
    """The recipe for ``name`` given as a recipe name or an image reference."""
    for r in RECIPES:
        if r.name == name:
            return r
    r = recipe_for(name)
    if r is None:
        raise ImageError('no recipe for image "%s" (known: %s)' % (
            name, ", ".join("%s:%s" % (r.name, r.tags[0]) for r in RECIPES)))
    return r


def _image_dir(store, recipe):
    return os.path.join(store, "%s-%s" % (recipe.name, recipe.key()))


def lookup(ref, store=None):
    """The root filesystem the image ``ref`` selects, or None when it is not in the store."""
    recipe = recipe_for(ref)
    if recipe is None:
        return None
    d = _image_dir(store or store_dir(), recipe)
    if not os.path.exists(os.path.join(d, "stamp.json")):
        return None
    return os.path.join(d, "rootfs")


def _host_sources(suite):
    """The host's apt sources for ``suite`` (deb822 text), so the build uses the same mirror."""
    stanzas = []
    files = []
    if os.path.exists("/etc/apt/sources.list"):
        files.append("/etc/apt/sources.list")
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        files += [os.path.join(d, f) for f in sorted(os.listdir(d))
                  if f.endswith((".list", ".sources"))]
    for path in files:
        with open(path) as f:
            text = f.read()
        if path.endswith(".list"):
            for line in text.splitlines():
                m = re.match(r"^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
                if m and m.group(3).split("-")[0] == suite:
                    stanzas.append("Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\n" % (
                        m.group(2), m.group(3), m.group(4).strip()))
            continue
        for block in re.split(r"\n\s*\n", text):
            lines = [ln for ln in block.splitlines() if ln.strip() and
                     not ln.lstrip().startswith("#")]
            fields = dict(ln.split(":", 1) for ln in lines if ":" in ln and
                          not ln.startswith((" ", "\t")))
            suites = fields.get("Suites", "").split()
            types = fields.get("Types", "").split()
            if "deb" in types and any(s.split("-")[0] == suite for s in suites) and \
                    fields.get("Enabled", "yes").strip() != "no":
                stanzas.append("\n".join(lines) + "\n")
    if not stanzas:
        raise ImageError("no apt source for %s in /etc/apt/sources.list(.d)" % suite)
    return "\n".join(stanzas)


def _host_apt_options():
    """Host apt settings the mirror may need (proxy, tolerance of old Release files)."""
    keys = ("Acquire::Check-Valid-Until", "Acquire::Check-Date", "Acquire::http::Proxy",
            "Acquire::https::Proxy")
    out = []
    r = subprocess.run(["apt-config", "dump"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        k, _, v = line.partition(" ")
        if k in keys:
            out.append("%s %s" % (k, v.rstrip(";")))
    return out


def check_tree(recipe, root):
    """Fail unless the built tree has what the recipe promises and nothing it must not have."""
    def exists(path):
        # Symlinks resolve inside the tree, never into the host's.
        return os.path.lexists(os.path.join(root, rootfs.resolve(root, path).lstrip("/")))
    missing = [p for p in recipe.required if not exists(p)]
    present = [p for p in recipe.absent if exists(p)]
    with open(os.path.join(root, rootfs.resolve(root, "/etc/passwd").lstrip("/"))) as f:
        users = {line.split(":", 1)[0] for line in f}
    no_user = [u for u in recipe.users if u not in users]
    problems = (["missing /%s" % p for p in missing] + ["has /%s" % p for p in present] +
                ["no user %s" % u for u in no_user])
    with open(os.path.join(root, rootfs.resolve(root, "/etc/os-release").lstrip("/"))) as f:
        if "VERSION_CODENAME=%s" % SUITE not in f.read():
            problems.append("not Debian %s" % SUITE)
    if problems:
        raise ImageError("image %s: %s" % (recipe.name, "; ".join(problems)))


def _packages(root):
    r = subprocess.run(["dpkg-query", "--admindir", os.path.join(root, "var/lib/dpkg"),
                        "-W", "-f", "${Package} ${Version}\n"], capture_output=True, text=True,
                       check=True)
    return sorted(r.stdout.splitlines())


def build(name, store=None, log=sys.stderr):
    """Build the image ``name`` (a recipe name or reference) unless it is built; returns its root.

    Concurrent builds of one image (two test lanes) wait for each other through a lock file.
    """
    recipe = recipe_named(name)
    store = store or store_dir()
    os.makedirs(store, exist_ok=True)
    final = _image_dir(store, recipe)
    with open(os.path.join(store, ".lock-" + recipe.name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(final, "stamp.json")):
            return os.path.join(final, "rootfs")
        if shutil.which("mmdebstrap") is None:
            raise ImageError("mmdebstrap not found: run scripts/setup.sh (apt-get install "
                             "mmdebstrap)")
        work = tempfile.mkdtemp(prefix=".build-%s-" % recipe.name, dir=store)
        os.chmod(work, 0o755)
        try:
            sources = os.path.join(work, "sources.sources")
            with open(sources, "w") as f:
                f.write(_host_sources(SUITE))
            root = os.path.join(work, "rootfs")
            argv = ["mmdebstrap", "--mode=root", "--variant=minbase", "--quiet",
                    "--include=" + ",".join(recipe.packages)]
            argv += ["--aptopt=" + o for o in _host_apt_options()]
            argv += ["--dpkgopt=path-exclude=" + p for p in DPKG_EXCLUDES]
            argv += [SUITE, root, sources]
            started = time.time()
            print("image %s: building with mmdebstrap..." % recipe.name, file=log, flush=True)
            r = subprocess.run(argv, stdout=log, stderr=log)
            if r.returncode != 0:
                raise ImageError("image %s: mmdebstrap failed (exit %d)"
                                 % (recipe.name, r.returncode))
            for path, target in recipe.links:
                os.symlink(target, os.path.join(root, path))
            check_tree(recipe, root)
            stamp = {"name": recipe.name, "tags": list(recipe.tags), "key": recipe.key(),
                     "suite": SUITE, "packages": _packages(root),
                     "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "seconds": round(time.time() - started, 1)}
            atomic_write(os.path.join(work, "stamp.json"), json.dumps(stamp, indent=1))
            os.rename(work, final)
            print("image %s: built in %.0fs" % (recipe.name, stamp["seconds"]), file=log,
                  flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        _prune(store, recipe)
        return os.path.join(final, "rootfs")


def _prune(store, recipe):
    """Drop older builds of ``recipe``; a pod still using one keeps its mounted tree open."""
    keep = os.path.basename(_image_dir(store, recipe))
    for d in os.listdir(store):
        if d.startswith(recipe.name + "-") and d != keep and \
                re.fullmatch(re.escape(recipe.name) + r"-[0-9a-f]{16}", d):
            shutil.rmtree(os.path.join(store, d), ignore_errors=True)


def build_all(store=None, log=sys.stderr):
    return [build(r.name, store, log) for r in RECIPES]


def listing(store=None):
    """``[(reference, root or None)]`` for every image the store knows."""
    store = store or store_dir()
    return [("%s:%s" % (r.name, r.tags[0]), lookup("%s:%s" % (r.name, r.tags[0]), store))
            for r in RECIPES]
