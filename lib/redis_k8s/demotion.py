"""Demotes an old master the moment the sentinels have switched away from it.

Used by the master watcher on every ``+switch-master``. A master frozen (or cut off) while the
sentinels failed it over wakes up still master, with the replica links it had and a count of
good replicas that Redis 7.0 recomputes only once a second (``refreshGoodSlavesCount`` in
``replicationCron``) or when a replica's link closes; the client commands that reached it while
it was frozen run before either. The sentinels demote it only after their next INFO shows it as
master, and the relation data may still name it: every write it acknowledges meanwhile is
discarded at its demotion. So the watcher sends it ``REPLICAOF <new master>`` at once, while it
may still be frozen: the kernel completes the TCP handshake and keeps the command, and redis runs
it when it wakes, before the commands of any client that connected after it (it accepts pending
connections in order and reads a new client's commands in the following loop iteration). After
that every write it is sent fails with ``READONLY``.

It acts only when a majority of the sentinels (a quorum of the pods) name the new master, and
never on the pod they name (:func:`redis_k8s.rules.majority_master`).
"""

import socket
import threading
import time

from . import connection, naming, rules
from .connection import redis  # redis-py, loaded once an error reaches a clause naming it
from .resp import encode as command  # one command in the Redis protocol (binary safe)

SENTINEL_TIMEOUT_S = 0.5
CONNECT_TIMEOUT_S = 1.0
MAJORITY_WAIT_S = 5.0  # the other sentinels learn of a switch within about 2 s (hello messages)
MAJORITY_POLL_S = 0.1
REPLY_WAIT_S = 60.0  # a frozen master answers when it wakes: keep listening this long


def switch_of(text):
    """``(master name, (old host, old port), (new host, new port))`` of a ``+switch-master``
    message (``<name> <old host> <old port> <new host> <new port>``), or None."""
    fields = text.split()
    if len(fields) != 5 or not fields[2].isdigit() or not fields[4].isdigit():
        return None
    return fields[0], (fields[1], int(fields[2])), (fields[3], int(fields[4]))


def sentinel_views(sentinels, port, password, master_name):
    """``{sentinel host: (master host, port)}`` of the sentinels that answer and name one."""
    views = {}
    for host in sentinels:
        try:
            client = connection.client(host, port, password, timeout=SENTINEL_TIMEOUT_S,
                                       connect_timeout=SENTINEL_TIMEOUT_S)
        except (redis.RedisError, OSError):
            continue
        try:
            addr = rules.master_addr(client.execute_command(
                'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', master_name))
        except (redis.RedisError, OSError):
            continue
        finally:
            client.close()
        if addr is not None:
            views[host] = addr
    return views


def send_replicaof(host, port, password, master, wait_s=REPLY_WAIT_S):
    """Send ``AUTH`` and ``REPLICAOF <master>`` to the redis at ``host:port`` in one write,
    without waiting for it to answer first (it may be frozen); then wait up to ``wait_s`` for
    its replies. Returns the replies as text (``''`` when none came), or None when it could not
    be reached. Closing before the replies came ends the connection with a FIN, so a frozen
    redis still runs the commands when it wakes."""
    try:
        sock = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S)
    except OSError:
        return None
    tls = connection.current_tls()
    if tls is not None and connection.speaks_tls(host, port) is not False and tls.enabled:
        # Over TLS the handshake needs the redis to answer: a frozen one is demoted once it
        # wakes (the sentinels' own REPLICAOF reaches it then too).
        try:
            sock.settimeout(wait_s)
            sock = connection.ssl_context(tls).wrap_socket(sock, server_hostname=host)
        except (OSError, ValueError):
            sock.close()
            return None
    try:
        payload = (command('AUTH', password) if password else b'') + command(
            'REPLICAOF', master[0], master[1])
        sock.sendall(payload)
        expected = 2 if password else 1
        replies = b''
        deadline = time.monotonic() + wait_s
        while replies.count(b'\r\n') < expected and time.monotonic() < deadline:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = sock.recv(4096)
            except socket.timeout:
                break
            if not chunk:
                break
            replies += chunk
        return replies.decode(errors='replace').strip()
    except OSError:
        return ''
    finally:
        sock.close()


class Demoter:
    """Runs :meth:`demote` in a thread for each switch seen, once at a time per switch.

    Args:
        views: ``(sentinels, port, password, master_name) -> views``, default
            :func:`sentinel_views`.
        send: ``(host, port, password, master) -> replies``, default :func:`send_replicaof`.
        log: ``(text) -> None``.
    """

    def __init__(self, views=sentinel_views, send=send_replicaof, log=None):
        self.views = views
        self.send = send
        self.log = log or (lambda text: print('{} {}'.format(time.strftime('%H:%M:%S'), text),
                                              flush=True))
        self._lock = threading.Lock()
        self._running = set()

    def on_switch(self, text, data):
        """Start demoting the old master of the ``+switch-master`` message ``text`` (watcher
        settings ``data``); returns the thread, or None when there is nothing to start."""
        switch = switch_of(text)
        if switch is None or switch[0] != data.get('master_name'):
            return None
        _, old, new = switch
        with self._lock:
            if (old, new) in self._running:
                return None
            self._running.add((old, new))
        thread = threading.Thread(target=self._run, args=(old, new, data), daemon=True)
        thread.start()
        return thread

    def _run(self, old, new, data):
        try:
            self.demote(old, new, data)
        finally:
            with self._lock:
                self._running.discard((old, new))

    def demote(self, old, new, data, wait_s=MAJORITY_WAIT_S):
        """Once a majority of the sentinels name ``new``, make ``old`` its replica; return the
        replies (None when nothing was sent)."""
        if naming.pod_name_of(old[0]) == naming.pod_name_of(new[0]):
            return None  # the same pod on another port: never demote the master's own pod
        sentinels = data.get('sentinels', [])
        deadline = time.monotonic() + wait_s
        while True:
            majority = rules.majority_master(
                self.views(sentinels, data['port'], data.get('password'), data['master_name']),
                len(sentinels))
            if majority not in (None, tuple(old), tuple(new)):
                return None  # they moved on again: that switch has its own event
            if majority == tuple(new):
                break
            if time.monotonic() >= deadline:
                self.log('no sentinel majority named {} within {:.0f} s: {} left to the '
                         'sentinels'.format(naming.pod_name_of(new[0]), wait_s,
                                            naming.pod_name_of(old[0])))
                return None
            time.sleep(MAJORITY_POLL_S)
        self.log('sentinels switched to {}: demoting {} at once'.format(
            naming.pod_name_of(new[0]), naming.pod_name_of(old[0])))
        replies = self.send(old[0], old[1], data.get('password'), new)
        self.log('{} answered the demotion: {}'.format(
            naming.pod_name_of(old[0]), 'unreachable' if replies is None
            else ' '.join((replies or 'nothing').split())))
        return replies


DEMOTER = Demoter()
