"""A pod's volumes and storage as host directories to bind-mount, all below the model's home.

ConfigMap and Secret volumes (a podspec ``files`` volume is the ConfigMap
``<app>-<volume>-config``, as Juju's k8s provider names it) are projected into each pod's own
directory the way the kubelet's atomic writer (pkg/volume/util/atomic_writer.go) does it: the
files live in a timestamped ``..<time>`` directory, ``..data`` is a symlink to it, and each
visible name is a symlink through ``..data``. An update writes a new timestamped directory and
swaps ``..data`` with a rename, so a reader sees the old set of files or the new one, never a mix.
The controller re-projects a pod's volumes after the kubelet's sync delay (see pods.py).
"""

import hashlib
import json
import os
import re
import shutil
import time

from localmodel import podspec

SAFE = re.compile(r"[^-._a-zA-Z0-9]")
DATA = "..data"


def files_configmap(app, volume):
    """The ConfigMap Juju creates for a ``files`` volume (k8s.go applicationConfigMapName)."""
    return "%s-%s-config" % (app, volume)


def source_data(spec, app):
    """Every ConfigMap and Secret the spec defines: ``{"configmap"|"secret": {name: {k: v}}}``."""
    cms = {name: {k: str(v) for k, v in data.items()}
           for name, data in (spec.get("configMaps") or {}).items()}
    for c in spec.get("containers") or []:
        for vol in c.get("volumeConfig") or []:
            if "files" in vol:
                cms[files_configmap(app, vol["name"])] = {
                    f["path"]: f.get("content", "") for f in vol["files"]}
    return {"configmap": cms, "secret": podspec.secrets(spec)}


def data_hash(spec, app):
    """Changes exactly when the content of some ConfigMap or Secret of the spec changes."""
    text = json.dumps(source_data(spec, app), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


# The share of the volume sync delay before which no pod sees a change (a floor, so a change is
# never seen at once; a kubelet whose pod sync happens to be due may project it sooner).
EARLIEST_SYNC = 0.25


def sync_fraction(pod, data_hash):
    """When pod ``pod`` sees content ``data_hash``, as a share of the volume sync delay: between
    :data:`EARLIEST_SYNC` and 1, its own for each pod and each change, and the same in every
    run (derived from both)."""
    digest = hashlib.sha256(("%s %s" % (pod, data_hash)).encode()).digest()
    return EARLIEST_SYNC + (1 - EARLIEST_SYNC) * int.from_bytes(digest[:4], "big") / 0xFFFFFFFF


def _source(app, vol):
    """The ConfigMap/Secret reference of a content volume, or None for other volume kinds."""
    if "files" in vol:
        return {"kind": "configmap", "name": files_configmap(app, vol["name"]),
                "items": [[f["path"], f["path"], f.get("mode")] for f in vol["files"]],
                "mode": 0o644}
    for key, kind, mode in (("configMap", "configmap", 0o644), ("secret", "secret", 0o600)):
        if key in vol:
            ref = vol[key]
            items = [[f["key"], f.get("path") or f["key"], f.get("mode")]
                     for f in ref.get("files") or []] or None
            return {"kind": kind, "name": ref["name"], "items": items,
                    "mode": ref.get("defaultMode", mode)}
    return None


def _items(source, sources):
    """``[(relative path, content, mode)]`` of a volume from the current data, or None when its
    ConfigMap/Secret is gone (the kubelet then keeps what it projected last)."""
    data = sources[source["kind"]].get(source["name"])
    if data is None:
        return None
    if source["items"]:
        return [(path, data[key], mode if mode is not None else source["mode"])
                for key, path, mode in source["items"] if key in data]
    return [(key, value, source["mode"]) for key, value in sorted(data.items())]


def project(target, items):
    """Write ``items`` below ``target`` as the kubelet's atomic writer does."""
    os.makedirs(target, exist_ok=True)
    stamp = "..%s.%d" % (time.strftime("%Y_%m_%d_%H_%M_%S"), time.monotonic_ns() % 10**9)
    new = os.path.join(target, stamp)
    os.makedirs(new)
    tops = set()
    for rel, content, mode in items:
        rel = os.path.normpath(rel.lstrip("/"))
        tops.add(rel.split(os.sep)[0])
        path = os.path.join(new, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        os.chmod(path, mode)
    os.chmod(new, 0o755)
    old = os.readlink(os.path.join(target, DATA)) if os.path.islink(
        os.path.join(target, DATA)) else None
    tmp = os.path.join(target, "..data_tmp")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(stamp, tmp)
    os.rename(tmp, os.path.join(target, DATA))
    for top in tops:
        link = os.path.join(target, top)
        if not os.path.islink(link):
            os.symlink(os.path.join(DATA, top), link)
    for name in os.listdir(target):
        if not name.startswith("..") and name not in tops:
            os.unlink(os.path.join(target, name))
    if old and old != stamp:
        shutil.rmtree(os.path.join(target, old), ignore_errors=True)


def mounts(paths, app, spec, container, pod, ordinal, storage):
    """``[{"src", "dst", "ro", "source"?}]`` for one container of a pod, creating the sources
    below the model's home. ``storage`` is what metadata.yaml declares, for the container that
    gets it (Juju mounts storage in the pod's first container only)."""
    out = []
    sources = source_data(spec, app)
    for vol in container.get("volumeConfig") or []:
        name, dst = vol["name"], vol["mountPath"]
        source = _source(app, vol)
        if source is not None:
            src = os.path.join(paths.pod(pod), "volumes", SAFE.sub("-", container["name"]),
                               SAFE.sub("-", name))
            project(src, _items(source, sources) or [])
            if source["kind"] == "secret":
                os.chmod(src, 0o700)
            out.append({"src": src, "dst": dst, "ro": True, "source": source})
        elif "emptyDir" in vol:
            src = os.path.join(paths.pod(pod), "emptydir", name)
            os.makedirs(src, exist_ok=True)
            out.append({"src": src, "dst": dst, "ro": False})
        elif "hostPath" in vol:
            out.append({"src": vol["hostPath"]["path"], "dst": dst, "ro": False})
    for name, decl in storage.items():
        if (decl or {}).get("location"):
            src = paths.storage(app, name, ordinal)
            os.makedirs(src, exist_ok=True)
            out.append({"src": src, "dst": decl["location"], "ro": False})
    return out


def sync(pod_config, spec, app):
    """Re-project every ConfigMap/Secret volume of a running pod from the current data."""
    sources = source_data(spec, app)
    for c in pod_config["containers"]:
        for m in c["mounts"]:
            if m.get("source"):
                items = _items(m["source"], sources)
                if items is not None:
                    project(m["src"], items)


def remove_app(paths, app):
    shutil.rmtree(paths.volumes(app), ignore_errors=True)
    shutil.rmtree(os.path.join(paths.home, "storage", app), ignore_errors=True)
