from redis_k8s import settings, tls_env


def test_tls_env_says_the_mode_the_client_certificate_rule_and_the_plain_port():
    on = settings.parse({"enable-tls": True, "tls-auth-clients": "yes", "non-tls-port": 6380}, 3)
    assert tls_env.render_tls_env(on).splitlines()[-3:] == [
        "TLS_ENABLED=yes", "TLS_AUTH_CLIENTS=yes", "TLS_NON_TLS_PORT=6380"]


def test_with_tls_off_the_plain_port_is_0_and_the_secret_holds_tls_env_alone():
    off = settings.parse({"non-tls-port": 6380}, 3)
    assert tls_env.render_tls_env(off).splitlines()[-3:] == [
        "TLS_ENABLED=no", "TLS_AUTH_CLIENTS=optional", "TLS_NON_TLS_PORT=0"]
    assert tls_env.tls_secret_data_off(off) == {"tls.env": tls_env.render_tls_env(off)}
