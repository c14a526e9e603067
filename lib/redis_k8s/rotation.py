"""A password rotation: which password the Secret holds, which one consumers are given, and which
older ones every pod still accepts, moved on one step per leader hook.

A new password reaches the pods two ways: the Secret's file, which the scripts and probes read and
the kubelet updates in place within :data:`live.SECRET_SYNC_S`, and the leader's live commands.
No one may be refused a password they were given or read from a file, and consumers must never be
given one a pod refuses. So a rotation:

1. starts in the hook that puts the new password in the Secret (:func:`change`): the one it
   replaces, with any an unfinished rotation still accepts, is *retired*: still accepted;
2. on that hook and every later leader hook (:func:`advance`), every redis and sentinel is made to
   accept the new password beside the retired ones; once every pod did (a pod down or being
   replaced is retried on later hooks), the new password becomes the *consumers'* one, which the
   charm publishes on the relation then and not before;
3. then replicas and sentinels authenticate with the new one, and the retired ones are refused
   everywhere once the Secret's files and the consumers have both had ``SECRET_SYNC_S`` to follow
   (counted from the later of the Secret change and the consumers' switch).

The state lives in leader data (:func:`from_leader_data`, :func:`leader_data`); this module calls
no hook tool.
"""

import dataclasses
import json


@dataclasses.dataclass(frozen=True)
class Passwords:
    """Where a rotation stands.

    Attributes:
        secret: the password in the Secret ('' before the first pod spec).
        consumers: the password every pod accepts and consumers are given.
        retired: older passwords still accepted, refused when the rotation ends (none: no rotation).
        since: when the retired ones stopped being needed by the pods' files or the consumers,
            as far as the leader knows (a time.time() value; 0 with no rotation).
    """

    secret: str = ""
    consumers: str = ""
    retired: tuple = ()
    since: float = 0.0

    @property
    def rotating(self) -> bool:
        return bool(self.retired)


def from_leader_data(get) -> Passwords:
    """The rotation state from leader data, ``get(key) -> str or None``.

    Before ``secret-password`` existed, ``active-password`` named the Secret's password, which was
    also the consumers' one: it stands for both.
    """
    consumers = get("active-password") or ""
    try:
        retired = tuple(json.loads(get("retired-passwords") or "[]"))
    except ValueError:
        retired = ()
    try:
        since = float(get("retired-since") or 0)
    except ValueError:
        since = 0.0
    return Passwords(get("secret-password") or consumers, consumers, retired, since)


def leader_data(passwords: Passwords) -> dict:
    """The leader data keys holding ``passwords`` ('' removes a key)."""
    return {
        "secret-password": passwords.secret,
        "active-password": passwords.consumers,
        "retired-passwords": json.dumps(list(passwords.retired)) if passwords.retired else "",
        "retired-since": repr(passwords.since) if passwords.retired else "",
    }


def change(passwords: Passwords, wanted: str, now: float) -> Passwords:
    """The Secret is about to hold ``wanted``.

    The first password needs no rotation: no pod ran with another one. A new one retires the
    Secret's previous one and the consumers' one (unless either is ``wanted`` again), beside those
    an unfinished rotation still accepts.
    """
    if not passwords.secret:
        return Passwords(wanted, wanted)
    if passwords.secret == wanted:
        return passwords
    retired = []
    for old in passwords.retired + (passwords.secret, passwords.consumers):
        if old and old != wanted and old not in retired:
            retired.append(old)
    return Passwords(wanted, passwords.consumers, tuple(retired), now)


def advance(passwords: Passwords, hosts, settings, now: float, connect=None) -> Passwords:
    """One step of the rotation, run by the leader on every hook while it lasts.

    Args:
        passwords: the current state.
        hosts: every pod's DNS name (one per unit: all of them must accept the new password).
        settings: the checked options (ports, master group name).
        now: the current time.time().
        connect: ``connect(host, port, password) -> redis.Redis`` (tests); None connects directly.

    Returns:
        The new state: ``consumers`` moved to the Secret's password once every redis and sentinel
        accepts it; no ``retired`` once they are refused everywhere.
    """
    if not passwords.rotating:
        return passwords
    # Here, not at the top: every hook reads the password state through this module, and only
    # a rotation under way needs redis-py (live), which costs a hook tens of milliseconds.
    from . import live
    hosts = list(hosts)
    if passwords.consumers != passwords.secret:
        accepted = (passwords.secret,) + passwords.retired
        if live.accept_passwords(hosts, settings, accepted, connect):
            return passwords  # a pod is down or being replaced: retried on a later hook
        passwords = dataclasses.replace(passwords, consumers=passwords.secret,
                                        since=max(passwords.since, now))
    if live.rotate(hosts, settings, passwords.secret, list(passwords.retired), passwords.since, now,
                   connect):
        passwords = dataclasses.replace(passwords, retired=(), since=0.0)
    return passwords
