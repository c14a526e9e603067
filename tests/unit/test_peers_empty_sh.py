"""``peers_empty`` (templates/lib.sh, as rendered for the pods): may a pod whose storage came back
empty start as master? Only when every peer answers and says it holds no key, is not loading
and is not receiving a dataset. A peer whose INFO call fails (a busy node, a timeout) says
nothing: taking it for empty once let an emptied master come back as master and its replicas
resync its empty dataset (tests/pods, test_a_master_that_comes_back_empty..., under CI load).

The functions run in /bin/sh from the rendered lib.sh against a fake ``redis-cli`` on PATH that
answers per host from files: ``HOST.INFO`` (a missing file: no answer).
"""

import subprocess

import pytest

from test_shell_rules import lib_sh

FAKE_REDIS_CLI = r"""#!/bin/sh
while [ $# -gt 0 ]; do
    case "$1" in
        -h) host=$2; shift 2 ;;
        -p|--cacert|--cert|--key) shift 2 ;;
        --no-auth-warning|--tls|--insecure) shift ;;
        *) break ;;
    esac
done
file=$ANSWERS/$host.$1
[ -f "$file" ] || { echo "Could not connect to Redis at $host" >&2; exit 1; }
cat "$file"
"""


def info(loading=0, syncing=0, keys=0):
    """What ``redis-cli INFO`` prints: the default sections, of which peers_empty reads three."""
    return ("# Server\r\nredis_version:7.0.15\r\n\r\n"
            "# Persistence\r\nloading:{}\r\nrdb_changes_since_last_save:0\r\n\r\n"
            "# Replication\r\nrole:slave\r\nmaster_sync_in_progress:{}\r\n\r\n"
            "# Keyspace\r\n{}").format(
                loading, syncing,
                "db0:keys={},expires=0,avg_ttl=0\r\n".format(keys) if keys else "")


@pytest.fixture
def peers_empty(tmp_path):
    """``peers_empty(answers) -> (exit status, stdout)`` for peers ``a`` and ``b``; ``answers``
    maps ``host.COMMAND`` to the reply (missing: no answer)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "redis-cli").write_text(FAKE_REDIS_CLI)
    (bin_dir / "redis-cli").chmod(0o755)
    lib = tmp_path / "lib.sh"
    lib.write_text(lib_sh())

    def run(answers):
        answers_dir = tmp_path / "answers"
        answers_dir.mkdir(exist_ok=True)
        for entry in answers_dir.iterdir():
            entry.unlink()
        for name, reply in answers.items():
            (answers_dir / name).write_text(reply)
        env = {"PATH": "{}:/usr/bin:/bin".format(bin_dir), "ANSWERS": str(answers_dir),
               "REDIS_PORT": "6379"}
        result = subprocess.run(["/bin/sh", "-c", '. "$1"; peers_empty a b; echo "rc=$?"', "sh",
                                 str(lib)], env=env, capture_output=True, text=True, timeout=30)
        lines = result.stdout.split()
        return int(lines[-1][3:]), lines[:-1]
    return run


def test_every_peer_answering_empty_is_empty(peers_empty):
    assert peers_empty({"a.INFO": info(), "b.INFO": info()}) == (0, [])


def test_a_peer_with_keys_loading_or_receiving_a_dataset_holds_data(peers_empty):
    assert peers_empty({"a.INFO": info(), "b.INFO": info(keys=1)}) == (1, ["b"])
    assert peers_empty({"a.INFO": info(loading=1), "b.INFO": info()}) == (1, ["a"])
    assert peers_empty({"a.INFO": info(), "b.INFO": info(syncing=1)}) == (1, ["b"])


def test_a_peer_that_gives_no_info_is_not_taken_for_empty(peers_empty):
    assert peers_empty({"a.INFO": info()}) == (2, [])
    assert peers_empty({"a.INFO": info(), "b.INFO": "NOAUTH Authentication required.\n"}) == (
        2, [])
