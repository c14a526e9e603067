"""Finding the master watchers in the process table (what the leader stops), and their trigger."""

import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'lib'))

from redis_k8s import watchers  # noqa: E402

WATCHER = b'/usr/bin/python3\0-m\0redis_k8s.master_watcher\0.master-watcher.json\0'


def environ(**entries):
    return b''.join('{}={}\0'.format(key, value).encode() for key, value in entries.items())


def test_the_trigger_runs_update_status_in_the_operator_not_the_workload_pod():
    assert watchers.refresh_command('redis-k8s/3') == [
        'juju-run', '--operator', 'redis-k8s/3', 'hooks/update-status']


def test_a_new_master_moves_every_entry_at_once_then_runs_update_status_unless_taken_in():
    assert watchers.publish_command('redis-k8s/3') == [
        'juju-run', '--operator', 'redis-k8s/3', 'bin/publish-promoted {host}']
    assert watchers.promotion_command('redis-k8s/3') == [
        'juju-run', '--operator', 'redis-k8s/3', 'bin/update-status-unless-published {host}']


def test_a_watcher_is_named_by_the_unit_whose_hook_started_it():
    assert watchers.unit_of(WATCHER, environ(PATH='/bin', JUJU_UNIT_NAME='redis-k8s/3')) == \
        'redis-k8s/3'


@pytest.mark.parametrize('cmdline, env', [
    # not a watcher: the module name only inside another argument
    (b'/bin/sh\0-c\0echo redis_k8s.master_watcher\0', environ(JUJU_UNIT_NAME='redis-k8s/0')),
    (b'redis-server 127.0.0.1:6379\0', environ(JUJU_UNIT_NAME='redis-k8s/0')),
    # a watcher no hook started (no unit to name)
    (WATCHER, environ(PATH='/bin')),
    (WATCHER, environ(JUJU_UNIT_NAME='')),
    (WATCHER, b''),
])
def test_other_processes_are_not_watchers(cmdline, env):
    assert watchers.unit_of(cmdline, env) is None


def test_running_lists_live_watchers_by_pid_and_unit(tmp_path):
    # A real watcher process, waiting for a settings file that never comes.
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'lib'), JUJU_UNIT_NAME='redis-k8s/7')
    process = subprocess.Popen([sys.executable, '-m', 'redis_k8s.master_watcher',
                                str(tmp_path / 'absent.json')], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while (process.pid, 'redis-k8s/7') not in watchers.running():
            assert time.monotonic() < deadline, watchers.running()
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()
    assert (process.pid, 'redis-k8s/7') not in watchers.running()


def test_running_reads_a_process_table(tmp_path):
    def process(pid, cmdline, env):
        directory = tmp_path / str(pid)
        directory.mkdir()
        (directory / 'cmdline').write_bytes(cmdline)
        (directory / 'environ').write_bytes(env)
    process(40, WATCHER, environ(JUJU_UNIT_NAME='redis-k8s/1'))
    process(7, WATCHER, environ(JUJU_UNIT_NAME='redis-k8s/0'))
    process(9, b'sleep\0100\0', environ(JUJU_UNIT_NAME='redis-k8s/0'))
    (tmp_path / 'self').mkdir()
    (tmp_path / '12').mkdir()  # a process that ended while the table was read
    assert watchers.running(str(tmp_path)) == [(7, 'redis-k8s/0'), (40, 'redis-k8s/1')]


# --- supervision: what the leader's hooks do with the watcher of their charm directory ----------

# An application name no other watcher on this machine has: stop_others stops every watcher of
# the application it is given, and other test runs may have real ones.
APP = 'watcher-test-{}'.format(os.getpid())


def charm_dir(tmp_path):
    """A charm directory whose lib/ is this repository's."""
    directory = tmp_path / 'charm'
    directory.mkdir()
    (directory / 'lib').symlink_to(os.path.join(ROOT, 'lib'))
    return str(directory)


def wait_running(pid, unit):
    """Until the process runs the watcher (right after the fork it still shows its parent)."""
    deadline = time.monotonic() + 10
    while (pid, unit) not in watchers.running():
        assert time.monotonic() < deadline, watchers.running()
        time.sleep(0.05)


def test_the_fingerprint_covers_every_module_the_watcher_imports():
    script = ('import sys, redis_k8s.master_watcher; '
              'print("\\n".join(sorted(m.__file__ for n, m in sys.modules.items() '
              'if n.startswith("redis_k8s.") and getattr(m, "__file__", None))))')
    out = subprocess.run([sys.executable, '-c', script], env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'lib')),
                         capture_output=True, text=True, check=True).stdout
    imported = {os.path.basename(path) for path in out.split()}
    assert imported == set(watchers.SOURCES)


def test_the_fingerprint_changes_with_any_of_the_sources(tmp_path):
    for name in watchers.SOURCES:
        (tmp_path / name).write_text('one')
    first = watchers.code_fingerprint(str(tmp_path))
    (tmp_path / 'rules.py').write_text('two')
    assert watchers.code_fingerprint(str(tmp_path)) != first


def test_ensure_starts_one_watcher_keeps_it_and_stop_stops_it(tmp_path):
    directory = charm_dir(tmp_path)
    settings = {'sentinels': [], 'port': 26379, 'password': 'secret', 'master_name': 'r',
                'trigger': ['true'], 'settle': []}
    environ = dict(os.environ, JUJU_UNIT_NAME=APP + '/4', JUJU_CONTEXT_ID=APP + '/4-hook-1')
    pid = watchers.ensure(directory, settings, environ)
    try:
        assert pid is not None
        wait_running(pid, APP + '/4')
        path = os.path.join(directory, watchers.SETTINGS_FILE)
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert watchers.process(directory) == (pid, watchers.code_fingerprint())
        with open('/proc/{}/environ'.format(pid), 'rb') as handle:
            environ_of_watcher = handle.read()
        assert b'JUJU_CONTEXT_ID=' not in environ_of_watcher
        assert watchers.unit_of(open('/proc/{}/cmdline'.format(pid), 'rb').read(), environ_of_watcher) == \
            APP + '/4'
        mtime = os.stat(path).st_mtime_ns
        assert watchers.ensure(directory, settings, environ) is None  # kept, settings untouched
        assert os.stat(path).st_mtime_ns == mtime
        assert watchers.stop_others(APP, keep=pid) == []
    finally:
        assert watchers.stop(directory) == pid
    deadline = time.monotonic() + 10
    while (pid, APP + '/4') in watchers.running():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert watchers.process(directory) is None
    assert watchers.stop(directory) is None


def test_new_code_restarts_the_watcher_and_other_units_watchers_are_stopped(tmp_path):
    directory = charm_dir(tmp_path)
    settings = {'sentinels': [], 'port': 26379, 'master_name': 'r', 'trigger': ['true'], 'settle': []}
    environ = dict(os.environ, JUJU_UNIT_NAME=APP + '/5')
    first = watchers.ensure(directory, settings, environ)
    started = [first]
    try:
        wait_running(first, APP + '/5')
        with open(os.path.join(directory, watchers.PID_FILE), 'w') as handle:
            handle.write('{} {}'.format(first, 'older-code'))  # as an upgrade leaves it
        second = watchers.ensure(directory, settings, environ)
        started.append(second)
        assert second not in (None, first)
        wait_running(second, APP + '/5')
        (tmp_path / 'other').mkdir()
        third = watchers.ensure(charm_dir(tmp_path / 'other'), settings,
                                dict(os.environ, JUJU_UNIT_NAME=APP + '/2'))
        started.append(third)
        wait_running(third, APP + '/2')
        deadline = time.monotonic() + 10
        while (first, APP + '/5') in watchers.running():  # the old code's watcher ends
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert watchers.stop_others(APP, keep=second) == [(third, APP + '/2')]
        assert watchers.stop_others(APP + '-other', keep=None) == []
    finally:
        for pid in started:
            watchers.terminate(pid)
    deadline = time.monotonic() + 10
    while any(pid in started for pid, unit in watchers.running()):
        assert time.monotonic() < deadline, watchers.running()
        time.sleep(0.05)
