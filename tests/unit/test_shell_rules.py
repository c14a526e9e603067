"""The pods' shell rules (templates/lib.sh, as rendered for the pods) give what the charm's Python
rules give: the quorum, the automatic min-replicas-to-write, and the master by sentinel vote.

The shell functions run in /bin/sh from the rendered lib.sh; ``master_from_sentinels`` asks a
fake ``redis-cli`` on PATH that answers, per sentinel, what the case says it knows.
"""

import dataclasses
import os
import subprocess

import pytest

from redis_k8s import podspec, rules, settings

APP = "r"
POD = "r-{}.r-endpoints.m.svc.cluster.local"
FAKE_REDIS_CLI = r"""#!/bin/sh
# Answers `redis-cli -h HOST -p PORT SENTINEL get-master-addr-by-name NAME` as a piped redis-cli
# does (one line per element; an empty line for nil) from $SENTINEL_ANSWERS/HOST, and
# `SENTINEL MASTER NAME` (the fields up to config-epoch) from $SENTINEL_ANSWERS/HOST.master; a
# missing file is a sentinel that does not answer.
while [ $# -gt 0 ]; do
    case "$1" in
        -h) host=$2; shift 2 ;;
        -p) shift 2 ;;
        --no-auth-warning) shift ;;
        *) break ;;
    esac
done
case "$1 $2 $3" in
    "SENTINEL get-master-addr-by-name $EXPECTED_NAME") file=$SENTINEL_ANSWERS/$host ;;
    "SENTINEL MASTER $EXPECTED_NAME") file=$SENTINEL_ANSWERS/$host.master ;;
    *) exit 3 ;;
esac
[ -f "$file" ] || { echo "Could not connect to Redis at $host" >&2; exit 1; }
cat "$file"
"""
UNREACHABLE = "unreachable"


def lib_sh(min_replicas_option=-1):
    """lib.sh as the pods get it, rendered for a ``min-replicas-to-write`` option value."""
    parsed = dataclasses.replace(settings.parse({}, 3, app_name=APP),
                                 min_replicas_to_write_option=min_replicas_option)
    return podspec.volume_files(APP, parsed)[podspec.REDIS_SCRIPTS_VOLUME]["lib.sh"]


@pytest.fixture
def shell(tmp_path):
    """``run(script, answers=None, lang=None, option=-1)``: stdout of ``script`` run by /bin/sh
    after sourcing the rendered lib.sh, in the environment a pod's container has."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "redis-cli"
    fake.write_text(FAKE_REDIS_CLI)
    fake.chmod(0o755)
    answers_dir = tmp_path / "answers"

    def run(script, answers=None, lang=None, option=-1):
        lib = tmp_path / "lib-{}.sh".format(option)
        if not lib.exists():
            lib.write_text(lib_sh(option))
        answers_dir.mkdir(exist_ok=True)
        for entry in answers_dir.iterdir():
            entry.unlink()
        for host, answer in (answers or {}).items():
            if answer == UNREACHABLE:
                continue
            text = "\n" if answer is None else "{}\n{}\n".format(*answer[:2])
            (answers_dir / host).write_text(text)
            if answer is not None:
                fields = ["name", APP, "ip", answer[0], "port", str(answer[1]), "flags", "master"]
                if len(answer) > 2:
                    fields += ["config-epoch", str(answer[2])]
                (answers_dir / (host + ".master")).write_text("\n".join(fields) + "\n")
        env = {"PATH": "{}:/usr/bin:/bin".format(bin_dir), "SENTINEL_PORT": "26379",
               "MASTER_NAME": APP, "EXPECTED_NAME": APP, "SENTINEL_ANSWERS": str(answers_dir)}
        if lang:
            env["LANG"] = lang
        result = subprocess.run(["/bin/sh", "-c", '. "$1"; ' + script, "sh", str(lib)], env=env,
                                capture_output=True, text=True, timeout=30, check=True)
        return result.stdout

    return run


@pytest.mark.parametrize("units", range(0, 10))
def test_quorum_for_is_the_python_quorum(shell, units):
    assert int(shell("quorum_for {}".format(units))) == settings.expected_quorum(units)


@pytest.mark.parametrize("option", [-1, 0, 1, 2, 4])
def test_min_replicas_for_is_the_python_rule(shell, option):
    for units in range(1, 8):
        assert int(shell("min_replicas_for {}".format(units), option=option)) == \
            settings.effective_min_replicas(option, units), (option, units)


# Each case: what every sentinel answers (host -> (master host, port[, config epoch]), None for
# nil, or UNREACHABLE), in the order the pods list them. No epoch: SENTINEL MASTER has none.
VOTES = {
    "unanimous": {POD.format(0): (POD.format(0), 6379), POD.format(1): (POD.format(0), 6379),
                  POD.format(2): (POD.format(0), 6379)},
    "majority": {POD.format(0): (POD.format(0), 6379), POD.format(1): (POD.format(2), 6379),
                 POD.format(2): (POD.format(2), 6379)},
    "one sentinel down": {POD.format(0): UNREACHABLE, POD.format(1): (POD.format(1), 6379),
                          POD.format(2): (POD.format(1), 6379)},
    "one knows no master": {POD.format(0): None, POD.format(1): (POD.format(2), 6379),
                            POD.format(2): UNREACHABLE},
    "none answers": {POD.format(0): UNREACHABLE, POD.format(1): UNREACHABLE},
    "none knows": {POD.format(0): None, POD.format(1): None},
    "tie of two": {POD.format(0): (POD.format(2), 6379), POD.format(1): (POD.format(1), 6379)},
    "three way tie": {POD.format(0): (POD.format(2), 6379), POD.format(1): (POD.format(0), 6379),
                      POD.format(2): (POD.format(1), 6379)},
    "two against two": {POD.format(0): (POD.format(3), 6379), POD.format(1): (POD.format(3), 6379),
                        POD.format(2): (POD.format(1), 6379), POD.format(3): (POD.format(1), 6379)},
    "same pod, two ports": {POD.format(0): (POD.format(0), 6380), POD.format(1): (POD.format(0), 6379)},
    "ports compared as text": {POD.format(0): (POD.format(0), 6379), POD.format(1): (POD.format(0), 10000)},
    "ordinal 1 against 10": {POD.format(0): (POD.format(10), 6379), POD.format(1): (POD.format(1), 6379)},
    "majority on an old port": {POD.format(0): (POD.format(1), 6380), POD.format(1): (POD.format(1), 6380),
                                POD.format(2): (POD.format(1), 6379)},
    "a newer epoch against two older": {POD.format(0): (POD.format(0), 6379, 0),
                                        POD.format(1): (POD.format(0), 6379, 0),
                                        POD.format(2): (POD.format(2), 6379, 3)},
    "majority within the newest epoch": {POD.format(0): (POD.format(1), 6379, 5),
                                         POD.format(1): (POD.format(1), 6379, 5),
                                         POD.format(2): (POD.format(2), 6379, 5),
                                         POD.format(3): (POD.format(0), 6379, 2)},
    "tie within the newest epoch": {POD.format(0): (POD.format(2), 6379, 4),
                                    POD.format(1): (POD.format(1), 6379, 4),
                                    POD.format(2): (POD.format(0), 6379, 1)},
    "epoch 10 above epoch 9": {POD.format(0): (POD.format(0), 6379, 9),
                               POD.format(1): (POD.format(2), 6379, 10),
                               POD.format(2): (POD.format(0), 6379, 9)},
    "an unknown epoch below 0": {POD.format(0): (POD.format(0), 6379),
                                 POD.format(1): (POD.format(0), 6379),
                                 POD.format(2): (POD.format(2), 6379, 0)},
}


def python_vote(answers):
    views, epochs = {}, {}
    for host, answer in answers.items():
        if answer == UNREACHABLE:
            continue
        addr = rules.master_addr(None if answer is None else [answer[0], str(answer[1])])
        if addr is not None:
            views[host] = addr
            epochs[host] = rules.config_epoch(
                {"config-epoch": str(answer[2])} if len(answer) > 2 else {})
    return rules.master_by_vote(rules.current_views(views, epochs))


@pytest.mark.parametrize("lang", [None, "C.UTF-8"])
@pytest.mark.parametrize("case", sorted(VOTES))
def test_master_from_sentinels_is_the_python_vote(shell, case, lang):
    answers = VOTES[case]
    out = shell("master_from_sentinels " + " ".join(answers), answers, lang=lang).split()
    expected = python_vote(answers)
    assert (tuple([out[0], int(out[1])]) if out else None) == expected


def test_the_fake_redis_cli_is_what_the_shell_asked(shell):
    """The table is only worth something if the shell really asked every sentinel."""
    answers = VOTES["majority"]
    assert shell("sentinel_master {}".format(POD.format(1)), answers).split() == [POD.format(2), "6379"]
    assert shell("sentinel_master {}".format(POD.format(1)), {}) == ""
    answers = VOTES["a newer epoch against two older"]
    assert shell("sentinel_epoch {}".format(POD.format(2)), answers).split() == ["3"]
    assert shell("sentinel_epoch {}".format(POD.format(2)), {}).split() == ["-1"]
    assert os.access("/bin/sh", os.X_OK)
