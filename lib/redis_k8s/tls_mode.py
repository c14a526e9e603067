"""How this process speaks to the pods: plain TCP, or TLS with which files, and the mode each
instance last answered in. No redis-py: a hook that configures plain TCP, or saves the modes it
found, does not load the client library (:mod:`redis_k8s.connection` reads this state when it
connects)."""

from typing import NamedTuple


class Tls(NamedTuple):
    """How to speak TLS to the pods.

    Attributes:
        enabled: whether the pods are meant to speak TLS (the mode tried first).
        ca: the CA bundle file the servers' certificates are verified with.
        cert, key: a client certificate and its key (files, mode 0600), presented when
            ``tls-auth-clients`` is ``yes``; None otherwise.
    """

    enabled: bool
    ca: str
    cert: str = None
    key: str = None


_tls = None  # this process's Tls (configure_tls); None: plain TCP only, no fallback
_modes = {}  # (host, port) -> True (TLS) / False (plain): what the instance last spoke


def configure_tls(tls):
    """Use ``tls`` (a :class:`Tls`, or None for plain TCP only) for every later connection."""
    global _tls
    _tls = tls


def current_tls():
    """The :class:`Tls` in use (:func:`configure_tls`), or None."""
    return _tls


def modes() -> dict:
    """``{"host:port": True/False}``: the mode each instance answered in, to keep across
    processes (a hook is one): during a switch, trying the wrong mode first costs a handshake
    timeout."""
    return {"{}:{}".format(host, port): mode for (host, port), mode in _modes.items()}


def remember_modes(saved: dict):
    """Take the modes :func:`modes` gave (a previous hook's) as what each instance speaks."""
    for name, mode in (saved or {}).items():
        host, _, port = name.rpartition(":")
        if host and port.isdigit():
            _modes.setdefault((host, int(port)), bool(mode))


def speaks_tls(host, port):
    """True/False: the mode ``host:port`` answered in last; None before it answered."""
    return _modes.get((host, int(port)))
