"""The data published on the ``redis`` relation (interface:redis, provides side)."""


def payload(master_host: str, master_port: int, password: str, sentinel_hosts,
            sentinel_port: int, master_name: str) -> dict:
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
    """
    if not master_host:
        raise ValueError("master_host is required")
    return {
        "host": str(master_host),
        "hostname": str(master_host),
        "port": str(int(master_port)),
        "password": password or "",
        "sentinel-hosts": ",".join(str(h) for h in sentinel_hosts),
        "sentinel-port": str(int(sentinel_port)),
        "master-name": str(master_name),
    }
