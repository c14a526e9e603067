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
from typing import NamedTuple

from . import custom_config, metrics_user, naming
from . import connection
from .connection import as_dict as _as_dict, ask as _try, default_connect
from .connection import redis  # redis-py, loaded once an error reaches a clause naming it

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


class TlsWanted(NamedTuple):
    """The TLS state every pod must reach (the leader's, from settings and tls_material).

    Attributes:
        enabled, auth_clients, non_tls_port: the options (``settings.tls`` etc.).
        directory: where the pods have the Secret's files (``podspec.TLS_DIR``).
        served: ``{pod: SHA-256 hex of the certificate it must present}`` (empty when off).
    """

    enabled: bool
    auth_clients: str
    non_tls_port: int
    directory: str
    served: dict


def tls_paths(wanted: TlsWanted, pod: str) -> list:
    """``CONFIG SET`` arguments naming a pod's certificate, key and CA bundle files."""
    return ["tls-cert-file", "{}/{}.pem".format(wanted.directory, pod),
            "tls-key-file", "{}/{}.key".format(wanted.directory, pod),
            "tls-ca-cert-file", "{}/ca.pem".format(wanted.directory)]


def tls_switch(current: dict, wanted: TlsWanted, port: int, pod: str, served: str = None) -> list:
    """The one ``CONFIG SET`` argument list that puts a redis in the wanted TLS state, given its
    ``CONFIG GET *`` reply and the certificate it presented (``served``, when reached over TLS);
    [] when it is there.

    On: the files, ``tls-auth-clients``, ``tls-replication yes``, then ``port`` (0 or the plain
    port: closes the plain listener of ``port``) before ``tls-port`` binds that number (Redis
    applies them in order; connections already open stay open). A certificate other than the
    expected one: the same paths again, which makes Redis re-read the files. Off: ``tls-port 0``
    first, then ``port``, then ``tls-replication no``.
    """
    plain = str(wanted.non_tls_port) if wanted.enabled else str(port)
    tls_port = str(port) if wanted.enabled else "0"
    in_mode = str(current.get("tls-port")) == tls_port and str(current.get("port")) == plain
    if not wanted.enabled:
        if "tls-port" not in current:
            return []  # a Redis built without TLS: off is all it does
        if in_mode and current.get("tls-replication", "no") == "no":
            return []
        return ["tls-port", "0", "port", str(port), "tls-replication", "no"]
    if not in_mode or current.get("tls-replication") != "yes":
        return tls_paths(wanted, pod) + ["tls-auth-clients", wanted.auth_clients,
                                         "tls-replication", "yes", "port", plain, "tls-port", tls_port]
    pairs = []
    expected = wanted.served.get(pod)
    if served is not None and expected is not None and served != expected:
        pairs += tls_paths(wanted, pod)
    if current.get("tls-auth-clients") != wanted.auth_clients:
        pairs += ["tls-auth-clients", wanted.auth_clients]
    return pairs


def sentinel_due(wanted: TlsWanted, host: str, port: int) -> bool:
    """Whether the sentinel at ``host:port`` must restart to reach the wanted TLS state: it
    answered in the other mode, or presented a certificate other than its pod's."""
    mode = connection.speaks_tls(host, port)
    if mode is None:
        return False
    if mode != wanted.enabled:
        return True
    expected = wanted.served.get(naming.pod_name_of(host))
    served = connection.served_fingerprint(host, port)
    return bool(wanted.enabled and expected and served and served != expected)


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
                   metrics_password=None, tls=None, tls_done=None) -> list:
    """Make every redis (``CONFIG SET``) and sentinel (``SENTINEL SET``) of ``hosts`` use the
    settings and, given ``metrics_password``, have the exporter's user; return the
    ``(host, port)`` not reached.

    With the hook's ``snapshot`` (:class:`redis_k8s.observation.Snapshot`), its open clients are
    used and the sentinels' ``SENTINEL MASTER`` it read (or reads now, for the heal steps after)
    is not asked again; without it each instance gets a client of its own (``connect``).

    Kept for the next start by the ConfigMap files the start scripts read (a container that starts
    before the kubelet synced them gets the old values, and this puts it right on a later hook).

    With ``tls`` (:class:`TlsWanted`), each redis is also switched to the wanted mode or made to
    re-read a changed certificate (:func:`tls_switch`, in the same ``CONFIG SET``; the mode is
    read from the ``CONFIG GET *`` already asked), and at most one sentinel per call whose mode
    or certificate differs is shut down (its container restarts it in the new mode), only once
    its pod's redis is in the wanted state and while every other sentinel answers. Hosts whose
    redis was seen in the wanted state and whose sentinel was not seen out of it are appended to
    ``tls_done``.
    """
    missed = []
    wanted_redis = redis_settings(settings)
    wanted_sentinel = sentinel_settings(settings)

    redis_user = sentinel_user = None
    if metrics_password:
        redis_user = ensure_metrics_user(metrics_user.REDIS_COMMANDS, metrics_password)
        sentinel_user = ensure_metrics_user(metrics_user.SENTINEL_COMMANDS, metrics_password)

    redis_in_mode = set()

    def align_redis_of(host):
        def align_redis(client):
            current = client.config_get("*")
            pairs = _differences(current, wanted_redis, custom_config.REDIS)
            switch = []
            if tls is not None:
                served = connection.served_fingerprint(host, settings.port) \
                    if connection.speaks_tls(host, settings.port) else None
                switch = tls_switch(current, tls, settings.port, naming.pod_name_of(host), served)
            if pairs:
                client.execute_command("CONFIG", "SET", *pairs)
            if switch:
                # Its own command: it fails while the pod lacks the files (retried later), and
                # the other settings must not wait for that.
                client.execute_command("CONFIG", "SET", *switch)
            else:
                redis_in_mode.add(host)  # seen in the wanted state, not just told to reach it
            return redis_user(client) if redis_user else True
        return align_redis

    def set_sentinel(pairs):
        def run(client):
            client.execute_command("SENTINEL", "SET", settings.master_name, *pairs)
            return True
        return run

    for host in hosts:
        align_redis = align_redis_of(host)
        if snapshot is not None:
            # One the sentinels see down would cost the hook a timeout: retried later.
            redis_done = (host, int(settings.port)) not in snapshot.flagged_down() and \
                snapshot.pods.redis(host, align_redis)
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
    if tls is not None:
        missed += _restart_one_sentinel(hosts, settings, password, connect, snapshot, tls,
                                        redis_in_mode, missed, tls_done)
    return missed


def _restart_one_sentinel(hosts, settings, password, connect, snapshot, tls, redis_in_mode, missed,
                          tls_done) -> list:
    """Shut down the first sentinel not in the wanted TLS state whose pod's redis is (its
    container restarts it with the Secret's files), while every other sentinel answered; return
    the sentinels still to switch (as not reached), and note the hosts done in ``tls_done``."""
    port = settings.sentinel_port
    due = [host for host in hosts if sentinel_due(tls, host, port)]
    pending = []
    others_answer = not any(p == port for _, p in missed)
    for host in due:
        pending.append((host, port))
        if not others_answer or host not in redis_in_mode:
            continue
        others_answer = False  # one per hook: the next waits for this one to be back

        def shut(client):
            try:
                client.execute_command("SHUTDOWN")
            except redis.ConnectionError:
                pass  # it closed the connection: that is the shutdown
            return True
        if snapshot is not None:
            snapshot.pods.sentinel(host, shut)
            snapshot.forget_sentinel_state(host)
        else:
            _try(connect, host, port, password, shut)
    if tls_done is not None:
        tls_done.extend(host for host in hosts
                        if host in redis_in_mode and (host, port) not in pending)
    return pending


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
            if client is not None:  # over TLS the login happens while connecting
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
