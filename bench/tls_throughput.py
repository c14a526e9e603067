"""redis-benchmark against a master with TLS on, relative to a master with TLS off, same run.

A second redis-k8s application, deployed with ``enable-tls=true`` beside the bench's plain one
in the same model (three units each: both masters replicate to two replicas, the TLS one over
TLS), so that both masters exist at once and their rounds can interleave as in
:mod:`bench.throughput`. Deployed last, after the figures of the plain cluster, so that it
weighs on none of them.
"""

import statistics

from bench import throughput
from bench.deployment import RESOURCES, BenchCluster, DOWN_AFTER_MS
from testbed.cluster import APP

TLS_APP = APP + '-tls'
ROUNDS = throughput.ROUNDS


class TlsBenchCluster(BenchCluster):
    """The TLS application: no consumer is related to it, so its clients trust the CA the
    leader generated (leader data ``tls-ca-cert``)."""

    def tls_ca_bundle(self):
        return self.leader_get('tls-ca-cert')


def deploy_tls(model, charm, units=3, timeout=600):
    """The TLS application, healthy; its :class:`TlsBenchCluster`."""
    model.deploy(charm, TLS_APP, num_units=units, resources=RESOURCES,
                 config={'down-after-milliseconds': str(DOWN_AFTER_MS), 'enable-tls': 'true'})
    cluster = TlsBenchCluster(model, app=TLS_APP, tls=True)
    if not model.wait_for(lambda status: cluster.healthy(units), timeout=timeout, interval=0.5):
        raise RuntimeError('{} did not become healthy'.format(TLS_APP))
    return cluster


def measure(session, plain_cluster, charm, min_left_s=300):
    """Interleaved rounds, each one benchmark against the plain master and one against the
    TLS master, back to back, the order alternating from round to round; the figure is the
    median of the rounds' ratios (SET+GET requests/s), for the reasons
    :func:`bench.throughput.measure` gives. None when the budget has less than
    ``min_left_s`` left (a deployment and the rounds)."""
    if session.left() < min_left_s:
        return None
    tls_cluster = deploy_tls(plain_cluster.model, charm, timeout=min(600, session.left()))
    plain_master = plain_cluster.master_pod()
    tls_master = tls_cluster.master_pod()
    plain_target = (plain_cluster.model.pod_address(plain_master), 6379, plain_cluster.password())
    tls_target = (tls_cluster.model.pod_address(tls_master), 6379, tls_cluster.password(),
                  tls_cluster.ca_path())
    plain_runs, tls_runs = [], []
    for index in range(ROUNDS):
        pair = [(plain_runs, plain_target), (tls_runs, tls_target)]
        for runs, target in (pair if index % 2 == 0 else pair[::-1]):
            runs.append(throughput.benchmark(*target))
    ratios = [sum(t.values()) / sum(p.values()) for t, p in zip(tls_runs, plain_runs)]

    def median(runs, test):
        return statistics.median(run[test] for run in runs)
    return {
        'tls_throughput_ratio': round(statistics.median(ratios), 3),
        'detail': {
            'figure': 'median of the rounds\' ratios (TLS master / plain master), SET+GET '
                      'requests/s',
            'round_ratios': [round(ratio, 3) for ratio in ratios],
            'per_command_ratio_of_medians': {
                test: round(median(tls_runs, test) / median(plain_runs, test), 3)
                for test in ('SET', 'GET')},
            'tls_rps': tls_runs,
            'plain_rps': plain_runs,
            'tls_master': '{} ({}, enable-tls=true)'.format(tls_master, TLS_APP),
            'plain_master': '{} ({})'.format(plain_master, plain_cluster.app),
            'command': 'redis-benchmark -t set,get -n {} --csv -a <password> (--tls --cacert '
                       '<the CA> for the TLS master), {} interleaved rounds, order '
                       'alternating'.format(throughput.REQUESTS, ROUNDS),
        },
    }
