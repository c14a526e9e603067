"""A steady write load that follows the relation data, the way a consumer would.

Writes unique keys to the master named in the consumer's relation data (re-read in the background),
records every write the server acknowledged, and afterwards counts which of them are missing.
With TLS on (the relation's ``tls`` is ``"true"``) it writes over TLS to ``tls-port``, verifying
the server against the relation's ``tls-ca`` (see :mod:`testbed.tls`), and reconnects when the
mode or the CA bundle changes, as a consumer following the relation would.
"""

import threading
import time

import redis

from . import tls

WRITE_TIMEOUT_S = 0.25  # the resolution of the failover figures


class WriteLoad:
    """Background writer through the endpoint the consumer received.

    Args:
        cluster: a :class:`testbed.cluster.Cluster`.
        prefix: key prefix, unique per scenario.
        pause_s: pause between writes.
        refresh_s: how often the relation data is re-read.
    """

    def __init__(self, cluster, prefix='load', pause_s=0.005, refresh_s=0.25):
        self.cluster = cluster
        self.prefix = prefix
        self.pause_s = pause_s
        self.refresh_s = refresh_s
        self.password = cluster.password()
        self.acknowledged = []  # (key, monotonic time)
        self.failures = []  # monotonic times of failed writes
        self.refused = []  # monotonic times of writes refused with NOREPLICAS (also in failures)
        self.endpoint = None  # (pod, port) from the relation data
        self.ca_path = None  # the relation's CA bundle as a file, with TLS on; else None
        self._target = (None, None)  # (endpoint, ca_path), replaced as one by the follower
        self.endpoints = []  # (monotonic time, (pod, port)) each time the relation data changed
        self._stop = threading.Event()
        self._threads = []

    def start(self):
        self._refresh()
        self._threads = [threading.Thread(target=self._follow, daemon=True),
                         threading.Thread(target=self._write, daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _refresh(self):
        try:
            data = self.cluster.relation_data()
            port, bundle = tls.relation_tls(data)
            endpoint = (self.cluster.pod_of(data['host']), port)
            ca_path = tls.ca_file(bundle) if bundle else None
        except Exception:  # a hook context may be briefly unavailable; keep the last endpoint
            return
        if endpoint != self.endpoint:
            self.endpoints.append((time.monotonic(), endpoint))
        self.endpoint, self.ca_path = endpoint, ca_path
        self._target = (endpoint, ca_path)

    def _follow(self):
        while not self._stop.wait(self.refresh_s):
            self._refresh()

    def _write(self):
        client, target, index = None, None, 0
        while not self._stop.is_set():
            try:
                if client is None or target != self._target:
                    target = self._target
                    (pod, port), ca_path = target
                    address = self.cluster.model.pod_address(pod)
                    if address is None:
                        # The pod is gone; redis-py would take None for localhost, where some
                        # other redis may listen.
                        raise ConnectionError('pod {} has no address'.format(pod))
                    # A consumer reconnects when its relation data changes; a long timeout would
                    # keep this loop on a frozen master after the relation has moved on.
                    client = redis.Redis(host=address, port=port, password=self.password,
                                         socket_timeout=WRITE_TIMEOUT_S,
                                         socket_connect_timeout=WRITE_TIMEOUT_S,
                                         **(tls.client_kwargs(ca_path) if ca_path else {}))
                key = '{}:{}'.format(self.prefix, index)
                client.set(key, index)
                self.acknowledged.append((key, time.monotonic()))
                index += 1
            except Exception as error:  # connection refused, READONLY, NOREPLICAS, pod gone...
                self.failures.append(time.monotonic())
                if str(error).startswith('NOREPLICAS'):
                    self.refused.append(self.failures[-1])
                client = None
                time.sleep(0.05)
            time.sleep(self.pause_s)

    def first_success_after(self, moment):
        """Monotonic time of the first acknowledged write after ``moment``, or None."""
        return next((at for _, at in self.acknowledged if at > moment), None)

    def lost(self, pod=None):
        """Acknowledged keys missing from the master (``pod``, default: the current master)."""
        pod = pod or self.cluster.master_pod()
        client = self.cluster.client(pod)
        keys = [key for key, _ in self.acknowledged]
        missing = []
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            missing.extend(key for key, value in zip(chunk, client.mget(chunk)) if value is None)
        return missing
