"""What the unit tests of live redis share: the real ``openssl`` CLI (the tests may use it, the
charm never does), bare TLS-only redis-servers on 127.215.0.x, ports 27000-27100, and bare
plain ones."""

import os
import signal
import socket
import ssl
import subprocess
import time

START_WAIT_S = 10.0


def openssl(directory, *args, check=True, data=None):
    """Run ``openssl ARGS`` in ``directory``; return the completed process (text output)."""
    return subprocess.run(['openssl'] + [str(a) for a in args], cwd=str(directory), input=data,
                          capture_output=True, text=True, check=check)


def write(directory, name, data):
    """Write ``data`` (str or bytes) to ``directory/name``; return the path."""
    path = os.path.join(str(directory), name)
    with open(path, 'wb') as f:
        f.write(data.encode('ascii') if isinstance(data, str) else data)
    return path


def start_tls_redis(directory, host, tls_port, cert, key, ca, extra=()):
    """Start redis-server listening with TLS only (``--port 0``) on ``host:tls_port``, in a
    process group of its own; return the process once the port accepts TLS handshakes."""
    log = open(os.path.join(str(directory), 'redis-{}.log'.format(tls_port)), 'wb')
    process = subprocess.Popen(
        ['redis-server', '--bind', host, '--port', '0', '--tls-port', str(tls_port),
         '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', ca,
         '--save', '', '--appendonly', 'no', '--dir', str(directory)] + list(extra),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    context = ssl.create_default_context(cafile=ca)
    context.check_hostname = False
    deadline = time.monotonic() + START_WAIT_S
    while True:
        try:
            with socket.create_connection((host, tls_port), timeout=2) as sock:
                with context.wrap_socket(sock):
                    return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError('redis-server with TLS on {}:{} did not start'.format(host, tls_port))
            time.sleep(0.1)


def start_plain_redis(directory, host, port, extra=()):
    """Start a plain redis-server on ``host:port`` (no persistence), in a process group of its
    own; return the process once it answers ``PING``."""
    import redis
    log = open(os.path.join(str(directory), 'redis-{}.log'.format(host)), 'wb')
    process = subprocess.Popen(
        ['redis-server', '--bind', host, '--port', str(port), '--save', '', '--appendonly', 'no',
         '--dir', str(directory)] + list(extra),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    probe = redis.Redis(host=host, port=port, socket_timeout=1, lib_name=None, lib_version=None)
    deadline = time.monotonic() + START_WAIT_S
    while True:
        try:
            probe.ping()
            return process
        except redis.RedisError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError('redis-server on {}:{} did not start'.format(host, port))
            time.sleep(0.1)


def stop(process):
    """Kill the server's process group (only it is in it) and reap it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for(check, timeout=20, interval=0.1):
    """Poll ``check`` until it returns a truthy value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(interval)
