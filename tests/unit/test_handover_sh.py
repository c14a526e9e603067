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


OLD = POD.format(0)
NEW = POD.format(1)
# A sentinel scripted per command; the FAILOVER replies are taken in turn (the last one repeats).
# The clock moves a second per look, so the waits end without real sleeping.
FAKE_SENTINEL = r'''
cli() {
    case "$*" in
        *"CLIENT PAUSE"*) echo OK ;;
        *"SENTINEL FAILOVER"*)
            n=$(cat asks); echo $((n + 1)) > asks
            sed -n "$((n + 1))p" failover-replies | grep . || tail -n 1 failover-replies ;;
        *"SENTINEL MASTER"*) printf 'name\nr\nflags\n%s\n' "$(cat flags)" ;;
        *"INFO replication"*) printf 'role:master\r\nmaster_repl_offset:500\r\n'; cat replicas ;;
        *"get-master-addr-by-name"*) printf '%s\n6379\n' "$(cat master)" ;;
        *" ROLE") cat "role-$1" 2>/dev/null ;;
    esac
}
now() { t=$(cat clock); echo $((t + 1)) > clock; echo "$t"; }
sleep() { :; }
all_pods() { cat pods; }
'''


# The master's INFO replication lines about its replicas (its offset is 500).
CAUGHT_UP = 'slave0:ip=r-1,port=6379,state=online,offset=500,lag=0\r\n'
BEHIND = 'slave0:ip=r-1,port=6379,state=online,offset=480,lag=0\r\n'
SYNCING = 'slave0:ip=r-1,port=6379,state=wait_bgsave,offset=0,lag=0\r\n'


def run_handover(directory, fake, first_sentinel, env=()):
    """``handover`` of the master OLD, asking ``first_sentinel``, by the rendered scripts with the
    ``fake`` cli in ``directory``: its last line (``rc=... new=... error=...``)."""
    files = podspec.volume_files(APP, settings.parse({}, 3, app_name=APP))
    for name in ("lib.sh", "handover.sh"):
        (directory / name).write_text(files[podspec.REDIS_SCRIPTS_VOLUME][name])
    (directory / "fake.sh").write_text(fake)
    script = ('. ./lib.sh; . ./handover.sh; . ./fake.sh; handover a "{}" {}; '
              'echo "rc=$? new=$HANDOVER_NEW error=$HANDOVER_ERROR"'.format(OLD, first_sentinel))
    done = subprocess.run(["/bin/sh", "-c", script], cwd=str(directory), capture_output=True,
                          env=dict({"PATH": "/usr/bin:/bin", "REDIS_PORT": "6379",
                                    "SENTINEL_PORT": "26379", "MASTER_NAME": APP,
                                    "POD_NAME": "r-0", "PEER_DOMAIN": "x"}, **dict(env)),
                          text=True, check=True, timeout=60)
    return done.stdout.strip().splitlines()[-1], done.stderr


@pytest.fixture
def handover(tmp_path):

    def run(replies, flags, master, replicas=CAUGHT_UP, roles=None):
        """``roles``: per pod (``pods``: s1 and them), what it answers to ROLE."""
        roles = roles or {}
        for name, text in (("failover-replies", "\n".join(replies) + "\n"), ("flags", flags),
                           ("master", master), ("asks", "0"), ("clock", "0"),
                           ("replicas", replicas),
                           ("pods", "\n".join(["s1"] + sorted(set(roles) - {"s1"})) + "\n")):
            (tmp_path / name).write_text(text)
        for pod, role in roles.items():
            (tmp_path / ("role-" + pod)).write_text(role)
        result, log = run_handover(tmp_path, FAKE_SENTINEL, "s1")
        return result, log, int((tmp_path / "asks").read_text())
    return run


def test_a_failover_the_sentinel_gave_up_is_asked_for_again(handover):
    # INPROG: the sentinels' own failover (the paused master missed their PINGs), which then
    # found no replica to promote; asked again, the sentinel says why.
    result, log, asks = handover(["INPROG Failover already in progress",
                                  "NOGOODSLAVE No suitable replica to promote"],
                                 "master,s_down,o_down", OLD)
    assert result == ("rc=1 new= error=no sentinel accepted a failover "
                      "(last reply: NOGOODSLAVE No suitable replica to promote)")
    assert "gave the failover up" in log
    assert asks > 2


def test_a_second_failover_given_up_ends_the_handover(handover):
    result, log, asks = handover(["OK"], "master,o_down", OLD)
    assert result == "rc=1 new= error=sentinel s1 gave the failover up"
    assert asks == 2


def test_a_failover_under_way_is_awaited_and_its_new_master_taken(handover):
    result, log, asks = handover(["OK"], "master,failover_in_progress", NEW)
    assert result == "rc=0 new={} 6379 error=".format(NEW)
    assert asks == 1


def test_a_failover_still_under_way_is_not_taken_for_given_up(handover):
    result, log, asks = handover(["OK"], "master,o_down,failover_in_progress", OLD)
    assert result.startswith("rc=1 new= error=no new master after")
    assert asks == 1


@pytest.mark.parametrize('replicas', ['', BEHIND, SYNCING], ids=['none', 'behind', 'syncing'])
def test_no_failover_is_asked_while_no_replica_has_caught_up(handover, replicas):
    # Every pod deleted at once: the replicas stop first and come back from their own disks,
    # without what the master acknowledged meanwhile; promoting one would lose it.
    result, log, asks = handover(["OK"], "master,failover_in_progress", NEW, replicas)
    assert result == "rc=1 new= error=no replica caught up with {} within 5s".format(OLD)
    assert asks == 0


def test_a_replica_caught_up_beside_one_still_behind_is_enough_at_the_deadline(handover):
    replicas = CAUGHT_UP + BEHIND.replace('slave0', 'slave1')
    result, log, asks = handover(["OK"], "master,failover_in_progress", NEW, replicas)
    assert result == "rc=0 new={} 6379 error=".format(NEW)
    assert asks == 1


# What a replica of OLD answers to ROLE, linked or still connecting after its restart.
LINKED = "slave\n{}\n6379\nconnected\n500\n".format(OLD)
CONNECTING = "slave\n{}\n6379\nconnect\n-1\n".format(OLD)


def test_a_replica_that_answers_but_is_not_linked_yet_is_waited_for(handover):
    # s2 restarted: it answers, its link is not up, its master's INFO does not list it. A
    # sentinel holding its INFO from before the restart could promote it.
    result, log, asks = handover(["OK"], "master,failover_in_progress", NEW,
                                 roles={"s1": LINKED, "s2": CONNECTING})
    assert "1 replica(s) caught up, 2 answering: handing over all the same" in log
    assert result == "rc=0 new={} 6379 error=".format(NEW)
    assert asks == 1


def test_replicas_all_caught_up_are_handed_over_to_at_once(handover):
    replicas = CAUGHT_UP + CAUGHT_UP.replace('slave0', 'slave1').replace('r-1', 'r-2')
    result, log, asks = handover(["OK"], "master,failover_in_progress", NEW, replicas,
                                 roles={"s1": LINKED, "s2": LINKED,
                                        "s3": CONNECTING.replace(OLD, NEW)})
    assert "handing over all the same" not in log  # s3 replicates another master: not waited for
    assert result == "rc=0 new={} 6379 error=".format(NEW)
    assert asks == 1


# Three sentinels, each scripted by files named after it: master-<s> ("host" it names, in turn
# per look: the last line repeats).
FAKE_SENTINELS = r'''
cli() {
    host=$1
    case "$*" in
        *"CLIENT PAUSE"*) echo OK ;;
        *"SENTINEL FAILOVER"*) echo OK ;;
        *"SENTINEL MASTER"*) printf 'name\nr\nflags\nmaster\n' ;;
        *"INFO replication"*) printf 'role:master\r\nmaster_repl_offset:500\r\n%s' "$CAUGHT_UP" ;;
        *"get-master-addr-by-name"*)
            n=$(cat looks-$host); echo $((n + 1)) > looks-$host
            named=$(sed -n "$((n + 1))p" master-$host | grep . || tail -n 1 master-$host)
            printf '%s\n6379\n' "$named" ;;
    esac
}
now() { t=$(cat clock); echo $((t + 1)) > clock; echo "$t"; }
sleep() { :; }
all_pods() { printf 's0\ns1\ns2\n'; }
'''


@pytest.fixture
def handover_among(tmp_path):

    def run(named):
        """``named``: per sentinel, the masters it names look after look."""
        (tmp_path / "clock").write_text("0")
        for sentinel in ("s0", "s1", "s2"):
            (tmp_path / ("master-" + sentinel)).write_text("\n".join(named[sentinel]) + "\n")
            (tmp_path / ("looks-" + sentinel)).write_text("0")
        result, _ = run_handover(tmp_path, FAKE_SENTINELS, "s0", {"CAUGHT_UP": CAUGHT_UP})
        return result, int((tmp_path / "looks-s1").read_text())
    return run


def test_the_handover_waits_until_a_quorum_of_sentinels_name_the_new_master(handover_among):
    # The leading sentinel (s0, in the stopping pod) names the replica it promoted at once, at
    # the failover's epoch; s1 adopts it from its hello messages a few looks later. Going
    # before then would take the only copy of the new configuration away with this pod.
    result, looks = handover_among({"s0": [NEW], "s1": [OLD] * 4 + [NEW], "s2": [OLD]})
    assert result == "rc=0 new={} 6379 error=".format(NEW)
    # One question to each sentinel a look: the fifth look found the quorum.
    assert looks == 5


def test_a_new_master_only_the_leading_sentinel_names_is_no_handover(handover_among):
    result, _ = handover_among({"s0": [NEW], "s1": [OLD], "s2": [OLD]})
    assert result.startswith("rc=1 new= error=no new master after")


# A sentinel-port roll reaching the master's pod last: the other pods' sentinels listen on the
# new port (26380), this pod's environment names the old one (26379), where only its own
# sentinel (s0) listens. Each sentinel answers on its own port only; s0 lists the others as its
# hello messages taught it. A failover asked of s0 alone never reaches the others: it names
# the old master on (Sentinel gives the failover up).
FAKE_PORT_ROLL = r'''
cli() {
    host=$1 port=$2
    shift 2
    case "$*" in
        SENTINEL*) [ "$port" = "$(cat port-$host)" ] || return 0 ;;
    esac
    case "$*" in
        "CLIENT PAUSE"*) echo OK ;;
        "SENTINEL SENTINELS"*)
            for other in s1 s2; do printf 'name\nid-%s\nip\n%s\nport\n26380\n' $other $other; done ;;
        "SENTINEL FAILOVER"*)
            echo OK
            [ "$host" = s0 ] || echo "$NEW" > promoted ;;
        "SENTINEL MASTER"*) printf 'name\nr\nflags\nmaster\n' ;;
        "SENTINEL get-master-addr-by-name"*)
            if [ -s promoted ] && [ "$host" != s0 ]; then cat promoted; else echo "$OLD"; fi
            echo 6379 ;;
        "INFO replication") printf 'role:master\r\nmaster_repl_offset:500\r\n%s' "$CAUGHT_UP" ;;
    esac
}
now() { t=$(cat clock); echo $((t + 1)) > clock; echo "$t"; }
sleep() { :; }
all_pods() { printf 's0\ns1\ns2\n'; }
'''


def test_a_handover_in_a_sentinel_port_roll_asks_the_sentinels_on_the_new_port(tmp_path):
    (tmp_path / "clock").write_text("0")
    (tmp_path / "promoted").write_text("")
    for sentinel, port in (("s0", "26379"), ("s1", "26380"), ("s2", "26380")):
        (tmp_path / ("port-" + sentinel)).write_text(port)
    # The stopping master is s0 here (its own sentinel is the one its environment reaches).
    files = podspec.volume_files(APP, settings.parse({}, 3, app_name=APP))
    for name in ("lib.sh", "handover.sh"):
        (tmp_path / name).write_text(files[podspec.REDIS_SCRIPTS_VOLUME][name])
    (tmp_path / "fake.sh").write_text(FAKE_PORT_ROLL)
    script = ('. ./lib.sh; . ./handover.sh; . ./fake.sh; handover a s0 s1 s2 s0; '
              'echo "rc=$? new=$HANDOVER_NEW asked=$HANDOVER_ASKED error=$HANDOVER_ERROR"')
    env = {"PATH": "/usr/bin:/bin", "REDIS_PORT": "6379", "SENTINEL_PORT": "26379",
           "MASTER_NAME": APP, "POD_NAME": "r-0", "PEER_DOMAIN": "x", "OLD": "s0", "NEW": "s1",
           "CAUGHT_UP": CAUGHT_UP}
    done = subprocess.run(["/bin/sh", "-c", script], cwd=str(tmp_path), env=env, text=True,
                          capture_output=True, check=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "rc=0 new=s1 6379 asked=s1 error="
