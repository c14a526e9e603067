"""TLS in the hooks: the <app>-tls Secret, the material in leader data, the resources read only
on the hooks that may bring new ones, refused operator files."""

import json

from states import running_leader


def tls_secret(out, app):
    (secret,) = [s for s in out.k8s_resources['kubernetesResources']['secrets'] if s['name'] == app + '-tls']
    return secret


def resource_gets(out):
    return [call['args'] for call in out.calls if call['tool'] == 'resource-get']


def test_with_tls_off_the_secret_holds_the_mode_alone(ctx):
    out = running_leader(ctx)
    secret = tls_secret(ctx.run(out.state.replace(config={'maxmemory': '1mb'}), 'config-changed'), ctx.app)
    assert list(secret['stringData']) == ['tls.env'] and secret['type'] == 'Opaque'
    assert 'TLS_ENABLED=no' in secret['stringData']['tls.env']
    assert not [key for key in out.leader_data if key.startswith('tls-') and out.leader_data[key]]


def test_enable_tls_generates_the_material_into_the_secret_and_a_steady_hook_reads_no_resource(ctx):
    before = running_leader(ctx)
    out = ctx.run(before.state.replace(config={'enable-tls': True}), 'config-changed')

    assert out.spec_sent
    data = tls_secret(out, ctx.app)['stringData']
    pods = ['{}-{}'.format(ctx.app, n) for n in range(3)]
    assert set(data) == {'tls.env', 'ca.pem'} | {p + '.pem' for p in pods} | {p + '.key' for p in pods}
    assert 'TLS_ENABLED=yes' in data['tls.env']
    assert data['ca.pem'] == out.leader_data['tls-ca-cert']
    assert set(json.loads(out.leader_data['tls-certs'])) == set(pods)
    # the config-changed hook read the three file resources (none uploaded: generated)
    assert sorted(resource_gets(out)) == [['ca-cert-file'], ['cert-file'], ['key-file']]
    # no key in the spec (ConfigMaps) nor in a log line
    for key in [out.leader_data['tls-ca-key']] + [data[p + '.key'] for p in pods]:
        body = key.split('-----')[2].strip().splitlines()[1]
        assert body not in out.state.pod_spec
        assert not [line for line in out.logs if body in line]
    # consumers are told only once every pod serves TLS (the fake cluster speaks none)
    assert out.published()['tls'] == 'false'

    steady = ctx.run(out.state, 'update-status')
    assert resource_gets(steady) == [] and not steady.spec_sent
    assert steady.leader_data == out.leader_data


def test_operator_files_missing_one_block_naming_them_and_change_nothing(ctx):
    before = running_leader(ctx)
    on = ctx.run(before.state.replace(config={'enable-tls': True}), 'config-changed')
    partial = {'cert-file': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'}

    out = ctx.run(on.state.replace(files=partial), 'upgrade-charm')

    assert out.status[0] == 'blocked'
    assert out.status[1] == ('cert-file given without key-file and ca-cert-file: attach cert-file, '
                             'key-file and ca-cert-file together')
    assert tls_secret(out, ctx.app) == tls_secret(on, ctx.app)
    assert not out.spec_sent
    later = ctx.run(out.state, 'update-status')
    assert later.status == out.status


def test_once_every_pod_serves_tls_consumers_get_the_ca_and_the_tls_port(ctx):
    before = running_leader(ctx)
    on = ctx.run(before.state.replace(config={'enable-tls': True, 'non-tls-port': 6380}), 'config-changed')
    assert on.published()['tls'] == 'false' and on.published()['port'] == '6379'

    # the leader's pass saw every pod in TLS (the fake cluster speaks none: given here)
    out = ctx.run(on.state.replace(leader_data=dict(on.leader_data, **{'tls-live': 'on'})), 'update-status')

    published = out.published()
    assert (published['tls'], published['tls-port'], published['port']) == ('true', '6379', '6380')
    assert published['tls-ca'] == on.leader_data['tls-ca-cert']
    off = ctx.run(out.state.replace(config={'enable-tls': False, 'non-tls-port': 6380}), 'config-changed')
    assert off.leader_data.get('tls-live', '') == ''
    assert (off.published()['tls'], off.published().get('tls-ca', ''), off.published()['port']) == ('false', '', '6379')


def test_switching_off_keeps_the_files_in_the_pods_until_every_server_is_plain(ctx):
    before = running_leader(ctx)
    on = ctx.run(before.state.replace(config={'enable-tls': True}), 'config-changed')
    on = ctx.run(on.state.replace(leader_data=dict(on.leader_data, **{'tls-live': 'on'})), 'update-status')
    material = tls_secret(on, ctx.app)['stringData']

    off = ctx.run(on.state.replace(config={'enable-tls': False}), 'config-changed')

    # A server still on TLS demands a client certificate: the scripts keep theirs meanwhile.
    kept = tls_secret(off, ctx.app)['stringData']
    assert set(kept) == set(material) and 'TLS_ENABLED=no' in kept['tls.env']
    assert off.published()['tls'] == 'false'
    # This hook told every redis to serve plain; the next sees them so and drops the files.
    assert off.leader_data.get('tls-all-plain', '') == ''
    plain = ctx.run(off.state, 'update-status')
    assert plain.leader_data['tls-all-plain'] == 'yes'
    # The same hook sends the spec again (the pod spec handler runs after the leader's pass).
    assert plain.spec_sent and list(tls_secret(plain, ctx.app)['stringData']) == ['tls.env']
    steady = ctx.run(plain.state, 'update-status')
    assert not steady.spec_sent
    # On again: the material comes back (the same CA: consumers' trust stays valid).
    again = ctx.run(steady.state.replace(config={'enable-tls': True}), 'config-changed')
    assert tls_secret(again, ctx.app)['stringData']['ca.pem'] == material['ca.pem']
    assert again.leader_data.get('tls-all-plain', '') == ''
