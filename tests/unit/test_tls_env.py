import pytest

from redis_k8s import podspec, settings, tls_env


class _S:
    def __init__(self, **fields):
        self.__dict__.update(fields)


def assignments(text):
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_tls_env_holds_the_three_assignments_the_scripts_read():
    assert assignments(tls_env.render(True, "yes", 6380)) == {
        "TLS_ENABLED": "yes", "TLS_AUTH_CLIENTS": "yes", "TLS_NON_TLS_PORT": "6380"}
    assert assignments(tls_env.render(False)) == {
        "TLS_ENABLED": "no", "TLS_AUTH_CLIENTS": "optional", "TLS_NON_TLS_PORT": "0"}


@pytest.mark.parametrize("auth, port", [("maybe", 0), ("yes", -1), ("yes", 70000)])
def test_tls_env_refuses_values_the_scripts_would_not_understand(auth, port):
    with pytest.raises(ValueError):
        tls_env.render(True, auth, port)


def test_off_is_tls_env_alone_and_works_with_settings_without_tls_fields():
    parsed = settings.parse({"password": "Pw-123456789"}, 3)
    assert set(tls_env.tls_secret_data_off(parsed)) == {"tls.env"}
    assert assignments(tls_env.tls_secret_data_off(parsed)["tls.env"])["TLS_ENABLED"] == "no"
    assert tls_env.secret_data(parsed) == tls_env.tls_secret_data_off(parsed)


def test_on_carries_the_bundle_and_each_pods_pair_under_the_pods_name():
    s = _S(tls=True, tls_auth_clients="no", non_tls_port=0)
    data = tls_env.secret_data(s, "CA", {"app-0": ("C0", "K0"), "app-1": ("C1", "K1")})
    assert data == {"tls.env": tls_env.render(True, "no", 0), "ca.pem": "CA",
                    "app-0.pem": "C0", "app-0.key": "K0", "app-1.pem": "C1", "app-1.key": "K1"}
    assert podspec.TLS_CA_FILE == "ca.pem" and podspec.TLS_ENV_FILE == "tls.env"
    with pytest.raises(ValueError):
        tls_env.secret_data(s, "CA", {})
    # Off again: the material is left out even when given.
    off = _S(tls=False, tls_auth_clients="no", non_tls_port=0)
    assert set(tls_env.secret_data(off, "CA", {"app-0": ("C0", "K0")})) == {"tls.env"}


def test_switching_off_can_keep_the_material_while_tls_env_says_no():
    off = _S(tls=False, tls_auth_clients="yes", non_tls_port=0)
    data = tls_env.secret_data(off, "CA", {"app-0": ("C0", "K0")}, keep_material=True)
    assert data == {"tls.env": tls_env.render(False, "yes", 0), "ca.pem": "CA", "app-0.pem": "C0", "app-0.key": "K0"}
    with pytest.raises(ValueError):
        tls_env.secret_data(off, None, None, keep_material=True)

def test_tls_env_says_the_mode_the_client_certificate_rule_and_the_plain_port():
    on = settings.parse({"enable-tls": True, "tls-auth-clients": "yes", "non-tls-port": 6380}, 3)
    assert tls_env.render_tls_env(on).splitlines()[-3:] == [
        "TLS_ENABLED=yes", "TLS_AUTH_CLIENTS=yes", "TLS_NON_TLS_PORT=6380"]


def test_with_tls_off_the_plain_port_is_0_and_the_secret_holds_tls_env_alone():
    off = settings.parse({"non-tls-port": 6380}, 3)
    assert tls_env.render_tls_env(off).splitlines()[-3:] == [
        "TLS_ENABLED=no", "TLS_AUTH_CLIENTS=optional", "TLS_NON_TLS_PORT=0"]
    assert tls_env.tls_secret_data_off(off) == {"tls.env": tls_env.render_tls_env(off)}
