"""The data published on the ``redis`` relation (interface:redis, provides side)."""

# bin/publish-promoted moves a unit's entries to a new master ahead of the leader's record; the
# unit's hooks keep them there this long at most while the record names another master (the
# record follows within a hook or two; a promotion undone after all is given back after it).
PROMOTED_HOLD_S = 10.0
# The keys of an entry that name the master (what bin/publish-promoted moves).
MASTER_KEYS = ("host", "hostname")


def payload(master_host: str, master_port: int, password: str, sentinel_hosts,
            sentinel_port: int, master_name: str, tls_ca: str = None,
            non_tls_port: int = 0) -> dict:
    """Return the relation data telling a consumer where the current master is.

    Legacy consumers read ``host``/``port``/``password``; the ops Redis library reads
    ``hostname``/``port``; Sentinel-aware clients use ``sentinel-hosts``, ``sentinel-port`` and
    ``master-name`` to follow failovers themselves. Every value is a string, as relation data
    must be.

    Args:
        master_host: DNS name of the current master.
        master_port: Redis port.
        password: the Redis password (consumers need it to connect).
        sentinel_hosts: iterable of sentinel DNS names.
        sentinel_port: Sentinel port.
        master_name: the Sentinel master group name.
        tls_ca: with TLS on, the CA bundle (PEM) consumers verify the servers with; None or
            "" when TLS is off.
        non_tls_port: with TLS on, the plain port redis also serves (0: none).

    With TLS on, ``tls`` is ``"true"``, ``tls-ca`` the bundle and ``tls-port`` the TLS port;
    ``port`` is the plain port when one is kept, so legacy consumers that ignore ``tls`` keep
    working, else the TLS port. With TLS off ``tls`` is ``"false"`` and ``tls-ca``/``tls-port``
    are "" (which removes the keys from the relation).
    """
    if not master_host:
        raise ValueError("master_host is required")
    tls = bool(tls_ca)
    port = int(non_tls_port) if tls and non_tls_port else int(master_port)
    return {
        "host": str(master_host),
        "hostname": str(master_host),
        "port": str(port),
        "password": password or "",
        "sentinel-hosts": ",".join(str(h) for h in sentinel_hosts),
        "sentinel-port": str(int(sentinel_port)),
        "master-name": str(master_name),
        "tls": "true" if tls else "false",
        "tls-ca": tls_ca if tls else "",
        "tls-port": str(int(master_port)) if tls else "",
    }


def keeps_promoted(promoted_host: str, age_s: float, master_host: str,
                   hold_s: float = PROMOTED_HOLD_S) -> bool:
    """Whether a unit leaves its entries on the master ``bin/publish-promoted`` moved them to
    (``promoted_host``, ``age_s`` seconds ago) rather than give its consumers ``master_host``,
    the leader's record: until the record names the promoted master, publishing the record
    would give consumers the old master back."""
    return bool(promoted_host) and promoted_host != master_host and 0 <= age_s < hold_s
