"""The metrics relations: what the leader and every unit publish on ``metrics-endpoint``
(prometheus_scrape) and ``prometheus``, state in and state out."""

import json

from harness import Relation
from states import running_leader


def scrape(**data):
    return Relation('metrics-endpoint', remote_app='prometheus', remote_units=('prometheus/0',),
                    **data)


def plain(**data):
    return Relation('prometheus', remote_app='prometheus2', remote_units=('prometheus2/0',),
                    **data)


def related(state, *relations):
    return state.replace(relations=list(state.relations) + list(relations))


def relation(out, endpoint):
    return next(r for r in out.state.relations if r.endpoint == endpoint)


def test_the_leader_publishes_the_scrape_jobs_and_the_topology_and_its_pod(ctx):
    before = related(running_leader(ctx).state, scrape())
    out = ctx.run(before, 'metrics-endpoint-relation-joined', relation=before.relations[-1])

    app = relation(out, 'metrics-endpoint').local_app_data
    jobs = json.loads(app['scrape_jobs'])
    assert [job['job_name'] for job in jobs] == ['redis', 'sentinel']
    assert jobs[0]['static_configs'][0]['targets'] == ['*:9121']
    # The exporter reads its pod's sentinel through the socket in the pod's shared emptyDir.
    assert jobs[1]['relabel_configs'][0]['replacement'] == 'unix:///run/redis-k8s/sentinel.sock'
    meta = json.loads(app['scrape_metadata'])
    assert meta['application'] == ctx.app and meta['charm_name'] == 'redis-k8s'
    assert set(meta) == {'model', 'model_uuid', 'application', 'charm_name'}
    unit = relation(out, 'metrics-endpoint').local_data
    # The pod's stable DNS name (a re-created pod keeps it, not its IP).
    assert unit['prometheus_scrape_unit_address'].startswith(ctx.app + '-0.' + ctx.app + '-endpoints.')
    assert unit['prometheus_scrape_unit_name'] == ctx.app + '/0'


def test_metrics_port_moves_the_jobs(ctx):
    before = related(running_leader(ctx).state, scrape())
    out = ctx.run(before, 'metrics-endpoint-relation-joined', relation=before.relations[-1])
    out = ctx.run(out.state.replace(config={'metrics-port': 9200}), 'config-changed')
    jobs = json.loads(relation(out, 'metrics-endpoint').local_app_data['scrape_jobs'])
    assert [job['static_configs'][0]['targets'] for job in jobs] == [['*:9200'], ['*:9200']]


def test_a_steady_hook_publishes_nothing_again(ctx):
    before = related(running_leader(ctx).state, scrape(), plain())
    out = ctx.run(before, 'metrics-endpoint-relation-joined', relation=before.relations[-2])
    out = ctx.run(out.state, 'prometheus-relation-joined', relation=out.state.relations[-1])
    out = ctx.run(out.state, 'update-status')
    assert not [call for call in out.calls if call['tool'] == 'relation-set']


def test_a_non_leader_publishes_its_pod_but_not_the_jobs(ctx):
    leader = running_leader(ctx)
    state = related(leader.state.seen_by(1), scrape())
    out = ctx.run(state, 'metrics-endpoint-relation-joined', relation=state.relations[-1])
    assert relation(out, 'metrics-endpoint').local_app_data == {}
    assert relation(out, 'metrics-endpoint').local_data['prometheus_scrape_unit_name'] == ctx.app + '/1'


def test_the_plain_prometheus_relation_gets_each_pods_redis_metrics(ctx):
    before = related(running_leader(ctx).state, plain())
    out = ctx.run(before, 'prometheus-relation-joined', relation=before.relations[-1])
    data = relation(out, 'prometheus').local_data
    assert data['hostname'].startswith(ctx.app + '-0.')
    assert (data['port'], data['metrics_path']) == ('9121', '/metrics')
    assert json.loads(data['labels'])['juju_unit'] == ctx.app + '/0'


def test_invalid_metrics_port_blocks_and_keeps_the_spec(ctx):
    before = running_leader(ctx)
    out = ctx.run(before.state.replace(config={'metrics-port': 6379}), 'config-changed')
    assert out.status == ('blocked', 'metrics-port: 6379 is also the port of the pods; set '
                                     'metrics-port to another value (1-65535, default 9121)')
    assert not out.spec_sent


# -- the exporter's own ACL user ------------------------------------------------------------------

def exporter(out):
    return next(c for c in out.spec['containers'] if c['name'] == 'redis-exporter')


def test_the_leader_puts_a_generated_metrics_password_in_the_secret_and_names_only_its_key(ctx):
    from harness import State
    out = ctx.run(State(), 'install')

    metrics_password = out.leader_data['metrics-password']
    assert len(metrics_password) >= 16 and metrics_password != out.leader_data['password']
    (secret,) = [s for s in out.k8s_resources['kubernetesResources']['secrets'] if s['name'].endswith('-auth')]
    assert secret['stringData'] == {'password': out.leader_data['password'],
                                    'metrics-password': metrics_password}
    env = exporter(out)['envConfig']
    assert env['REDIS_USER'] == 'redis-k8s-metrics'
    assert env['REDIS_PASSWORD'] == {'secret': {'name': secret['name'], 'key': 'metrics-password'}}
    # In the Secret only: not in the spec (its files become ConfigMaps), nor in a log line.
    assert metrics_password not in out.state.pod_spec
    assert not [line for line in out.logs if metrics_password in line]


def test_the_leader_gives_every_redis_and_sentinel_the_metrics_user_once(ctx):
    import hashlib
    out = running_leader(ctx)
    cluster = out.state.cluster
    metrics_password = out.leader_data['metrics-password']
    digest = hashlib.sha256(metrics_password.encode()).hexdigest()
    for pod in cluster.pods.values():
        for users, extra in ((pod.redis_users, '+slowlog|get'), (pod.sentinel_users, '+sentinel|masters')):
            reply = dict(zip(users['redis-k8s-metrics'][::2], users['redis-k8s-metrics'][1::2]))
            assert reply['passwords'] == [digest]
            commands = reply['commands'].split()
            assert commands[0] == '-@all' and '+info' in commands and extra in commands
            assert not [c for c in commands[1:] if not c.startswith('+') or '@' in c]
    assert len(cluster.sent('ACL', 'SETUSER')) == 6  # once per redis and sentinel of 3 pods
    # The password travels as its digest only.
    assert not [c for c in cluster.commands if metrics_password in ' '.join(c[2])]


def test_a_password_change_keeps_the_metrics_password_and_the_exporter_spec(ctx):
    before = running_leader(ctx)
    out = ctx.run(before.state.replace(config={'password': 'Changed-Pass-0042'}), 'config-changed')

    assert out.spec_sent  # the Secret changed
    assert out.leader_data['metrics-password'] == before.leader_data['metrics-password']
    (secret,) = [s for s in out.k8s_resources['kubernetesResources']['secrets'] if s['name'].endswith('-auth')]
    assert secret['stringData']['metrics-password'] == before.leader_data['metrics-password']
    assert exporter(out) == exporter(before)  # its container is not restarted


def test_an_upgraded_leader_without_a_metrics_password_generates_one(ctx):
    before = running_leader(ctx)
    data = dict(before.state.leader_data)
    del data['metrics-password']
    out = ctx.run(before.state.replace(leader_data=data), 'upgrade-charm')

    assert out.leader_data['metrics-password']
    assert out.leader_data['password'] == before.leader_data['password']
    (secret,) = [s for s in out.k8s_resources['kubernetesResources']['secrets'] if s['name'].endswith('-auth')]
    assert secret['stringData']['metrics-password'] == out.leader_data['metrics-password']
