"""The content of the TLS Secret (``<app>-tls``, :func:`redis_k8s.naming.tls_secret_name`).

The pods mount it at :data:`redis_k8s.podspec.TLS_DIR` whatever the mode. Keys:

- ``tls.env`` (always): ``TLS_ENABLED``, ``TLS_AUTH_CLIENTS``, ``TLS_NON_TLS_PORT``, rendered
  from ``templates/tls.env``; every pod script reads it at each use.
- while TLS is on only: ``ca.pem`` (the CA bundle) and, for every pod, ``<pod>.pem`` (its
  certificate chain) and ``<pod>.key`` (its private key). While TLS is off they are absent, so a
  pod's own files being there means the Secret with TLS on has reached it.

Switching off, the material must stay (``keep_material``) until every redis and sentinel serves
plain: a server still on TLS with ``tls-auth-clients yes`` refuses the scripts' and probes' calls
once they have no certificate to present (observed: "peer did not return a certificate").
"""

from . import podspec, templating

AUTH_CLIENTS = ("no", "optional", "yes")


def cert_key(pod: str) -> str:
    """The Secret key (file name) of pod ``pod``'s certificate chain."""
    return pod + ".pem"


def key_key(pod: str) -> str:
    """The Secret key (file name) of pod ``pod``'s private key."""
    return pod + ".key"


def render(enabled: bool, auth_clients: str = "optional", non_tls_port: int = 0) -> str:
    """The text of ``tls.env``."""
    if auth_clients not in AUTH_CLIENTS:
        raise ValueError("tls-auth-clients must be one of {}, got {!r}".format(AUTH_CLIENTS, auth_clients))
    port = int(non_tls_port)
    if not 0 <= port <= 65535:
        raise ValueError("non-tls-port must be 0-65535, got {}".format(port))
    return templating.render(podspec.TLS_ENV_FILE, tls_dir=podspec.TLS_DIR, enabled=bool(enabled),
                             auth_clients=auth_clients, non_tls_port=port)


def _auth_clients(settings) -> str:
    return getattr(settings, "tls_auth_clients", None) or "optional"


def _non_tls_port(settings) -> int:
    """The plain port beside TLS: 0 (none) while TLS is off, whatever the option says."""
    return (getattr(settings, "non_tls_port", 0) or 0) if getattr(settings, "tls", False) else 0


def render_tls_env(settings) -> str:
    """``tls.env`` for ``settings`` (``tls``, ``tls_auth_clients``, ``non_tls_port``)."""
    return render(bool(getattr(settings, "tls", False)), _auth_clients(settings), _non_tls_port(settings))


def secret_data(settings, ca_bundle: str = None, pairs: dict = None, keep_material: bool = False) -> dict:
    """The TLS Secret's string data for ``settings`` (``tls``, ``tls_auth_clients``,
    ``non_tls_port``): with TLS on, ``ca_bundle`` (PEM) and ``pairs`` (``{pod name: (cert chain
    PEM, key PEM)}``) are required and written; with TLS off they are left out, unless
    ``keep_material`` (TLS being switched off: some server may still serve TLS).

    Raises:
        ValueError: TLS is on (or the material is to be kept) and material is missing.
    """
    enabled = bool(getattr(settings, "tls", False))
    if not enabled and not keep_material:
        return tls_secret_data_off(settings)
    if not ca_bundle or not pairs:
        raise ValueError("the CA bundle and every pod's certificate and key are needed")
    data = {podspec.TLS_ENV_FILE: render_tls_env(settings), podspec.TLS_CA_FILE: ca_bundle}
    for pod, (cert, key) in sorted(pairs.items()):
        data[cert_key(pod)] = cert
        data[key_key(pod)] = key
    return data


def tls_secret_data_off(settings) -> dict:
    """The TLS Secret's string data with TLS off: ``tls.env`` alone."""
    return {podspec.TLS_ENV_FILE: render_tls_env(settings)}
