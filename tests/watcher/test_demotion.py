"""The watcher's demotion of an old master: only once a sentinel majority has switched, never the
pod they name; and a frozen master runs the demotion when it wakes, before a client's write."""

import os
import signal
import sys
import threading
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'lib'))
sys.path.insert(0, ROOT)

from redis_k8s import demotion  # noqa: E402
from testbed import bare_redis  # noqa: E402

OLD = ('m-0.m-endpoints.model.svc.cluster.local', 6379)
NEW = ('m-1.m-endpoints.model.svc.cluster.local', 6379)
SENTINELS = ['m-0.x', 'm-1.x', 'm-2.x']
DATA = {'sentinels': SENTINELS, 'port': 26379, 'password': 'pw', 'master_name': 'm'}


def test_a_switch_message_is_parsed():
    assert demotion.switch_of('m a 6379 b 6380') == ('m', ('a', 6379), ('b', 6380))
    assert demotion.switch_of('m a 6379 b') is None
    assert demotion.switch_of('master m a 6379') is None


def test_commands_are_written_in_the_redis_protocol_binary_safe():
    assert demotion.command('AUTH', 'p w\r\n') == b'*2\r\n$4\r\nAUTH\r\n$5\r\np w\r\n\r\n'


class Recorder:
    """Sentinel views that change over the calls; records what would be sent."""

    def __init__(self, *views):
        self.answers = list(views)
        self.sent = []
        self.logged = []
        self.answer = threading.Event()  # the old master's reply: at once unless cleared
        self.answer.set()

    def views(self, sentinels, port, password, master_name):
        assert (sentinels, port, password, master_name) == (SENTINELS, 26379, 'pw', 'm')
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def send(self, host, port, password, master):
        self.sent.append((host, port, password, master))
        self.answer.wait(5)
        return '+OK +OK'

    def demoter(self):
        return demotion.Demoter(views=self.views, send=self.send, log=self.logged.append)


def test_the_old_master_is_demoted_once_a_majority_names_the_new_one():
    recorder = Recorder({'m-1.x': NEW, 'm-0.x': OLD, 'm-2.x': OLD},  # only the leader switched
                        {'m-1.x': NEW, 'm-0.x': NEW, 'm-2.x': OLD})
    assert recorder.demoter().demote(OLD, NEW, DATA) == '+OK +OK'
    assert recorder.sent == [(OLD[0], OLD[1], 'pw', NEW)]


@pytest.mark.parametrize('case', ['no majority', 'moved on', 'same pod'])
def test_nothing_is_sent_without_a_majority_for_the_new_master_or_to_its_pod(case):
    old = OLD
    if case == 'no majority':  # two sentinels do not answer
        recorder = Recorder({'m-1.x': NEW})
    elif case == 'moved on':  # a newer switch: its own event demotes what it must
        recorder = Recorder({'m-1.x': OLD, 'm-0.x': OLD, 'm-2.x': NEW})
    else:
        recorder = Recorder({'m-1.x': NEW, 'm-0.x': NEW, 'm-2.x': NEW})
        old = (NEW[0], 6380)
    assert recorder.demoter().demote(old, NEW, DATA, wait_s=0.3) is None
    assert recorder.sent == []


def test_one_demotion_at_a_time_per_switch_and_only_for_our_master_group():
    recorder = Recorder({'m-1.x': NEW, 'm-0.x': NEW, 'm-2.x': NEW})
    demoter = recorder.demoter()
    text = 'm {} {} {} {}'.format(OLD[0], OLD[1], NEW[0], NEW[1])
    assert demoter.on_switch('other' + text[1:], DATA) is None
    recorder.answer.clear()  # the old master is frozen: the first demotion waits for it
    first = demoter.on_switch(text, DATA)
    second = demoter.on_switch(text, DATA)  # another sentinel announcing the same switch
    recorder.answer.set()
    first.join(5)
    assert second is None
    assert recorder.sent == [(OLD[0], OLD[1], 'pw', NEW)]
    demoter.on_switch(text, DATA).join(5)  # the same switch again, later: acted on again
    assert len(recorder.sent) == 2


HOST_OLD, HOST_NEW = '127.181.0.1', '127.181.0.2'
PORT = 26392
PASSWORD = 'demotion-test-password'


def redis_server(host, directory):
    return bare_redis.start(host, PORT, PASSWORD, directory)


@pytest.fixture
def two_masters(tmp_path):
    processes = []
    clients = []
    for host, name in ((HOST_OLD, 'old'), (HOST_NEW, 'new')):
        directory = tmp_path / name
        directory.mkdir()
        process, client = redis_server(host, directory)
        processes.append(process)
        clients.append(client)
    yield processes, clients
    for process in processes:
        bare_redis.stop(process)  # SIGKILL ends a stopped process too


def test_a_frozen_master_runs_the_demotion_on_waking_before_a_later_clients_write(two_masters):
    (old_process, _), (old, new) = two_masters
    old.set('before', 1)
    os.kill(old_process.pid, signal.SIGSTOP)
    try:
        # Sent to the frozen process: no answer, but the kernel keeps the commands.
        replies = demotion.send_replicaof(HOST_OLD, PORT, PASSWORD, (HOST_NEW, PORT), wait_s=0.3)
        assert replies == ''
        # A client that connects afterwards (a consumer still given the old master) and writes.
        writer = redis.Redis(host=HOST_OLD, port=PORT, password=PASSWORD, socket_timeout=10,
                             socket_connect_timeout=2)
        outcome = {}

        def write():
            try:
                outcome['reply'] = writer.set('after', 1)
            except redis.RedisError as error:
                outcome['error'] = error
        thread = threading.Thread(target=write)
        thread.start()
        time.sleep(0.3)
    finally:
        os.kill(old_process.pid, signal.SIGCONT)
    thread.join(10)
    assert 'reply' not in outcome, 'the woken master acknowledged a write'
    assert isinstance(outcome['error'], redis.ReadOnlyError)
    info = old.info('replication')
    assert info['role'] == 'slave' and info['master_host'] == HOST_NEW


def test_an_unreachable_master_is_reported_as_such():
    assert demotion.send_replicaof('127.181.0.3', 1, PASSWORD, (HOST_NEW, PORT)) is None
