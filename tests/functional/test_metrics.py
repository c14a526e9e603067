"""Metrics: a real Prometheus scrapes every pod's redis-exporter through the jobs redis-k8s
publishes on ``metrics-endpoint``, and its role metrics follow a failover.

One cluster for the module. A hookless test charm (tests/charms/metrics-scraper) stands for the
Prometheus charm on the relation; the test reads what it received with ``relation-get`` and
builds prometheus.yml from it the way the canonical prometheus_scrape library's consumer does
(``*:<port>`` targets expanded to each unit's ``prometheus_scrape_unit_address``, Juju topology
labels, the instance relabelling appended). Prometheus (Debian's 2.42) runs on a loopback
address of the module's subnet, in a private mount namespace with the model's /etc/hosts (the
targets are the pods' stable DNS names, as a Prometheus in the cluster resolves them), and is
stopped by pid.
"""

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import redis
import yaml

from testbed.cluster import APP

SUBNET = '127.85'
SCRAPER = 'metrics-scraper'
SCRAPER_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'charms', 'metrics-scraper')
SCRAPE_INTERVAL = '2s'


def subnet():
    if os.environ.get('TEST_SUBNET_BASE'):  # as the conftest moves every module's subnet
        return '127.{}'.format(int(os.environ['TEST_SUBNET_BASE']) + int(SUBNET.split('.')[1]) - 60)
    return SUBNET


def tool(model, command):
    rc, out, err = model.run(SCRAPER + '/0', command, operator=True)
    assert rc == 0, err
    return out


def received(model):
    """``(scrape_jobs, scrape_metadata, {unit: address})`` as the scraper received them; None
    until the leader's jobs and every unit's address are there."""
    rid = tool(model, 'relation-ids metrics-endpoint').split()
    if not rid:
        return None
    app = json.loads(tool(model, 'relation-get --format=json -r {} --app - {}'.format(rid[0], APP)) or '{}')
    if 'scrape_jobs' not in (app or {}):
        return None
    hosts = {}
    for unit in tool(model, 'relation-list -r ' + rid[0]).split():
        data = json.loads(tool(model, 'relation-get --format=json -r {} - {}'.format(rid[0], unit)))
        if (data or {}).get('prometheus_scrape_unit_address'):
            hosts[data['prometheus_scrape_unit_name']] = data['prometheus_scrape_unit_address']
    if len(hosts) < 3:
        return None
    return json.loads(app['scrape_jobs']), json.loads(app['scrape_metadata']), hosts


def consumer_jobs(jobs, metadata, hosts):
    """The scrape configs the canonical prometheus_scrape consumer makes of the relation data
    (``MetricsEndpointConsumer._static_scrape_config``): job names prefixed by the topology,
    ``*`` targets one static config per unit with the Juju labels, the instance relabelling last."""
    topology = {'juju_model': metadata['model'], 'juju_model_uuid': metadata['model_uuid'],
                'juju_application': metadata['application'], 'juju_charm': metadata['charm_name']}
    prefix = 'juju_{}_{}_{}_prometheus_scrape'.format(
        metadata['model'], metadata['model_uuid'][:7], metadata['application'])
    out = []
    for job in jobs:
        labeled = dict(job, job_name='{}_{}'.format(prefix, job['job_name']), static_configs=[])
        for static in job['static_configs']:
            ports = [target.split(':')[1] for target in static['targets']
                     if target.split(':')[0] == '*']
            for unit, address in sorted(hosts.items()):
                labels = dict(static.get('labels', {}), **topology, juju_unit=unit)
                labeled['static_configs'].append(
                    {'targets': ['{}:{}'.format(address, port) for port in ports], 'labels': labels})
        labeled['relabel_configs'] = list(job.get('relabel_configs', [])) + [{
            'source_labels': ['juju_model', 'juju_model_uuid', 'juju_application', 'juju_unit'],
            'separator': '_', 'target_label': 'instance', 'regex': '(.*)'}]
        out.append(labeled)
    return out


class Prometheus:
    def __init__(self, address, pid):
        self.address = address
        self.pid = pid

    def query(self, expr):
        url = 'http://{}/api/v1/query?{}'.format(self.address, urllib.parse.urlencode({'query': expr}))
        with urllib.request.urlopen(url, timeout=5) as reply:
            body = json.load(reply)
        assert body['status'] == 'success', body
        return [(sample['metric'], float(sample['value'][1])) for sample in body['data']['result']]

    def by_unit(self, expr):
        return {metric.get('juju_unit'): value for metric, value in self.query(expr)}

    def wait(self, predicate, timeout=90):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = predicate()
                if last:
                    return last
            except OSError as error:  # not listening yet
                last = error
            time.sleep(1)
        raise AssertionError('Prometheus never showed it: {!r}'.format(last))


@pytest.fixture(scope='module')
def scraper(model, cluster):
    """The test charm related on metrics-endpoint; what it received, once complete."""
    model.deploy(SCRAPER_DIR, SCRAPER)
    model.relate(APP + ':metrics-endpoint', SCRAPER + ':metrics-endpoint')
    # Not model.wait(): on a loaded machine the units may still be working through other hooks;
    # what matters is that the leader's jobs and every unit's pod arrive.
    deadline = time.time() + 300
    while time.time() < deadline:
        got = received(model)
        if got is not None:
            return got
        time.sleep(2)
    raise AssertionError('the scraper never received every unit: {}'.format(model.status()))


@pytest.fixture(scope='module')
def prometheus(model, scraper, tmp_path_factory):
    binary = shutil.which('prometheus')
    assert binary, 'prometheus not installed: run scripts/setup.sh'
    home = tmp_path_factory.mktemp('prometheus')
    config = {'global': {'scrape_interval': SCRAPE_INTERVAL, 'scrape_timeout': SCRAPE_INTERVAL},
              'scrape_configs': consumer_jobs(*scraper)}
    (home / 'prometheus.yml').write_text(yaml.safe_dump(config))
    address = '{}.254.90:9090'.format(subnet())  # no pod is given .254.x addresses here
    argv = [binary, '--config.file=' + str(home / 'prometheus.yml'),
            '--storage.tsdb.path=' + str(home / 'data'), '--web.listen-address=' + address,
            '--log.level=warn']
    # The targets are the pods' DNS names: resolve them from the model's hosts file, in a
    # mount namespace of Prometheus' own (the host's /etc/hosts is left alone).
    script = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
    log = open(home / 'prometheus.log', 'w')
    proc = subprocess.Popen(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script,
                             'sh', model.paths.hosts] + argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield Prometheus(address, proc.pid)
    finally:
        os.kill(proc.pid, signal.SIGTERM)  # the same pid: sh execs prometheus
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def roles(prometheus):
    """``{unit: role}`` from the exporters' redis_instance_info of the redis job."""
    return {metric['juju_unit']: metric['role'] for metric, value in prometheus.query(
        'redis_instance_info{redis_k8s_component="redis"}') if value == 1}


def test_the_relation_carries_two_jobs_and_every_pods_name(scraper, cluster):
    jobs, metadata, hosts = scraper
    assert [job['job_name'] for job in jobs] == ['redis', 'sentinel']
    assert metadata['application'] == APP
    assert sorted(address.split('.')[0] for address in hosts.values()) == cluster.pods()


def test_prometheus_scrapes_every_pods_redis_and_sentinel(prometheus, cluster):
    units = set(cluster.units())
    up = prometheus.wait(lambda: (lambda found: found if set(found) == units else None)(
        prometheus.by_unit('redis_up{redis_k8s_component="redis"}')))
    assert up == {unit: 1 for unit in units}
    sentinels = prometheus.wait(lambda: (lambda found: found if set(found) == units else None)(
        prometheus.by_unit('up{redis_k8s_component="sentinel"}')))
    assert sentinels == {unit: 1 for unit in units}
    # The sentinel job reaches the sentinels (not the redis): each monitors the one master.
    masters = prometheus.wait(lambda: (lambda found: found if set(found) == units else None)(
        prometheus.by_unit('redis_sentinel_masters{redis_k8s_component="sentinel"}')))
    assert masters == {unit: 1 for unit in units}
    # The exporter runs beside redis and sentinel without disturbing them: no container of any
    # pod restarted (its liveness probe passes), redis keeps the storage (first container).
    for pod in cluster.pods():
        containers = cluster.model.status()['pods'][pod]['containers']
        assert list(containers) == ['redis', 'sentinel', 'redis-exporter']
        assert {name: c['restarts'] for name, c in containers.items()} == {
            'redis': 0, 'sentinel': 0, 'redis-exporter': 0}


def test_the_role_metrics_name_one_master_with_two_replicas(prometheus, cluster, scraper):
    found = prometheus.wait(lambda: (lambda r: r if len(r) == 3 and
                                     sorted(r.values()) == ['master', 'slave', 'slave'] else None)(
        roles(prometheus)))
    (master_unit,) = [unit for unit, role in found.items() if role == 'master']
    assert prometheus.by_unit('redis_connected_slaves{redis_k8s_component="redis"}')[master_unit] == 2
    # The unit Prometheus names master is the one whose pod is master.
    _, _, hosts = scraper
    assert hosts[master_unit].split('.')[0] == cluster.master_pod()


def test_the_role_metrics_follow_a_failover(prometheus, cluster, model, scraper):
    before = cluster.master_pod()
    _, _, hosts = scraper
    before_unit = next(unit for unit, role in roles(prometheus).items() if role == 'master')
    client = cluster.client(before, port=26379)
    assert client.execute_command('SENTINEL', 'FAILOVER', APP) in (b'OK', 'OK', True)
    after = model.wait_for(lambda s: (lambda m: m if m and m != before else None)(
        cluster.healthy(3)), timeout=120)
    assert after != before
    found = prometheus.wait(lambda: (lambda r: r if len(r) == 3 and before_unit in r and
                                     r[before_unit] == 'slave' and
                                     sorted(r.values()) == ['master', 'slave', 'slave'] else None)(
        roles(prometheus)))
    (new_unit,) = [unit for unit, role in found.items() if role == 'master']
    assert hosts[new_unit].split('.')[0] == after
    connected = prometheus.wait(lambda: (lambda c: c if c.get(new_unit) == 2 else None)(
        prometheus.by_unit('redis_connected_slaves{redis_k8s_component="redis"}')))
    assert connected[before_unit] == 0


def test_an_invalid_metrics_port_blocks_naming_it_and_keeps_the_pods(cluster, model, scraper):
    templates = {name: pod['spec-hash'] for name, pod in model.status()['pods'].items()}
    model.config(APP, {'metrics-port': 26379})
    units = model.wait_for(lambda s: (lambda u: u if all(
        unit['workload-status']['current'] == 'blocked' for unit in u.values()) else None)(
        s['applications'][APP]['units']), timeout=240)
    for unit in units.values():
        assert unit['workload-status']['message'] == (
            'metrics-port: 26379 is also the sentinel-port of the pods; set metrics-port to '
            'another value (1-65535, default 9121)')
    assert {name: pod['spec-hash'] for name, pod in model.status()['pods'].items()} == templates
    jobs, _, _ = received(model)
    assert jobs[0]['static_configs'][0]['targets'] == ['*:9121']  # the last good jobs stay
    model.config(APP, {'metrics-port': 9121})
    assert cluster.wait_healthy(3, timeout=240)


METRICS_USER = 'redis-k8s-metrics'
NEW_PASSWORD = 'Metrics-Rotation-Pass-0099'


def refuses(cluster, pod, port, password):
    """Whether the pod's redis (or sentinel) refuses ``password`` (the default user's)."""
    try:
        cluster.client(pod, port, password=password).ping()
    except redis.AuthenticationError:
        return True
    except (redis.ConnectionError, redis.TimeoutError):
        return False  # asked again on the next poll
    except redis.ResponseError as error:
        if 'WRONGPASS' in str(error) or 'NOAUTH' in str(error):
            return True
        raise
    return False


def test_a_password_change_never_stops_the_scrapes_the_exporter_has_its_own_user(
        prometheus, cluster, model):
    units = set(cluster.units())
    pods = cluster.pods()

    def exporter_restarts():
        return {pod: model.status()['pods'][pod]['containers']['redis-exporter']['restarts']
                for pod in pods}

    restarts = exporter_restarts()
    old = cluster.password()
    changed_at = time.time()
    model.config(APP, {'password': NEW_PASSWORD})
    # The rotation: both passwords accepted, then (live.SECRET_SYNC_S later) the old one refused
    # everywhere, by the leader's live commands; no pod restarts, so neither does any exporter.
    assert model.wait_for(lambda status: all(
        refuses(cluster, pod, port, old) for pod in pods for port in (6379, 26379)),
        timeout=480, interval=2)
    refused_at = time.time()
    print('\nold password refused everywhere {:.0f}s after the change'.format(refused_at - changed_at))

    # Scrapes taken after the old password was refused: every pod's redis and sentinel still up.
    def scraped_since_refused(expr):
        return lambda: (lambda found: found if set(found) == units else None)(
            {unit: value for unit, value in prometheus.by_unit('timestamp({})'.format(expr)).items()
             if value > refused_at + 1})

    for component in ('redis', 'sentinel'):
        selector = 'redis_up{{redis_k8s_component="{}"}}'.format(component)
        prometheus.wait(scraped_since_refused(selector))
        assert prometheus.by_unit(selector) == {unit: 1 for unit in units}
        # And at every scrape since the change, across the whole rotation: never 0.
        window = int(time.time() - changed_at) + 1
        assert prometheus.by_unit('min_over_time({}[{}s])'.format(selector, window)) == {
            unit: 1 for unit in units}, component
    assert prometheus.by_unit('up{redis_k8s_component="sentinel"}') == {unit: 1 for unit in units}
    assert exporter_restarts() == restarts

    # The exporter's user never had a command refused: what redis_exporter sends is all granted.
    metrics_password = cluster.leader_get('metrics-password')
    assert metrics_password and metrics_password not in (old, NEW_PASSWORD)
    for pod in pods:
        for port in (6379, 26379):
            log = cluster.client(pod, port).execute_command('ACL', 'LOG')
            assert not [entry for entry in log if METRICS_USER.encode() in entry], (pod, port, log)

    # And it can read metrics only: no write, no key, no configuration (CONFIG GET would answer
    # the main password), no sentinel command that changes anything.
    master = cluster.master_pod()
    user = cluster.client(master, username=METRICS_USER, password=metrics_password)
    assert user.info('replication')['role'] == 'master'
    for command in (('SET', 'metrics-user-write', 'x'), ('GET', 'any'), ('CONFIG', 'GET', 'requirepass'),
                    ('FLUSHALL',), ('ACL', 'LIST')):
        with pytest.raises(redis.exceptions.NoPermissionError):
            user.execute_command(*command)
    assert cluster.client(master).exists('metrics-user-write') == 0
    sentinel = cluster.client(master, port=26379, username=METRICS_USER, password=metrics_password)
    assert sentinel.execute_command('SENTINEL', 'MASTERS')
    for command in (('SENTINEL', 'SET', APP, 'quorum', '1'), ('SENTINEL', 'FAILOVER', APP),
                    ('SENTINEL', 'CONFIG', 'GET', 'sentinel-pass')):
        with pytest.raises(redis.exceptions.NoPermissionError):
            sentinel.execute_command(*command)
    assert cluster.wait_healthy(3, timeout=240)
