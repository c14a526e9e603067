"""The write fence's parts (templates/fence.sh, as rendered for the pods), on a scripted server:
what it reads of the local server, whom it asks, its clock and its settings file. The fence
closing the links on real processes is tests/pods/test_fence.py."""

import subprocess

import pytest

from redis_k8s import podspec, settings

APP = "r"
POD = "r-{}.r-endpoints.m.svc.cluster.local"
MASTER_ROLE = "master\n3129\n{}\n6379\n3129\n{}\n6379\n3100\n".format(POD.format(1), POD.format(2))
REPLICA_ROLE = "slave\n{}\n6379\nconnected\n3129\n".format(POD.format(0))


@pytest.fixture
def fence(tmp_path):
    files = podspec.volume_files(APP, settings.parse({}, 3, app_name=APP))
    for name in ("lib.sh", "fence.sh", "fence.env"):
        (tmp_path / name).write_text(files[podspec.REDIS_SCRIPTS_VOLUME][name])

    def run(body, role=MASTER_ROLE, min_replicas="1", answering=()):
        (tmp_path / "role").write_text(role)
        (tmp_path / "asked").write_text("")
        (tmp_path / "own").write_text("")
        script = (
            '. ./lib.sh; . ./fence.sh; FENCE_ENV_FILE=./fence.env; '
            'redis_cli() {{ echo "$1" >> own; case "$1" in ROLE) cat role ;; '
            'CONFIG) printf "min-replicas-to-write\\n{}\\n" ;; esac; }}; '
            'cli_ask() {{ echo "$1" >> asked; CLI_OUT=""; '
            'case " {} " in *" $1 "*) CLI_OUT=PONG ;; esac; }}; '
            '{}').format(min_replicas, " ".join(answering), body)
        env = {"PATH": "/usr/bin:/bin", "REDIS_PORT": "6379", "SENTINEL_PORT": "26379",
               "MASTER_NAME": APP}
        done = subprocess.run(["/bin/sh", "-c", script], cwd=str(tmp_path), env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip(), (tmp_path / "asked").read_text().split()
    return run


def test_a_master_reads_its_linked_replicas_and_how_many_it_needs(fence):
    out, _ = fence('fence_view; echo "$FENCE_MIN $FENCE_LINKED" $FENCE_REPLICAS')
    assert out == "1 2 {} 6379 {} 6379".format(POD.format(1), POD.format(2))


def test_a_replica_needs_none_so_it_never_holds(fence, tmp_path):
    out, _ = fence('fence_view; echo "$FENCE_MIN $FENCE_LINKED"', role=REPLICA_ROLE)
    assert out == "0 0"
    # one question a second to its own server as a replica: the setting only matters to a master
    assert (tmp_path / "own").read_text().split() == ["ROLE"]


def test_a_master_that_needs_no_replica_needs_none(fence):
    out, _ = fence('fence_view; echo "$FENCE_MIN"', min_replicas="0")
    assert out == "0"


def test_replicas_are_asked_in_turn_until_enough_answered(fence):
    view = 'fence_view; answering "$FENCE_MIN" $FENCE_REPLICAS; echo "$FENCE_ANSWERED"'
    out, asked = fence(view, answering=[POD.format(1), POD.format(2)])
    assert (out, asked) == ("1", [POD.format(1)])
    out, asked = fence(view, answering=[POD.format(2)])
    assert (out, asked) == ("1", [POD.format(1), POD.format(2)])
    out, asked = fence(view, answering=[])
    assert (out, asked) == ("0", [POD.format(1), POD.format(2)])


@pytest.mark.parametrize("uptime, ms", [("12.05 40.00", 12050), ("8.09 1.00", 8090),
                                        ("7.00 1.00", 7000), ("1234567.90 1.00", 1234567900)])
def test_the_clock_reads_uptime_in_milliseconds(fence, tmp_path, uptime, ms):
    (tmp_path / "uptime").write_text(uptime + "\n")
    out, _ = fence('UPTIME_FILE=./uptime; uptime_ms; echo "$UPTIME_MS"')
    assert out == str(ms)


def test_the_wait_is_read_from_fence_env_again(fence, tmp_path):
    rendered = settings.parse({}, 3, app_name=APP).fence_after_ms
    out, _ = fence('fence_settings; echo "$FENCE_AFTER_MS"')
    assert out == str(rendered)
    (tmp_path / "fence.env").write_text("# a comment=1\nFENCE_AFTER_MS=1234\n")
    out, _ = fence('fence_settings; echo "$FENCE_AFTER_MS"')
    assert out == "1234"


def test_the_wait_comes_from_fence_env_alone_and_only_as_a_number(fence, tmp_path):
    (tmp_path / "fence.env").write_text("FENCE_AFTER_MS=soon\n")
    out, _ = fence('fence_settings; echo "[$FENCE_AFTER_MS]"')
    assert out == "[]"
    (tmp_path / "fence.env").unlink()
    # No wait to go by: the fence leaves the master to Redis' own count, and says so.
    out, asked = fence('CLI_TIMEOUT=timeout; CHILD=$$; STATE_DIR=.; LOG_TAG=t; '
                       'fence_writes_while_cut_off 2>&1; echo "returned"')
    assert out.endswith("returned") and "no wait in ./fence.env" in out
    assert asked == []
