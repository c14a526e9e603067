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
