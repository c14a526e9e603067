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
    assert jobs[1]['relabel_configs'][0]['replacement'] == 'redis://${1}:26379'
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
