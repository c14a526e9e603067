"""The exporter's ACL user: its rules, how the leader checks and (re)creates it, and that a
rotation of the main password never touches it."""

import copy
import hashlib

from redis_k8s import live, metrics_user, settings

METRICS_PW = "Metrics-Pw-0123456789"


class AclInstance:
    """A redis or sentinel keeping ACL users the way Redis 7.0 reports them (``ACL GETUSER``, to a
    client decoding replies);
    every ``ACL SETUSER`` is recorded. Also answers what ``apply_settings`` asks, as in line."""

    def __init__(self, settings_reported, users=None):
        self.reported = dict(settings_reported)
        self.users = {"default": {"flags": ["on"], "passwords": [_digest("pw")],
                                  "commands": "+@all", "keys": "~*", "channels": "&*"}}
        self.users.update(copy.deepcopy(users or {}))
        self.setuser = []

    def config_get(self, pattern):
        return dict(self.reported)

    def ping(self):
        return True

    def execute_command(self, *args):
        if args[:2] == ("SENTINEL", "MASTER"):
            return dict(self.reported)
        if args[:2] == ("ACL", "GETUSER"):
            user = self.users.get(args[2])
            if user is None:
                return None
            reply = []
            for name in ("flags", "passwords", "commands", "keys", "channels"):
                reply += [name, user[name]]
            return reply + ["selectors", []]
        if args[:2] == ("ACL", "SETUSER"):
            self.setuser.append(args[2:])
            user = self.users.setdefault(args[2], {"flags": ["off"], "passwords": [], "commands": "-@all",
                                                   "keys": "", "channels": ""})
            commands = user["commands"].split()
            for rule in args[3:]:
                if rule == "reset":
                    user.update({"flags": ["off"], "passwords": [], "keys": "", "channels": ""})
                    commands = ["-@all"]
                elif rule in ("on", "off"):
                    user["flags"] = [rule]
                elif rule.startswith(">"):
                    user["passwords"].append(_digest(rule[1:]))
                elif rule.startswith("#"):
                    user["passwords"].append(rule[1:])
                elif rule.startswith("!"):
                    user["passwords"].remove(rule[1:])
                elif rule == "-@all":
                    commands = ["-@all"]
                else:
                    commands.append(rule)
            user["commands"] = " ".join(commands)
            return b"OK"
        raise AssertionError("unexpected command {}".format(args))

    def close(self):
        pass


def _digest(password):
    return hashlib.sha256(password.encode()).hexdigest()


def a_pod(parsed, users=None):
    return {parsed.port: AclInstance(live.redis_settings(parsed), users),
            parsed.sentinel_port: AclInstance(live.sentinel_settings(parsed), users)}


def connect_to(pods):
    return lambda host, port, password: pods[host][port]


def test_the_rules_grant_only_reading_commands_and_name_the_password_by_its_digest():
    rules = metrics_user.rules(METRICS_PW, metrics_user.REDIS_COMMANDS)
    assert rules[:3] == ["reset", "on", "#" + _digest(METRICS_PW)]
    assert METRICS_PW not in " ".join(rules)
    assert rules[3:] == ["-@all", "+info", "+ping", "+client|setname", "+slowlog|get",
                         "+slowlog|len", "+latency|latest"]
    # No key, channel, write, admin or CONFIG GET (which answers the main password).
    for commands in (metrics_user.REDIS_COMMANDS, metrics_user.SENTINEL_COMMANDS):
        text = metrics_user.permissions(commands)
        assert "~" not in text and "&" not in text and "config" not in text
        assert "+@" not in text and "sentinel|set" not in text.split()
    assert set(metrics_user.SENTINEL_COMMANDS) - set(metrics_user.REDIS_COMMANDS) == {
        "sentinel|masters", "sentinel|sentinels", "sentinel|slaves", "sentinel|ckquorum"}


def test_matches_reads_acl_getuser_as_redis_7_reports_it():
    real = [b"flags", [b"on", b"sanitize-payload"], b"passwords", [_digest(METRICS_PW).encode()],
            b"commands", b"-@all +slowlog|get +slowlog|len +client|setname +latency|latest +info +ping",
            b"keys", b"", b"channels", b"", b"selectors", []]
    assert metrics_user.matches(real, METRICS_PW, metrics_user.REDIS_COMMANDS)
    assert not metrics_user.matches(None, METRICS_PW, metrics_user.REDIS_COMMANDS)
    assert not metrics_user.matches(real, "Other-Pw-0123456789", metrics_user.REDIS_COMMANDS)
    assert not metrics_user.matches(real, METRICS_PW, metrics_user.SENTINEL_COMMANDS)
    off = [b"off" if item == b"on" else item for item in real[1]]
    assert not metrics_user.matches([real[0], off] + real[2:], METRICS_PW, metrics_user.REDIS_COMMANDS)
    keys = real[:7] + [b"~*"] + real[8:]
    assert not metrics_user.matches(keys, METRICS_PW, metrics_user.REDIS_COMMANDS)


def test_the_leader_creates_the_user_where_it_lacks_and_leaves_it_where_it_is_right():
    parsed = settings.parse({}, 3)
    pods = {host: a_pod(parsed) for host in ("a", "b")}
    assert live.apply_settings(["a", "b"], parsed, "pw", connect=connect_to(pods),
                               metrics_password=METRICS_PW) == []
    for pod in pods.values():
        assert pod[6379].setuser == [(metrics_user.NAME,) + tuple(
            metrics_user.rules(METRICS_PW, metrics_user.REDIS_COMMANDS))]
        assert pod[26379].setuser == [(metrics_user.NAME,) + tuple(
            metrics_user.rules(METRICS_PW, metrics_user.SENTINEL_COMMANDS))]
        assert pod[6379].users["default"]["passwords"] == [_digest("pw")]  # untouched
    for pod in pods.values():
        pod[6379].setuser.clear()
        pod[26379].setuser.clear()
    assert live.apply_settings(["a", "b"], parsed, "pw", connect=connect_to(pods),
                               metrics_password=METRICS_PW) == []
    assert [pod[port].setuser for pod in pods.values() for port in (6379, 26379)] == [[]] * 4


def test_a_user_with_other_rules_or_password_is_reset_to_the_wanted_one():
    parsed = settings.parse({}, 3)
    wider = {metrics_user.NAME: {"flags": ["on"], "passwords": [_digest(METRICS_PW)],
                                 "commands": "+@all", "keys": "~*", "channels": ""}}
    pods = {"a": a_pod(parsed, wider)}
    assert live.apply_settings(["a"], parsed, "pw", connect=connect_to(pods),
                               metrics_password=METRICS_PW) == []
    for port, commands in ((6379, metrics_user.REDIS_COMMANDS), (26379, metrics_user.SENTINEL_COMMANDS)):
        reply = pods["a"][port].execute_command("ACL", "GETUSER", metrics_user.NAME)
        assert metrics_user.matches(reply, METRICS_PW, commands)


def test_without_a_metrics_password_no_user_is_asked_for():
    parsed = settings.parse({}, 3)
    pods = {"a": a_pod(parsed)}
    assert live.apply_settings(["a"], parsed, "pw", connect=connect_to(pods)) == []
    assert metrics_user.NAME not in pods["a"][6379].users


def test_a_rotation_of_the_main_password_changes_the_default_user_only():
    parsed = settings.parse({}, 3)
    user = {metrics_user.NAME: {"flags": ["on"], "passwords": [_digest(METRICS_PW)],
                                "commands": metrics_user.permissions(metrics_user.REDIS_COMMANDS),
                                "keys": "", "channels": ""}}
    pods = {"a": a_pod(parsed, user)}
    before = dict(pods["a"][6379].users[metrics_user.NAME])
    assert live.accept_passwords(["a"], parsed, ["New-Pw-0123456", "pw"], connect_to(pods)) == []
    assert live.accept_passwords(["a"], parsed, ["New-Pw-0123456"], connect_to(pods)) == []
    for port in (6379, 26379):
        assert {args[0] for args in pods["a"][port].setuser} == {"default"}
        assert pods["a"][port].users["default"]["passwords"] == [_digest("New-Pw-0123456")]
    assert pods["a"][6379].users[metrics_user.NAME] == before


def metrics_user_line(tmp_path, content):
    """What the rendered lib.sh's ``metrics_user_line`` prints with the Secret file holding
    ``content`` (None: no such file)."""
    import subprocess

    from redis_k8s import podspec
    lib = tmp_path / "lib.sh"
    lib.write_text(podspec.volume_files("r", settings.parse({}, 3))[podspec.REDIS_SCRIPTS_VOLUME]["lib.sh"])
    secret = tmp_path / "metrics-password"
    if content is not None:
        secret.write_text(content)
    script = '. "$1"; METRICS_PASSWORD_FILE="$2"; metrics_user_line "$3"'
    result = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(lib), str(secret),
         metrics_user.permissions(metrics_user.REDIS_COMMANDS)],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=30, check=True)
    return result.stdout


def test_the_start_scripts_line_is_the_leaders_rules_with_the_digest_of_the_secret_file(tmp_path):
    line = metrics_user_line(tmp_path, METRICS_PW)  # a Secret file has no trailing newline
    assert line == "user {} {}\n".format(
        metrics_user.NAME, " ".join(metrics_user.rules(METRICS_PW, metrics_user.REDIS_COMMANDS)))
    assert METRICS_PW not in line


def test_without_the_secret_key_the_start_scripts_add_no_user(tmp_path):
    assert metrics_user_line(tmp_path, None) == ""
    assert metrics_user_line(tmp_path, "") == ""


def test_without_sha256sum_the_start_scripts_add_no_user_rather_than_a_bad_line(tmp_path):
    import subprocess

    from redis_k8s import podspec
    lib = tmp_path / "lib.sh"
    lib.write_text(podspec.volume_files("r", settings.parse({}, 3))[podspec.REDIS_SCRIPTS_VOLUME]["lib.sh"])
    (tmp_path / "metrics-password").write_text(METRICS_PW)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("cut", "date", "timeout"):  # everything lib.sh needs but sha256sum
        (bin_dir / tool).symlink_to("/usr/bin/" + tool)
    script = '. "$1"; METRICS_PASSWORD_FILE="$2"; metrics_user_line "-@all +info"'
    result = subprocess.run(["/bin/sh", "-c", script, "sh", str(lib), str(tmp_path / "metrics-password")],
                            env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=30,
                            check=True)
    assert result.stdout == ""
    assert "user left to the leader" in result.stderr
