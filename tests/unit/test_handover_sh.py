"""The failover action's reading of a sentinel's view (templates/handover.sh, as rendered for the
pods): a sentinel "prefers" the target once it sees it alone with the lowest non-zero priority,
which is the replica Sentinel promotes first."""

import subprocess

import pytest

from redis_k8s import podspec, settings

APP = "r"
POD = "r-{}.r-endpoints.m.svc.cluster.local"


def sentinel_replicas(priorities):
    """``SENTINEL REPLICAS`` as a piped redis-cli prints it: one line per element."""
    lines = []
    for ordinal, priority in priorities.items():
        name = POD.format(ordinal) + ":6379"
        lines += ["name", name, "ip", POD.format(ordinal), "port", "6379", "flags", "slave",
                  "slave-priority", str(priority), "slave-repl-offset", "1234"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def prefers(tmp_path):
    files = podspec.volume_files(APP, settings.parse({}, 3, app_name=APP))
    for name in ("lib.sh", "handover.sh"):
        (tmp_path / name).write_text(files[podspec.REDIS_SCRIPTS_VOLUME][name])

    def run(priorities, target):
        (tmp_path / "replies").write_text(sentinel_replicas(priorities))
        script = ('. ./lib.sh; . ./handover.sh; cli() {{ cat replies; }}; '
                  'sentinel_prefers s "{}" && echo yes || echo no'.format(POD.format(target)))
        env = {"PATH": "/usr/bin:/bin", "REDIS_PORT": "6379", "SENTINEL_PORT": "26379",
               "MASTER_NAME": APP}
        out = subprocess.run(["/bin/sh", "-c", script], cwd=str(tmp_path), env=env,
                             capture_output=True, text=True, check=True).stdout
        return out.strip() == "yes"
    return run


def test_the_target_alone_with_the_lowest_non_zero_priority_is_preferred(prefers):
    assert prefers({1: 1, 2: 100}, target=1)
    assert prefers({1: 1, 2: 0}, target=1)  # priority 0 is never promoted: it does not compete
    assert prefers({1: 1}, target=1)


def test_a_tie_a_lower_other_a_zero_or_a_missing_target_is_not(prefers):
    assert not prefers({1: 100, 2: 100}, target=1)  # the sentinel has not seen the change yet
    assert not prefers({1: 1, 2: 1}, target=1)
    assert not prefers({1: 50, 2: 10}, target=1)
    assert not prefers({1: 0, 2: 100}, target=1)
    assert not prefers({2: 100}, target=1)
