"""The image resources: missing or broken blocks the unit with the reason; fixing it recovers.
The pod spec waits for both images (redis and its exporter)."""

from testbed.cluster import APP, Cluster
from testbed.deploy import EXPORTER_IMAGE

SUBNET = '127.96'


def workload(model, unit=APP + '/0'):
    return model.unit_status(unit)['workload-status']


def test_missing_then_broken_then_good_image(model, charms, tmp_path):
    model.deploy(charms[APP], APP, num_units=1)  # no --resource: both images are missing
    model.wait(timeout=120)
    assert workload(model) == {'current': 'blocked',
                               'message': 'unable to fetch resource(s): exporter-image, redis-image'}
    assert not model.pod_spec(APP).strip() or 'containers' not in model.pod_spec(APP)

    model.attach_resource(APP, 'exporter-image', EXPORTER_IMAGE)  # one is not enough
    model.wait(timeout=120)
    assert workload(model) == {'current': 'blocked',
                               'message': 'unable to fetch resource(s): redis-image'}
    assert not model.pod_spec(APP).strip() or 'containers' not in model.pod_spec(APP)

    model.attach_resource(APP, 'redis-image', '')  # an empty registry path
    model.wait(timeout=120)
    assert workload(model) == {'current': 'blocked',
                               'message': 'unable to fetch resource(s): redis-image'}

    garbage = tmp_path / 'broken.yaml'
    garbage.write_text('registrypath: [not, a, path\n')
    model.attach_resource(APP, 'redis-image', '@' + str(garbage))
    model.wait(timeout=120)
    assert workload(model)['current'] == 'blocked'

    model.attach_resource(APP, 'redis-image', 'redis:7.0')
    cluster = Cluster(model)
    assert cluster.wait_healthy(1, timeout=180), model.status()
    assert 'redis:7.0' in model.pod_spec(APP) and EXPORTER_IMAGE in model.pod_spec(APP)
    assert workload(model) == {'current': 'active', 'message': '1/1 pods, master redis-k8s-0'}
