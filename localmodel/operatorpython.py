"""The operator image's ``python3``: the interpreter that runs a charm's hooks.

Juju 2.9's operator image (``jujusolutions/jujud-operator``) is built ``FROM ubuntu:20.04``
(``make_functions.sh``, ``_base_image``) with Ubuntu's ``python3`` (``caas/Dockerfile``
installs ``python3-yaml``/``python3-pip``): Python 3.8. A hook that runs here on the host's
newer Python proves nothing about 3.8, so the model gives its operators a 3.8 when this machine
has one: ``$LOCALMODEL_OPERATOR_PYTHON`` (which must be one), else ``python3.8`` on ``PATH``,
else a pyenv build. Without one the operators fall back to the host's ``/usr/bin/python3`` and
``status`` says which Python runs the hooks.
"""

import glob
import os
import shutil
import subprocess

VERSION = (3, 8)
ENV = "LOCALMODEL_OPERATOR_PYTHON"
FALLBACK = "/usr/bin/python3"
# What the operator image's python3 has and a hook may need (unitdata is SQLite; TLS).
_PROBE = "import sqlite3, ssl, sys; print('%d.%d.%d' % sys.version_info[:3])"


class OperatorPythonError(Exception):
    """No Python can run the hooks: ``$LOCALMODEL_OPERATOR_PYTHON`` names no usable 3.8, or
    there is no 3.8 and the fallback does not run."""


def version_of(python):
    """``(major, minor, micro)`` of ``python``, or None when it does not run the probe."""
    try:
        out = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True,
                             timeout=30, check=True).stdout
        return tuple(int(part) for part in out.strip().split("."))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _candidates():
    found = [shutil.which("python3.8")]
    found += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8.*/bin/python3.8")),
                    key=lambda path: [int(n) for n in path.split("/")[-3].split(".")
                                      if n.isdigit()], reverse=True)
    return [path for path in found if path]


def choose(environ=None):
    """``(path, version)`` of the Python the operators run hooks with."""
    environ = os.environ if environ is None else environ
    given = environ.get(ENV)
    if given:
        version = version_of(given)
        if version is None or version[:2] != VERSION:
            raise OperatorPythonError(
                "%s=%s: not a Python %d.%d with sqlite3 and ssl (found %s)" % (
                    ENV, given, VERSION[0], VERSION[1],
                    ".".join(map(str, version)) if version else "none"))
        return given, version
    for path in _candidates():
        version = version_of(path)
        if version is not None and version[:2] == VERSION:
            return path, version
    version = version_of(FALLBACK)
    if version is None:
        raise OperatorPythonError("no Python %d.%d here, and %s does not run with sqlite3 and "
                                  "ssl: set %s" % (VERSION[0], VERSION[1], FALLBACK, ENV))
    return FALLBACK, version


def install(bin_dir, python, version):
    """Links ``python3`` and ``python3.N`` in ``bin_dir`` (first on the hooks' PATH after the
    tools) to ``python``. Links, not copies: the interpreter finds its standard library from
    its real path."""
    os.makedirs(bin_dir, exist_ok=True)
    target = os.path.realpath(python)
    for name in ("python3", "python%d.%d" % tuple(version[:2])):
        link = os.path.join(bin_dir, name)
        tmp = link + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, link)
    for name in os.listdir(bin_dir):  # a python3.11 left by an earlier up with the fallback
        if name.startswith("python3.") and name != "python%d.%d" % tuple(version[:2]):
            os.unlink(os.path.join(bin_dir, name))
