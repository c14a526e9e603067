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


class WithFields:
    """Parsed settings with some attributes set (or added: fields the parser may not know yet)."""

    def __init__(self, parsed, fields):
        self._parsed = parsed
        self.__dict__.update(fields)

    def __getattr__(self, name):
        return getattr(self._parsed, name)


class Factory:
    """Builds and starts Clusters, and kills every process of them in :meth:`finish`."""

    def __init__(self):
        self.clusters = []
        self.roots = []

    def __call__(self, count=3, start=True, settings_fields=None, tls_data=None, **options):
        """``settings_fields``: Settings attributes set on the parsed settings (e.g. the TLS ones);
        ``tls_data``: the TLS Secret's content (default: TLS off)."""
        raw = dict(FAST)
        raw.update({k.replace("_", "-"): v for k, v in options.items()})
        settings = settings_mod.parse(raw, count, app_name="redis-k8s")
        if settings_fields:
            settings = WithFields(settings, settings_fields)
        root = tempfile.mkdtemp(prefix="redis-k8s-pods-")
        self.roots.append(root)
        cluster = harness.Cluster(root, settings, count, "127.70.{}".format(next(_subnets) % 250 + 1),
                                  tls_data=tls_data)
        self.clusters.append(cluster)
        if start:
            cluster.start()
        return cluster

    def finish(self, show_logs):
        for cluster in self.clusters:
            if show_logs:
                sys.stderr.write(cluster.logs())
            cluster.close()
        for root in self.roots:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def make_cluster(request):
    """Return ``make(count, **options)`` building and starting a Cluster; all stopped at teardown."""
    factory = Factory()
    request.addfinalizer(lambda: factory.finish(getattr(getattr(request.node, "rep_call", None), "failed", False)))
    return factory


@pytest.fixture(scope="module")
def shared_cluster(request):
    """One started 3-pod cluster for the tests of a module that leave it healthy."""
    factory = Factory()
    failed = []
    request.addfinalizer(lambda: factory.finish(bool(failed)))
    cluster = factory(3)
    cluster.failed_tests = failed
    return cluster


@pytest.fixture
def healthy_shared_cluster(shared_cluster, request):
    """The module's shared cluster; a failing test gets its logs shown at module teardown."""
    yield shared_cluster
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        shared_cluster.failed_tests.append(request.node.name)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
