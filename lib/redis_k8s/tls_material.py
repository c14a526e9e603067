"""The TLS material of the application: where it comes from, when it is renewed, what the
``<app>-tls`` Secret and the consumers get. Pure: the caller reads the resources and leader data
and writes what :func:`plan` says.

The leader keeps the material in leader data (Juju's store, as for the generated password; the
pods only ever see the Secret), under these keys:

- ``tls-ca-cert``, ``tls-ca-key``: the generated CA (10 years), kept while operator files are in
  use too, so taking them back does not make a new CA.
- ``tls-ca-previous``: the CA before the last CA change, still trusted (bundle) until it expires,
  so clients given the old bundle keep verifying while the new certificates spread.
- ``tls-certs``: JSON ``{pod: [cert, key]}``, the generated per-pod certificates (1 year).
- ``tls-operator``: JSON ``[cert, key, ca]`` of the operator's files in use, "" when none.
- ``tls-problem``: why the operator's files are refused ("" when they are not): the unit is
  blocked with it, and nothing changes in the pods.

Key generation costs about 1.5 s each, so :func:`plan` generates only what is missing or due.
"""

import datetime
import hashlib
import json
from dataclasses import dataclass, field

from . import certificates, naming, tls_env, tls_files

CA_KEY = "tls-ca-cert"
CA_KEY_KEY = "tls-ca-key"
PREVIOUS_CA_KEY = "tls-ca-previous"
CERTS_KEY = "tls-certs"
OPERATOR_KEY = "tls-operator"
PROBLEM_KEY = "tls-problem"
# The CA certificates the pods trusted before the issuer changed (operator files attached,
# replaced or taken back): they stay in the bundle until every redis and sentinel serves the
# new certificate, so that no probe, script or peer meets a certificate it cannot verify.
OUTGOING_KEY = "tls-ca-outgoing"
LEADER_KEYS = (CA_KEY, CA_KEY_KEY, PREVIOUS_CA_KEY, CERTS_KEY, OPERATOR_KEY, PROBLEM_KEY, OUTGOING_KEY)

# tls_files' names, spelled out: the hooks load tls_files and certificates (asn1crypto, rsa:
# ~0.15 s) lazily, only when a hook checks or makes material (the hook budget, issue 11).
RESOURCES = ("cert-file", "key-file", "ca-cert-file")
CA_DAYS = 3650
CERT_DAYS = 365
BUNDLE_KEY = "ca.pem"  # the Secret's CA bundle key


def dns_names(app: str, model: str, ordinal: int, domain: str = naming.CLUSTER_DOMAIN) -> list:
    """Every name a client may reach pod ``ordinal`` by: its FQDN and shorter forms, the
    application's Service in every form, and ``localhost`` (the scripts and probes in the pod)."""
    pod = naming.pod_name(app, ordinal)
    endpoints = "{}-endpoints".format(app)
    return [
        naming.pod_fqdn(app, model, ordinal, domain),
        "{}.{}".format(pod, endpoints),
        "{}.{}.{}".format(pod, endpoints, model),
        "{}.{}.{}.svc".format(pod, endpoints, model),
        app, "{}.{}".format(app, model), "{}.{}.svc".format(app, model),
        "{}.{}.svc.{}".format(app, model, domain),
        "localhost",
    ]


IP_ADDRESSES = ["127.0.0.1"]


def cert_key(pod: str) -> str:
    """The Secret key of a pod's certificate chain."""
    return "{}.pem".format(pod)


def key_key(pod: str) -> str:
    """The Secret key of a pod's private key."""
    return "{}.key".format(pod)


@dataclass(frozen=True)
class Material:
    """What the pods should have and what the leader must store.

    Attributes:
        secret_data: the ``<app>-tls`` Secret's string data.
        leader_data: the leader data keys to write ("" removes one); empty when nothing changed.
        bundle: the CA bundle consumers verify the servers with ("" while TLS is off).
        served: ``{pod: certificate PEM}`` each pod should present (empty while TLS is off).
        problem: the blocked message when the operator's files are refused, else None.
        reasons: what was (re)generated and why, for the log (never a key).
    """

    secret_data: dict
    leader_data: dict = field(default_factory=dict)
    bundle: str = ""
    served: dict = field(default_factory=dict)
    problem: str = None
    reasons: tuple = ()


def _text(data) -> str:
    if data is None:
        return ""
    return data.decode() if isinstance(data, bytes) else str(data)


def _certs(leader: dict) -> dict:
    try:
        found = json.loads(leader.get(CERTS_KEY) or "{}")
    except ValueError:
        return {}
    return {pod: tuple(pair) for pod, pair in found.items() if isinstance(pair, list) and len(pair) == 2}


def _operator(leader: dict):
    try:
        found = json.loads(leader.get(OPERATOR_KEY) or "null")
    except ValueError:
        return None
    return tuple(found) if isinstance(found, list) and len(found) == 3 else None


def _issuers(leader: dict, now=None) -> str:
    """The CA bundle of the issuer in use: the operator's ``ca-cert-file``, or the generated CA
    plus the previous one while it is still valid; "" before any exists."""
    operator = _operator(leader)
    if operator is not None:
        return operator[2]
    ca = leader.get(CA_KEY) or ""
    previous = leader.get(PREVIOUS_CA_KEY) or ""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if previous and certificates.expires_at(previous) > now:
        return ca + previous
    return ca


def _pem_blocks(text: str) -> list:
    end = "-----END CERTIFICATE-----"
    return [block.strip() + "\n" + end + "\n" for block in (text or "").split(end) if block.strip()]


def _joined(*bundles) -> str:
    """The certificates of ``bundles`` once each, in order."""
    seen = []
    for bundle in bundles:
        seen += [block for block in _pem_blocks(bundle) if block not in seen]
    return "".join(seen)


def bundle_of(leader: dict, now=None) -> str:
    """The CA bundle the pods, the charm and consumers verify with: the issuer's (see
    :func:`_issuers`) and, while a change of issuer is under way, the outgoing one's."""
    return _joined(_issuers(leader, now), leader.get(OUTGOING_KEY) or "")


def outgoing(leader: dict) -> str:
    """The outgoing issuer's CA certificates still in the bundle ("" when no change is under
    way): the caller clears :data:`OUTGOING_KEY` once every server presents its new certificate."""
    return leader.get(OUTGOING_KEY) or ""


def pairs_of(leader: dict, pods) -> dict:
    """``{pod: (cert, key)}`` each pod serves with the material in leader data (pods without
    material are left out)."""
    operator = _operator(leader)
    if operator is not None:
        return {pod: (operator[0], operator[1]) for pod in pods}
    generated = _certs(leader)
    return {pod: generated[pod] for pod in pods if pod in generated}


def fingerprint(cert_pem: str) -> str:
    """The SHA-256 of a PEM certificate's DER (as a TLS peer presents it), hex."""
    return certificates.fingerprint(cert_pem)


def digest(secret_data: dict) -> str:
    """A digest of the Secret's data, for the spec fingerprint (never the data itself)."""
    return hashlib.sha256(json.dumps(secret_data, sort_keys=True).encode()).hexdigest()


def plan(settings, app: str, model: str, domain: str, count: int, leader: dict, resources=None,
         now=None, issuer=certificates, keep_material=False) -> Material:
    """Decide the TLS material for this hook.

    Args:
        settings: the checked Settings (``tls``, ``tls_auth_clients``, ``non_tls_port``).
        app, model, domain: name the pods (their certificates' names).
        count: pods ``0..count-1`` get material (the goal unit count).
        leader: leader data (only the keys in :data:`LEADER_KEYS` are read).
        resources: ``{resource name: contents (bytes) or None}`` of cert-file, key-file and
            ca-cert-file as just read; None when they were not read this hook: the operator
            files in leader data (if any) stay in use.
        now: the current time (aware datetime).
        issuer: makes certificates (``new_ca``, ``issue``, ``needs_renewal``): tests pass a
            faster one.
        keep_material: TLS is being switched off: the Secret keeps the CA bundle and the pods'
            files (``tls.env`` says off) until every server serves plain TCP, since a server
            still on TLS with ``tls-auth-clients yes`` refuses the pod scripts' calls once they
            have no certificate to present.

    Returns:
        The :class:`Material`. With TLS off it holds ``tls.env`` alone and writes nothing (the
        material is kept for the next switch on). With operator files refused it holds
        ``problem`` and the previous material (the caller keeps the pods as they are).
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    pods = [naming.pod_name(app, n) for n in range(count)]
    names = {pod: dns_names(app, model, n, domain) + IP_ADDRESSES for n, pod in enumerate(pods)}
    updates = {}
    reasons = []
    problem = None
    if resources is not None:
        files = [resources.get(name) for name in RESOURCES]
        supplied = any((data or b"").strip() for data in files)
        every_name = [name for pod in pods for name in names[pod]]
        problem = tls_files.problem(*files, names=every_name, now=now) if supplied else None
        if problem is None:
            operator = json.dumps([_text(data) for data in files]) if supplied else ""
            if operator != (leader.get(OPERATOR_KEY) or ""):
                updates[OPERATOR_KEY] = operator
                reasons.append("operator certificate files {}".format("in use" if supplied else "taken back"))
        if (leader.get(PROBLEM_KEY) or "") != (problem or ""):
            updates[PROBLEM_KEY] = problem or ""
    elif settings.tls:
        problem = leader.get(PROBLEM_KEY) or None
        operator = _operator(leader)
        if operator is not None and problem is None:
            # The files in use, checked again as time passes: an operator certificate that
            # expired blocks the units (it stays in the pods: nothing better is at hand).
            every_name = [name for pod in pods for name in names[pod]]
            problem = tls_files.problem(*[text.encode() for text in operator], names=every_name, now=now)
            if problem:
                updates[PROBLEM_KEY] = problem
    merged = dict(leader, **updates)
    if settings.tls and _operator(merged) is None:
        updates.update(_generated(merged, pods, names, now, issuer, reasons))
        merged.update(updates)
    before, after = _issuers(leader, now), _issuers(merged, now)
    if before and after != before:
        # Servers present certificates of the old issuer until the leader reloads them: keep
        # trusting it meanwhile (the leader drops it once every server presents the new one).
        kept = _joined(outgoing(leader), before)
        leaving = "".join(b for b in _pem_blocks(kept) if b not in _pem_blocks(after))
        if leaving != outgoing(leader):
            updates[OUTGOING_KEY] = leaving
            merged.update(updates)
            reasons.append("CA changed: the previous CA stays trusted until every pod serves the "
                           "new certificate")
    secret = tls_env.tls_secret_data_off(settings)
    if not settings.tls:
        bundle, kept = bundle_of(merged, now), pairs_of(merged, pods)
        if keep_material and bundle and kept:
            secret = tls_env.secret_data(settings, bundle, kept, keep_material=True)
        return Material(secret_data=secret, leader_data=updates, problem=problem, reasons=tuple(reasons))
    bundle = bundle_of(merged, now)
    served = pairs_of(merged, pods)
    secret[BUNDLE_KEY] = bundle
    for pod, (cert, key) in served.items():
        secret[cert_key(pod)] = cert
        secret[key_key(pod)] = key
    return Material(secret_data=secret, leader_data=updates, bundle=bundle,
                    served={pod: pair[0] for pod, pair in served.items()}, problem=problem,
                    reasons=tuple(reasons))


def _generated(leader: dict, pods, names: dict, now, issuer, reasons: list) -> dict:
    """Leader data updates making the generated CA and every pod's certificate current: a new
    CA (missing or due) re-issues every pod's certificate; otherwise only the missing or due
    ones are issued."""
    updates = {}
    ca, ca_key = leader.get(CA_KEY) or "", leader.get(CA_KEY_KEY) or ""
    new_ca = "missing" if not (ca and ca_key) else issuer.needs_renewal(ca, now)
    if new_ca:
        if ca:
            updates[PREVIOUS_CA_KEY] = ca
        ca, ca_key = issuer.new_ca("{} CA".format(pods[0].rsplit("-", 1)[0])[:64], CA_DAYS, now=now)
        updates.update({CA_KEY: ca, CA_KEY_KEY: ca_key})
        reasons.append("CA {}: new CA".format(new_ca))
    certs = {} if new_ca else _certs(leader)
    changed = False
    for pod in pods:
        pair = certs.get(pod)
        why = "missing" if pair is None else issuer.needs_renewal(pair[0], now, names[pod])
        if why:
            dns = [name for name in names[pod] if name not in IP_ADDRESSES]
            certs[pod] = tuple(issuer.issue(ca, ca_key, pod, dns, IP_ADDRESSES, CERT_DAYS, now=now))
            reasons.append("{} certificate {}: issued".format(pod, why))
            changed = True
    if changed:
        updates[CERTS_KEY] = json.dumps({pod: list(pair) for pod, pair in sorted(certs.items())})
    return updates
