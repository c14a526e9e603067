"""Options and passwords applied to running pods, whether or not Kubernetes replaces them.

Kubernetes rolls pods only when the pod template changes: new ConfigMap or Secret contents reach
running pods as files, in place, and a process reads them only when it starts. So the leader makes
every running redis and sentinel match the settings itself, on every hook (each function reads
first and writes only what differs: a pod that was unreachable, or restarted with files the
kubelet had not synced yet, is brought in line on a later hook).

Every function takes ``connect(host, port, password) -> redis.Redis`` (None: direct, short
timeouts) and returns the endpoints it could not bring in line, ``[]`` when all are done.
"""

import hashlib

import redis

from . import custom_config, metrics_user
from .connection import as_dict as _as_dict, ask as _try, default_connect

# How long after the Secret changes a pod may still read the previous password from its file:
# the kubelet's sync period (1 min) plus its Secret cache TTL (1 min), with a margin. The old
# password is refused only after this, so no probe or script ever holds a refused one.
SECRET_SYNC_S = 150

def memory_bytes(size: str) -> int:
    """``maxmemory`` as redis reports it (bytes; "" is 0, no limit), from a checked option value."""
    return custom_config.memory_bytes(size)


def redis_settings(settings) -> dict:
    """What every redis must have (``CONFIG SET`` values): the options, the unit count's values,
    and every directive ``redis-config`` accepts, with its line's value or else Redis' default
    (so a removed line is undone)."""
    wanted = settings.custom.redis_wanted()
    wanted.update({
        "maxmemory": str(memory_bytes(settings.maxmemory)),
        "maxmemory-policy": settings.maxmemory_policy,
        "appendonly": "yes" if settings.appendonly else "no",
        "min-replicas-to-write": str(settings.min_replicas_to_write),
        "min-replicas-max-lag": str(settings.min_replicas_max_lag),
        # A full sync starts once every other pod asked for it (see redis.conf).
        "repl-diskless-sync-max-replicas": str(max(0, settings.unit_count - 1)),
    })
    return wanted


def sentinel_settings(settings) -> dict:
    """What every sentinel must have for the master group (``SENTINEL SET`` values): the options,
    the quorum, and every directive ``sentinel-config`` accepts (its line's value, else Redis')."""
    wanted = settings.custom.sentinel_wanted()
    wanted.update({
        "quorum": str(settings.quorum),
        "down-after-milliseconds": str(settings.down_after_ms),
        "failover-timeout": str(settings.failover_timeout_ms),
    })
    return wanted


def _differences(current: dict, wanted: dict, table: dict = None) -> list:
    """``[name, value, ...]`` of the ``wanted`` values ``current`` (as reported) lacks; ``table``
    (``custom_config.REDIS`` or ``SENTINEL``) says how Redis reports its directives."""
    pairs = []
    for name, value in wanted.items():
        have = current.get(name)
        if have is None or not custom_config.same(table or {}, name, str(have), value):
            pairs += [name, value]
    return pairs


def ensure_metrics_user(commands, metrics_password):
    """``fn(client)`` giving an instance the exporter's ACL user (:mod:`redis_k8s.metrics_user`)
    with ``commands`` and ``metrics_password``, when it lacks it or has it otherwise: a pod that
    started before its Secret file had the password, or one of a revision without the user.
    Only that user is touched (``ACL SETUSER`` changes the named user alone). True when done."""
    def run(client):
        reply = client.execute_command("ACL", "GETUSER", metrics_user.NAME)
        if not metrics_user.matches(reply, metrics_password, commands):
            client.execute_command("ACL", "SETUSER", metrics_user.NAME,
                                   *metrics_user.rules(metrics_password, commands))
        return True
    return run


def apply_settings(hosts, settings, password, connect=None, snapshot=None,
                   metrics_password=None) -> list:
    """Make every redis (``CONFIG SET``) and sentinel (``SENTINEL SET``) of ``hosts`` use the
    settings and, given ``metrics_password``, have the exporter's user; return the
    ``(host, port)`` not reached.

    With the hook's ``snapshot`` (:class:`redis_k8s.observation.Snapshot`), its open clients are
    used and the sentinels' ``SENTINEL MASTER`` it read (or reads now, for the heal steps after)
    is not asked again; without it each instance gets a client of its own (``connect``).

    Kept for the next start by the ConfigMap files the start scripts read (a container that starts
    before the kubelet synced them gets the old values, and this puts it right on a later hook).
    """
    missed = []
    wanted_redis = redis_settings(settings)
    wanted_sentinel = sentinel_settings(settings)

    redis_user = sentinel_user = None
    if metrics_password:
        redis_user = ensure_metrics_user(metrics_user.REDIS_COMMANDS, metrics_password)
        sentinel_user = ensure_metrics_user(metrics_user.SENTINEL_COMMANDS, metrics_password)

    def align_redis(client):
        pairs = _differences(client.config_get("*"), wanted_redis, custom_config.REDIS)
        if pairs:
            client.execute_command("CONFIG", "SET", *pairs)
        return redis_user(client) if redis_user else True

    def set_sentinel(pairs):
        def run(client):
            client.execute_command("SENTINEL", "SET", settings.master_name, *pairs)
            return True
        return run

    for host in hosts:
        if snapshot is not None:
            redis_done = snapshot.pods.redis(host, align_redis)
            state = snapshot.sentinel_state(host)
            pairs = _differences(state, wanted_sentinel, custom_config.SENTINEL) if state else None
            sentinel_done = bool(state) and (not pairs or bool(
                snapshot.pods.sentinel(host, set_sentinel(pairs))))
            if pairs:
                snapshot.forget_sentinel_state(host)
            if sentinel_done and sentinel_user:
                sentinel_done = bool(snapshot.pods.sentinel(host, sentinel_user))
        else:
            redis_done = _try(connect, host, settings.port, password, align_redis)

            def align_sentinel(client):
                state = _as_dict(client.execute_command("SENTINEL", "MASTER", settings.master_name))
                pairs = _differences(state, wanted_sentinel, custom_config.SENTINEL)
                if pairs:
                    set_sentinel(pairs)(client)
                return sentinel_user(client) if sentinel_user else True

            sentinel_done = _try(connect, host, settings.sentinel_port, password, align_sentinel)
        if not redis_done:
            missed.append((host, settings.port))
        if not sentinel_done:
            missed.append((host, settings.sentinel_port))
    return missed


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _login(connect, host, port, candidates):
    """A client to ``host:port`` logged in with the first of ``candidates`` it accepts, or None."""
    for password in candidates:
        client = None
        try:
            client = (connect or default_connect)(host, port, password)
            client.ping()
            return client
        except redis.AuthenticationError:
            client.close()
        except (redis.RedisError, OSError):
            if client is not None:
                client.close()
            return None
    return None


def _each(connect, endpoints, candidates, action) -> list:
    """Run ``action(client, port)`` on every endpoint; return those not reached."""
    missed = []
    for host, port in endpoints:
        client = _login(connect, host, port, candidates)
        if client is None:
            missed.append((host, port))
            continue
        try:
            action(client, port)
        except (redis.RedisError, OSError):
            missed.append((host, port))
        finally:
            client.close()
    return missed


def accept_passwords(hosts, settings, accepted, connect=None) -> list:
    """Make every redis and sentinel accept exactly the passwords ``accepted`` (the default user's
    ACL: ``>new`` adds one, ``!<digest>`` removes one); return the endpoints not reached."""
    wanted = {_digest(p): p for p in accepted}

    def align(client, port):
        user = _as_dict(client.execute_command("ACL", "GETUSER", "default"))
        have = {d.decode() if isinstance(d, bytes) else d for d in user.get("passwords", [])}
        rules = [">" + wanted[d] for d in sorted(set(wanted) - have)]
        rules += ["!" + d for d in sorted(have - set(wanted))]
        if rules:
            client.execute_command("ACL", "SETUSER", "default", "on", *rules)

    endpoints = [(h, p) for h in hosts for p in (settings.port, settings.sentinel_port)]
    return _each(connect, endpoints, list(accepted), align)


def use_password(hosts, settings, password, accepted, connect=None) -> list:
    """Make replicas (``masterauth``) and sentinels (``auth-pass``, ``sentinel-pass``) authenticate
    with ``password``; return the endpoints not reached. Every instance must already accept it
    (:func:`accept_passwords`), or links break until it does."""
    def switch(client, port):
        if port == settings.sentinel_port:
            current = client.execute_command("SENTINEL", "CONFIG", "GET", "sentinel-pass")
            # auth-pass has no getter; the two always change together, auth-pass first.
            if _as_dict(current).get("sentinel-pass") != password:
                client.execute_command("SENTINEL", "SET", settings.master_name, "auth-pass", password)
                client.execute_command("SENTINEL", "CONFIG", "SET", "sentinel-pass", password)
        elif client.config_get("masterauth").get("masterauth") != password:
            client.config_set("masterauth", password)

    endpoints = [(h, p) for h in hosts for p in (settings.port, settings.sentinel_port)]
    return _each(connect, endpoints, [password] + [p for p in accepted if p != password], switch)


def rotate(hosts, settings, password, retired, retired_since, now, connect=None) -> bool:
    """One step of a password rotation, run by the leader on every hook until it returns True.

    ``password`` is the Secret's (new) one; ``retired`` the ones it replaced, still accepted since
    ``retired_since`` (the time the Secret changed). First every instance accepts all of them,
    then (once all did) replicas and sentinels authenticate with ``password``, and once every pod's
    Secret file has had :data:`SECRET_SYNC_S` to sync, the retired ones are refused everywhere.
    Returns True when that last step reached every instance: the rotation is over.
    """
    hosts = list(hosts)
    accepted = [password] + [p for p in retired if p != password]
    if accept_passwords(hosts, settings, accepted, connect):
        return False
    if use_password(hosts, settings, password, accepted, connect):
        return False
    if now - retired_since < SECRET_SYNC_S:
        return False
    return not accept_passwords(hosts, settings, [password], connect)
