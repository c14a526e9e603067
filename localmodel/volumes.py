"""Materializing a pod spec's volumes and storage as host directories to bind-mount."""

import os
import re
import shutil

from localmodel import podspec
from localmodel.state import atomic_write

SAFE = re.compile(r"[^-._a-zA-Z0-9]")


def _write_files(root, items):
    """Write ``[(relative path, content, mode)]`` below ``root``; drop files no longer listed."""
    os.makedirs(root, exist_ok=True)
    wanted = set()
    for rel, content, mode in items:
        path = os.path.join(root, rel.lstrip("/"))
        wanted.add(os.path.normpath(path))
        old = None
        if os.path.exists(path):
            with open(path, "rb") as f:
                old = f.read()
        data = content.encode() if isinstance(content, str) else content
        if old != data or (os.stat(path).st_mode & 0o7777) != mode:
            atomic_write(path, data, mode)
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.normpath(os.path.join(dirpath, n))
            if p not in wanted and not n.startswith(".tmp-"):
                os.unlink(p)


def _keyed(source, vol_files, default_mode):
    if vol_files:
        return [(f.get("path") or f["key"], str(source.get(f["key"], "")),
                 f.get("mode", default_mode)) for f in vol_files]
    return [(k, str(v), default_mode) for k, v in source.items()]


def mounts(paths, app, spec, container, pod, ordinal, storage):
    """``[{"src", "dst", "ro"}]`` for one container of a pod, creating the sources."""
    out = []
    base = paths.volumes(app)
    for vol in container.get("volumeConfig") or []:
        name, dst = vol["name"], vol["mountPath"]
        if "files" in vol:
            src = os.path.join(base, "configmap-%s-%s-config" % (app, SAFE.sub("-", name)))
            _write_files(src, [(f["path"], f.get("content", ""), f.get("mode", 0o644))
                               for f in vol["files"]])
            out.append({"src": src, "dst": dst, "ro": True})
        elif "configMap" in vol:
            cm = vol["configMap"]
            src = os.path.join(base, "configmap-" + cm["name"])
            _write_files(src, _keyed((spec.get("configMaps") or {}).get(cm["name"], {}),
                                     cm.get("files"), cm.get("defaultMode", 0o644)))
            out.append({"src": src, "dst": dst, "ro": True})
        elif "secret" in vol:
            sec = vol["secret"]
            src = os.path.join(base, "secret-" + sec["name"])
            _write_files(src, _keyed(podspec.secrets(spec).get(sec["name"], {}),
                                     sec.get("files"), sec.get("defaultMode", 0o600)))
            os.chmod(src, 0o700)
            out.append({"src": src, "dst": dst, "ro": True})
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


def remove_app(paths, app):
    shutil.rmtree(paths.volumes(app), ignore_errors=True)
    shutil.rmtree(os.path.join(paths.home, "storage", app), ignore_errors=True)
