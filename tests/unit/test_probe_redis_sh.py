"""The redis container's readiness (templates/probe-redis.sh, as rendered for the pods), run by
/bin/sh against a fake ``redis-cli`` that answers per host and command from files (a missing
file: no answer). A replica holds a rollout only while it still has to sync from a live master:
ready once its link is up, or when its master is gone or no master (waiting for the sentinels
then would only stall the roll)."""

import subprocess

import pytest

from redis_k8s import podspec, settings
from test_peers_empty_sh import FAKE_REDIS_CLI
from test_shell_rules import APP, lib_sh

ME = "10.0.0.1"
MASTER = "r-0.r-endpoints.m.svc.cluster.local"


def replication(role, link=None, host=MASTER, port=6379):
    """What ``redis-cli INFO replication`` prints."""
    lines = ["# Replication", "role:" + role]
    if role == "slave":
        lines += ["master_host:" + host, "master_port:{}".format(port),
                  "master_link_status:" + link, "master_sync_in_progress:0"]
    return "\r\n".join(lines) + "\r\n"


@pytest.fixture
def ready(tmp_path):
    """``ready(answers) -> bool``: the readiness probe's verdict; ``answers`` maps
    ``host.COMMAND`` to the reply."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "redis-cli").write_text(FAKE_REDIS_CLI)
    (bin_dir / "redis-cli").chmod(0o755)
    (tmp_path / "lib.sh").write_text(lib_sh())
    files = podspec.volume_files(APP, settings.parse({}, 3, app_name=APP))
    probe = files[podspec.REDIS_SCRIPTS_VOLUME]["probe-redis.sh"].replace(
        podspec.SCRIPTS_DIR + "/lib.sh", str(tmp_path / "lib.sh"))
    (tmp_path / "probe-redis.sh").write_text(probe)
    answers_dir = tmp_path / "answers"
    answers_dir.mkdir()

    def run(answers):
        for entry in answers_dir.iterdir():
            entry.unlink()
        for name, reply in answers.items():
            (answers_dir / name).write_text(reply)
        env = {"PATH": "{}:/usr/bin:/bin".format(bin_dir), "ANSWERS": str(answers_dir),
               "REDIS_PORT": "6379", "POD_IP": ME, "STATE_DIR": str(tmp_path / "state")}
        done = subprocess.run(["/bin/sh", str(tmp_path / "probe-redis.sh"), "readiness"],
                              env=env, capture_output=True, text=True, timeout=30)
        return done.returncode == 0
    return run


def test_a_master_and_a_linked_replica_are_ready(ready):
    assert ready({ME + ".INFO": replication("master")})
    assert ready({ME + ".INFO": replication("slave", "up"), MASTER + ".ROLE": "master\n"})


def test_a_replica_not_linked_to_a_live_master_is_not_ready(ready):
    # Restarted, or syncing: the master is there and has writes it lacks.
    assert not ready({ME + ".INFO": replication("slave", "down"), MASTER + ".ROLE": "master\n"})


def test_a_replica_whose_master_is_gone_or_no_master_is_ready(ready):
    assert ready({ME + ".INFO": replication("slave", "down")})
    assert ready({ME + ".INFO": replication("slave", "down"), MASTER + ".ROLE": "slave\n"})


def test_a_redis_that_does_not_answer_is_not_ready(ready):
    assert not ready({})
    assert not ready({ME + ".INFO": "LOADING Redis is loading the dataset in memory\n"})
