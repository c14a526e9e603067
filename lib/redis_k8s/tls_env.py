"""The ``tls.env`` key of the ``<app>-tls`` Secret: the TLS mode the pod scripts read."""

from . import templating

ENV_KEY = "tls.env"  # the Secret key (a file in podspec.TLS_DIR)


def render_tls_env(settings) -> str:
    """Return ``tls.env`` for ``settings``: shell assignments of TLS_ENABLED, TLS_AUTH_CLIENTS
    and TLS_NON_TLS_PORT (0 while TLS is off)."""
    return templating.render("tls.env", tls=settings.tls, tls_auth_clients=settings.tls_auth_clients,
                             non_tls_port=settings.non_tls_port)


def tls_secret_data_off(settings) -> dict:
    """Return the Secret's string data while TLS is off: ``tls.env`` alone (no certificate or
    key is left in it, so a pod's file existing means TLS is on there)."""
    return {ENV_KEY: render_tls_env(settings)}
