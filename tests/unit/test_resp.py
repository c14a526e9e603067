"""The hooks' reading client (redis_k8s.resp) against real redis and sentinel processes: it gives
what redis-py gives for the reads it answers, passes everything else to redis-py, fails the way
:class:`redis_k8s.connection.Pods` expects, and a hook that only reads never loads redis-py."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import redis
from redis._parsers.helpers import parse_info as redis_py_parse_info

from redis_k8s import connection, observation, resp, settings
from tls_tools import start_plain_redis, stop, wait_for

MASTER, REPLICA = '127.42.7.1', '127.42.7.2'
PORT, SENTINEL_PORT = 27331, 27332
PASSWORD = 'resp-test-password'
LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'lib')
SETTINGS = settings.parse({'port': PORT, 'sentinel-port': SENTINEL_PORT}, 2, app_name='r')


def redis_py(host, port=PORT, **extra):
    return redis.Redis(host=host, port=port, password=PASSWORD, socket_timeout=2,
                       decode_responses=True, lib_name=None, lib_version=None, **extra)


def start_sentinel(directory, host):
    conf = os.path.join(str(directory), 'sentinel-{}.conf'.format(host))
    with open(conf, 'w') as out:
        out.write('bind {}\nport {}\nrequirepass {}\n'.format(host, SENTINEL_PORT, PASSWORD))
        out.write('sentinel monitor {} {} {} 1\n'.format(SETTINGS.master_name, MASTER, PORT))
        out.write('sentinel auth-pass {} {}\n'.format(SETTINGS.master_name, PASSWORD))
    log = open(os.path.join(str(directory), 'sentinel-{}.log'.format(host)), 'wb')
    process = subprocess.Popen(['redis-sentinel', conf], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    return process


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp('resp')
    processes = []
    try:
        for host in (MASTER, REPLICA):
            processes.append(start_plain_redis(directory, host, PORT))  # it pings without AUTH
            plain = redis.Redis(host=host, port=PORT, socket_timeout=2)
            plain.config_set('masterauth', PASSWORD)
            plain.config_set('replica-announce-ip', host)  # else the master sees 127.0.0.1
            plain.config_set('requirepass', PASSWORD)
        redis_py(REPLICA).replicaof(MASTER, PORT)
        processes += [start_sentinel(directory, host) for host in (MASTER, REPLICA)]
        redis_py(MASTER).set('resp-key', 'value')  # a keyspace section to parse
        wait_for(lambda: redis_py(REPLICA).info('replication')['master_link_status'] == 'up')
        for host in (MASTER, REPLICA):
            wait_for(lambda: _sentinel_knows_replica(host))
        yield
    finally:
        for process in processes:
            stop(process)


def _sentinel_knows_replica(host):
    try:
        return bool(redis_py(host, SENTINEL_PORT).execute_command(
            'SENTINEL', 'REPLICAS', SETTINGS.master_name))
    except redis.ConnectionError:
        return False


def reading(host, port=PORT, password=PASSWORD, fallback=None):
    return resp.ReadingClient(host, port, password, 2, fallback or (lambda: redis_py(host, port)))


def test_info_parses_as_redis_py_parses_it(cluster):
    raw = redis_py(MASTER)
    raw.set_response_callback('INFO', lambda text, **options: text)
    text = raw.info('everything')
    assert 'slave0:ip=' in text and 'db0:keys=' in text
    assert resp.parse_info(text) == redis_py_parse_info(text)
    parsed = reading(MASTER).info()
    assert parsed['role'] == 'master' and parsed['connected_slaves'] == 1
    assert parsed['slave0']['port'] == PORT and parsed['slave0']['state'] == 'online'
    assert reading(REPLICA).info('replication')['master_port'] == PORT


def test_the_reads_answer_as_redis_py_does(cluster):
    name = SETTINGS.master_name
    for host in (MASTER, REPLICA):
        ours, theirs = reading(host), redis_py(host)
        assert ours.ping() is True and ours.execute_command('ping') is True
        assert ours.execute_command('ROLE')[0] == theirs.execute_command('ROLE')[0]
        ours, theirs = reading(host, SENTINEL_PORT), redis_py(host, SENTINEL_PORT)
        for words in (['GET-MASTER-ADDR-BY-NAME'], ['MASTER'], ['REPLICAS'], ['SENTINELS']):
            mine = ours.execute_command('SENTINEL', words[0], name)
            other = theirs.execute_command('SENTINEL', words[0], name)
            assert type(mine) is type(other) is list
            assert shape(mine) == shape(other), words
        assert ours.execute_command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name) == \
            [MASTER, str(PORT)]
        assert ours.execute_command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'nobody') is None


def shape(reply):
    """A reply's structure and keys, without the values that move (ping times, offsets)."""
    if isinstance(reply, list):
        if reply and all(isinstance(item, str) for item in reply) and len(reply) % 2 == 0 \
                and len(reply) > 2:
            return sorted(reply[::2])
        return [shape(item) for item in reply]
    return type(reply).__name__


def test_what_it_does_not_answer_goes_to_redis_py_on_one_client(cluster):
    opened = []

    def fallback():
        opened.append(redis_py(MASTER))
        return opened[-1]
    client = reading(MASTER, fallback=fallback)
    assert client.info()['role'] == 'master' and opened == []
    client.set('resp-fallback', '1')
    assert client.execute_command('GET', 'resp-fallback') == '1'
    with pytest.raises(redis.ResponseError):
        client.execute_command('CONFIG', 'SET', 'no-such-option', '1')
    assert len(opened) == 1
    client.close()


def test_errors_are_those_pods_ask_expects(cluster):
    with pytest.raises(resp.ReplyError, match='WRONGPASS'):
        reading(MASTER, password='wrong').info()
    with pytest.raises(resp.ReplyError, match='NOAUTH'):
        reading(MASTER, password=None).info()
    with pytest.raises(ConnectionRefusedError):
        reading(MASTER, port=PORT + 9).ping()
    client = reading(MASTER)
    with pytest.raises(resp.ReplyError, match='wrong number of arguments'):
        client.execute_command('ROLE', 'extra')  # an error reply leaves the connection usable
    assert client.ping()


def test_a_silent_instance_times_out_and_is_remembered_as_unanswered(cluster, monkeypatch):
    silent = socket.socket()
    silent.bind(('127.42.7.3', 0))
    silent.listen(1)  # accepts connections (the kernel does) and never answers
    host, port = silent.getsockname()
    monkeypatch.setattr(connection, '_unanswered', {})
    pods = connection.Pods([host], SETTINGS, PASSWORD,
                           lambda h, p, pw: resp.ReadingClient(h, p, pw, 0.3, None))
    try:
        started = time.monotonic()
        assert pods.redis(host, lambda c: c.info(), port=port) is None
        assert time.monotonic() - started < 2
        assert connection.recently_unanswered(host, port)
    finally:
        silent.close()


def test_a_reply_cut_short_is_a_closed_connection():
    server = socket.socket()
    server.bind(('127.42.7.3', 0))
    server.listen(1)

    def answer_half():
        peer, _ = server.accept()
        peer.recv(1024)
        peer.sendall(b'$10\r\nabc')
        peer.close()
    thread = threading.Thread(target=answer_half)
    thread.start()
    try:
        with pytest.raises(ConnectionError):
            resp.ReadingClient(*server.getsockname(), None, 2, None).execute_command('ROLE')
    finally:
        thread.join()
        server.close()


def test_a_snapshot_of_healthy_pods_is_read_without_loading_redis_py(cluster):
    # A fresh interpreter, as a hook is: only the reads of the status, through Pods' default.
    script = '''
import json, sys
sys.path.insert(0, {lib!r})
from redis_k8s import connection, observation, settings
connection.configure_tls(None)
parsed = settings.parse({{'port': {port}, 'sentinel-port': {sport}}}, 2, app_name='r')
snapshot = observation.observe({hosts!r}, parsed, {password!r})
health = snapshot.health()
snapshot.pods.close()
print(json.dumps([health.master, health.ready, 'redis' in sys.modules]))
'''.format(lib=LIB, port=PORT, sport=SENTINEL_PORT, hosts=[MASTER, REPLICA], password=PASSWORD)
    out = subprocess.run([sys.executable, '-c', script], check=True, stdout=subprocess.PIPE,
                         text=True, timeout=60).stdout
    assert json.loads(out) == [[MASTER, PORT], 2, False]


def test_the_same_snapshot_through_redis_py_agrees(cluster):
    connection.configure_tls(None)
    ours = observation.observe([MASTER, REPLICA], SETTINGS, PASSWORD)
    theirs = observation.observe([MASTER, REPLICA], SETTINGS, PASSWORD, connection.default_connect)
    assert ours.health() == theirs.health()
    assert ours.views == theirs.views and ours.flagged_down() == theirs.flagged_down() == set()
