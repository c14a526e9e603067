import shutil
import subprocess

import jinja2
import pytest

from redis_k8s import podspec, settings, templating

SHELL_SCRIPTS = ("lib.sh", "fence.sh", "handover.sh", "redis-start.sh", "redis-stop.sh", "failover.sh",
                 "sentinel-start.sh", "probe-redis.sh", "probe-sentinel.sh", "backup-lib.sh",
                 "backup.sh", "list-backups.sh", "restore.sh")


def context():
    # tls.env's own values come from redis_k8s.tls_env (the Secret's, not the ConfigMaps').
    return dict(podspec.template_context("redis-k8s", settings.parse({}, 3)),
                enabled=True, auth_clients="yes", non_tls_port=0)


def test_every_template_renders_with_the_podspec_context():
    names = templating.names()
    assert set(SHELL_SCRIPTS) <= set(names)
    assert {"redis.conf", "sentinel.conf", "sentinel-master.conf"} <= set(names)
    for name in names:
        text = templating.render(name, **context())
        assert text.strip()
        assert "{{" not in text and "{%" not in text


@pytest.mark.parametrize("name", templating.names())
def test_a_missing_variable_is_an_error(name):
    full = context()
    used = [k for k in full if "{{ " + k in open(templating.TEMPLATES_DIR + "/" + name).read()]
    if not used:
        pytest.fail("{} uses no context variable".format(name))
    partial = {k: v for k, v in full.items() if k != used[0]}
    with pytest.raises(jinja2.UndefinedError):
        templating.render(name, **partial)


@pytest.mark.parametrize("name", SHELL_SCRIPTS)
def test_scripts_are_valid_posix_sh(name, tmp_path):
    script = tmp_path / name
    script.write_text(templating.render(name, **context()))
    # /bin/sh is dash here, as in the redis image: bash-only syntax fails to parse.
    result = subprocess.run(["/bin/sh", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    if shutil.which("dash"):
        assert subprocess.run(["dash", "-n", str(script)]).returncode == 0


@pytest.mark.parametrize("name", SHELL_SCRIPTS)
def test_scripts_use_no_bashisms(name):
    text = templating.render(name, **context())
    for bashism in ("[[", "function ", "local ", "source ", "$'", "<<<", "declare ", "pipefail"):
        assert bashism not in text, "{} uses {!r}".format(name, bashism)


def test_redis_conf_follows_settings():
    ctx = podspec.template_context("r", settings.parse(
        {"appendonly": False, "maxmemory": "1gb", "maxmemory-policy": "allkeys-lru", "min-replicas-max-lag": 7}, 3))
    conf = templating.render("redis.conf", **ctx)
    assert "appendonly no" in conf
    assert "maxmemory 1gb" in conf and "maxmemory-policy allkeys-lru" in conf
    assert "min-replicas-max-lag 7" in conf
    conf = templating.render("redis.conf", **context())
    assert "\nmaxmemory " not in conf and "appendonly yes" in conf


def test_redis_conf_carries_the_automatic_max_lag_for_the_next_start():
    ctx = podspec.template_context("r", settings.parse({"down-after-milliseconds": 6000}, 3))
    assert "\nmin-replicas-max-lag 4\n" in templating.render("redis.conf", **ctx)


def test_sentinel_confs_hold_the_static_part_only():
    ctx = podspec.template_context("r", settings.parse(
        {"sentinel-port": 26400, "down-after-milliseconds": 1500, "failover-timeout": 9000}, 3))
    conf = templating.render("sentinel.conf", **ctx)
    assert "port 26400" in conf
    assert "sentinel resolve-hostnames yes" in conf and "sentinel announce-hostnames yes" in conf
    assert "monitor" not in conf and "pass" not in conf
    master = templating.render("sentinel-master.conf", **ctx)
    assert "sentinel down-after-milliseconds r 1500" in master
    assert "sentinel failover-timeout r 9000" in master
