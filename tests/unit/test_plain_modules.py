"""The modules under lib/redis_k8s are plain: none imports a hook tool (charmhelpers,
charms.reactive, charms.layer), so each is tested directly and the watcher runs without Juju."""

import os
import subprocess
import sys

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib")
PACKAGE = os.path.join(LIB, "redis_k8s")


def test_no_module_of_the_package_imports_a_hook_tool():
    modules = sorted(name[:-3] for name in os.listdir(PACKAGE) if name.endswith(".py") and name != "__init__.py")
    assert {"connection", "observation", "rules", "healing", "watchers", "live", "certificates", "tls_files"} <= set(modules)
    script = ("import importlib, sys\n"
              "for name in sys.argv[1:]:\n"
              "    importlib.import_module('redis_k8s.' + name)\n"
              "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('charmhelpers', 'charms'))))\n")
    out = subprocess.run([sys.executable, "-c", script] + modules, env=dict(os.environ, PYTHONPATH=LIB),
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
