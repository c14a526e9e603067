"""Watches a rollout: were the pods it had already replaced in sync when it stopped the next one?

A StatefulSet rollout replaces one pod at a time and stops the next only once the one it replaced
is ready. A replica that is ready before its sync is done lets the master stop next while that
replica still lacks what the master acknowledged meanwhile; the sentinels may then promote it.
:class:`SyncAtEachStop` samples the model's pods and each redis' replication state in the
background and records, at the first sample that shows a pod terminating, every pod already
replaced that was neither a master nor a replica with its link up.
"""

import redis

from .background import Background


class SyncAtEachStop(Background):
    """Background sampler of a rollout (plain clusters: the test process speaks no TLS here).

    Args:
        cluster: a :class:`testbed.cluster.Cluster`.
        interval_s: pause between samples.
    """

    def __init__(self, cluster, interval_s=0.1):
        super().__init__()
        assert not cluster.tls, 'SyncAtEachStop asks the pods in plain text'
        self.cluster = cluster
        self.interval_s = interval_s
        self.password = cluster.password()
        # pod name -> address before the rollout
        self.initial = {name: pod['address'] for name, pod in self._pods().items()}
        self.stops = []  # (pod stopped, {replaced pod: in sync}) at the first sample showing it
        self._seen = set()  # (pod, address) already seen terminating

    def out_of_sync(self):
        """``(pod stopped, replaced pod)`` for each replaced pod not in sync at that stop."""
        return [(stopped, pod) for stopped, synced in self.stops
                for pod, in_sync in sorted(synced.items()) if not in_sync]

    def _pods(self):
        return {name: pod for name, pod in self.cluster.model.status().get('pods', {}).items()
                if pod['application'] == self.cluster.app}

    def _in_sync(self, address):
        client = redis.Redis(host=address, port=6379, password=self.password,
                             socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            info = client.info('replication')
        except redis.RedisError:
            return False
        finally:
            client.close()
        return info.get('role') == 'master' or info.get('master_link_status') == 'up'

    def _run(self):
        while not self._stop.wait(self.interval_s):
            try:
                pods = self._pods()
            except Exception:  # the state file mid-write: the next sample reads it
                continue
            stopping = [(name, pod['address']) for name, pod in pods.items()
                        if pod['phase'] == 'Terminating'
                        and (name, pod['address']) not in self._seen]
            if not stopping:
                continue
            replaced = {name: pod['address'] for name, pod in pods.items()
                        if pod['phase'] != 'Terminating' and pod['address']
                        and pod['address'] != self.initial.get(name)}
            synced = {name: self._in_sync(address) for name, address in replaced.items()}
            for key in stopping:
                self._seen.add(key)
                self.stops.append((key[0], synced))
