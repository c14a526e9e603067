"""The TLS Secret in the spec the charm sends (issue 12, pod side): always there, TLS off until
the charm side writes the material."""

from harness import State


def test_the_spec_carries_the_tls_secret_with_tls_env_and_mounts_it(ctx):
    out = ctx.run(State(), 'install')

    assert out.spec_sent
    secrets = {s['name']: s for s in out.k8s_resources['kubernetesResources']['secrets']}
    tls = secrets[ctx.app + '-tls']
    assert set(tls['stringData']) == {'tls.env'}
    assert 'TLS_ENABLED=no\n' in tls['stringData']['tls.env']
    assert '/etc/redis-k8s-tls' in out.state.pod_spec and ctx.app + '-tls' in out.state.pod_spec
