"""Fixtures of the pod tests: a factory of clusters that always kills its processes."""

import itertools
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))

import harness  # noqa: E402
from redis_k8s import settings as settings_mod  # noqa: E402

# 127.70.<n>.0/24 per cluster, n varying with the pid so parallel runs do not collide.
_subnets = itertools.count(os.getpid() % 120 + 1)

FAST = {
    "port": 16379,
    "sentinel-port": 26380,
    "down-after-milliseconds": 1000,
    "failover-timeout": 6000,
}


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("redis-server") is None:
        raise pytest.UsageError("tests/pods need root, unshare and redis-server (run scripts/setup.sh)")


@pytest.fixture
def make_cluster(request):
    """Return ``make(count, **options)`` building and starting a Cluster; all stopped at teardown."""
    clusters = []
    roots = []

    def make(count=3, start=True, **options):
        raw = dict(FAST)
        raw.update({k.replace("_", "-"): v for k, v in options.items()})
        settings = settings_mod.parse(raw, count, app_name="redis-k8s")
        root = tempfile.mkdtemp(prefix="redis-k8s-pods-")
        roots.append(root)
        cluster = harness.Cluster(root, settings, count, "127.70.{}".format(next(_subnets) % 250 + 1))
        clusters.append(cluster)
        if start:
            cluster.start()
        return cluster

    def finish():
        failed = getattr(request.node, "rep_call", None)
        for cluster in clusters:
            if failed is not None and failed.failed:
                sys.stderr.write(cluster.logs())
            cluster.close()
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)

    request.addfinalizer(finish)
    return make


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
