"""The charm's redis clients send nothing the pods' Redis 7.0 refuses: redis-py 5 sends
``CLIENT SETINFO`` on every connection unless told not to, which Redis 7.0 answers with an
error (counted in ``INFO errorstats``, which the exporter publishes), two round trips each."""

import pytest
import redis

from redis_k8s import connection
from tls_tools import start_plain_redis, stop

HOST = "127.42.1.1"
PORT = 27311


@pytest.fixture
def server(tmp_path):
    process = start_plain_redis(tmp_path, HOST, PORT)
    connection.configure_tls(None)
    yield redis.Redis(host=HOST, port=PORT, socket_timeout=1, lib_name=None, lib_version=None)
    stop(process)


@pytest.mark.parametrize("factory", [
    lambda: connection.default_connect(HOST, PORT, None),
    lambda: connection.client(HOST, PORT, None, timeout=1, connect_timeout=1),
], ids=["hooks", "watcher"])
def test_a_client_connects_without_an_error_reply(server, factory):
    assert factory().ping()
    assert server.info("errorstats") == {}
