"""Validation of the certificate files an operator attaches: resources ``cert-file``,
``key-file`` and ``ca-cert-file``.

Redis given a bad file refuses to start (or, on ``CONFIG SET``, keeps the old one), and a
client given a certificate that does not verify fails its handshake with a message that names
neither file. So the charm checks the files first, and says in a ``blocked`` status which file
is wrong and why: each message starts with the resource's name.

One certificate serves every pod, so its subjectAltName must cover every pod's names
(wildcards allowed), and Redis presents it as a client certificate too (replicas to their
master, sentinels to redis), so an extendedKeyUsage, when present, must allow both
``serverAuth`` and ``clientAuth`` as OpenSSL checks them (it verifies a client certificate for
the "SSL client" purpose and a server's for the "SSL server" one).

Signatures are verified for RSA issuers (PKCS#1 v1.5, the signatures OpenSSL makes by default
for RSA). For an EC or RSA-PSS issuer only the names and key identifiers are compared: the pure
Python packages the charm vendors do not verify those, and Redis's own handshake still would.
No key is ever part of a message.
"""

import datetime

import rsa
from asn1crypto import keys, pem, x509

from redis_k8s.certificates import names_not_covered

CERT_FILE, KEY_FILE, CA_CERT_FILE = 'cert-file', 'key-file', 'ca-cert-file'
# Purposes OpenSSL checks when Redis is the server and when it is the client.
REQUIRED_KEY_PURPOSES = ('server_auth', 'client_auth')
_PURPOSE_NAMES = {'server_auth': 'serverAuth', 'client_auth': 'clientAuth'}
_MAX_CHAIN = 8


class _Problem(Exception):
    """What is wrong with a file, said for a ``blocked`` status."""


def problem(cert_file, key_file, ca_cert_file, names=(), now=None):
    """Say what is wrong with the attached certificate files, or None when they serve.

    Args:
        cert_file: the contents of ``cert-file`` (bytes), None when not attached. An empty
            file counts as not attached (attaching an empty file is how an operator takes a
            resource back). Its first certificate is the server's; the ones after it are
            intermediates sent along.
        key_file: the contents of ``key-file``: the unencrypted private key of that certificate
            (PKCS#8, PKCS#1 RSA or SEC1 EC).
        ca_cert_file: the contents of ``ca-cert-file``: the certificates clients and peers trust.
        names: DNS names and IP addresses every client may use to reach a pod; the certificate
            must cover all of them.
        now: the current time (aware datetime); the clock by default.

    Returns:
        None when none of the three files is attached, or when they are consistent; else one
        sentence starting with the file's resource name, e.g. ``"cert-file expired at
        2026-01-01 00:00:00 UTC"``.
    """
    files = {CERT_FILE: cert_file, KEY_FILE: key_file, CA_CERT_FILE: ca_cert_file}
    missing = [name for name, data in files.items() if not (data or b'').strip()]
    if len(missing) == len(files):
        return None
    if missing:
        given = [name for name in files if name not in missing]
        return '{} given without {}: attach {}, {} and {} together'.format(
            ' and '.join(given), ' and '.join(missing), CERT_FILE, KEY_FILE, CA_CERT_FILE)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        chain = _certificates(CERT_FILE, cert_file)
        key = _public_key_of_private_key(key_file)
        authorities = _certificates(CA_CERT_FILE, ca_cert_file)
        _check_key_matches(chain[0], key)
        _check_dates(CERT_FILE, chain[0], now)
        for authority in authorities:
            _check_dates(CA_CERT_FILE, authority, now, which=True)
            _check_is_ca(authority)
        _check_signed_by(chain, authorities)
        _check_key_purposes(chain[0])
        _check_names(chain[0], names)
    except _Problem as found:
        return str(found)
    return None


def _certificates(file_name, data):
    kinds = []
    found = []
    for kind, _, der in _blocks(file_name, data):
        kinds.append(kind)
        if kind != 'CERTIFICATE':
            continue
        try:
            cert = x509.Certificate.load(der)
            cert.native  # parses every field now, not at first use
        except ValueError as error:
            raise _Problem('{} has a CERTIFICATE that is not a valid X.509 certificate ({})'.format(
                file_name, error))
        found.append(cert)
    if not found:
        raise _Problem('{} holds no certificate (found {})'.format(file_name, ', '.join(kinds)))
    return found


def _blocks(file_name, data):
    if isinstance(data, str):
        data = data.encode('utf-8')
    if not pem.detect(data):
        raise _Problem('{} is not PEM (no "-----BEGIN" line; DER files must be converted)'.format(file_name))
    try:
        return list(pem.unarmor(data, multiple=True))
    except ValueError as error:
        raise _Problem('{} is not valid PEM ({})'.format(file_name, error))


def _public_key_of_private_key(data):
    """The ``(algorithm, public identity)`` of the private key in ``key-file``."""
    kinds = []
    for kind, headers, der in _blocks(KEY_FILE, data):
        kinds.append(kind)
        if kind == 'ENCRYPTED PRIVATE KEY' or 'ENCRYPTED' in headers.get('Proc-Type', ''):
            raise _Problem('{} is encrypted: attach the key without a passphrase'.format(KEY_FILE))
        try:
            if kind == 'PRIVATE KEY':
                info = keys.PrivateKeyInfo.load(der)
                algorithm = info.algorithm
                if algorithm == 'rsa':
                    return _rsa_identity(info['private_key'].parsed)
                if algorithm == 'ec':
                    return _ec_identity(info['private_key'].parsed, info.curve[1])
                raise _Problem('{} is an {} key: only RSA and EC keys are supported'.format(
                    KEY_FILE, algorithm.upper()))
            if kind == 'RSA PRIVATE KEY':
                return _rsa_identity(keys.RSAPrivateKey.load(der))
            if kind == 'EC PRIVATE KEY':
                ec_key = keys.ECPrivateKey.load(der)
                parameters = ec_key['parameters']
                return _ec_identity(ec_key, parameters.chosen.native if parameters.name == 'named' else None)
        except (ValueError, KeyError, TypeError) as error:
            raise _Problem('{} has a {} that does not parse ({})'.format(KEY_FILE, kind, error))
    raise _Problem('{} holds no private key (found {})'.format(KEY_FILE, ', '.join(kinds)))


def _rsa_identity(private):
    n, e = private['modulus'].native, private['public_exponent'].native
    if private['prime1'].native * private['prime2'].native != n:
        raise _Problem('{} is a damaged RSA key (its primes do not make its modulus)'.format(KEY_FILE))
    return 'rsa', (n, e)


def _ec_identity(private, curve_name):
    point = private['public_key'].native
    if point is None:
        raise _Problem('{} is an EC key without its public key, so it cannot be matched with {}: '
                       'export it again with `openssl ec`'.format(KEY_FILE, CERT_FILE))
    return 'ec', (curve_name, point)


def _certificate_identity(cert):
    spki = cert['tbs_certificate']['subject_public_key_info']
    if spki.algorithm == 'rsa':
        public = spki['public_key'].parsed
        return 'rsa', (public['modulus'].native, public['public_exponent'].native)
    if spki.algorithm == 'ec':
        return 'ec', (spki.curve[1], spki['public_key'].native)
    return spki.algorithm, None


def _check_key_matches(cert, key):
    algorithm, identity = _certificate_identity(cert)
    if key[0] != algorithm:
        raise _Problem('{} does not match {}: the key is {}, the certificate\'s key is {}'.format(
            KEY_FILE, CERT_FILE, key[0].upper(), algorithm.upper()))
    if key[1] != identity:
        raise _Problem('{} does not match {}: it is the key of another certificate'.format(KEY_FILE, CERT_FILE))


def _when(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')


def _subject(cert):
    return cert.subject.human_friendly


def _check_dates(file_name, cert, now, which=False):
    label = "{}'s certificate {}".format(file_name, _subject(cert)) if which else file_name
    if now < cert.not_valid_before:
        raise _Problem('{} is not valid yet: valid from {} to {}'.format(
            label, _when(cert.not_valid_before), _when(cert.not_valid_after)))
    if now > cert.not_valid_after:
        raise _Problem('{} expired at {} (valid from {})'.format(
            label, _when(cert.not_valid_after), _when(cert.not_valid_before)))


def _check_is_ca(cert):
    constraints = cert.basic_constraints_value
    if constraints is not None and not constraints['ca'].native:
        raise _Problem("{}'s certificate {} is not a CA (basicConstraints CA:FALSE)".format(
            CA_CERT_FILE, _subject(cert)))


def _signed_by(cert, issuer):
    """Whether ``issuer`` signed ``cert``: the signature for an RSA issuer with PKCS#1 v1.5,
    else the names and key identifiers (see the module's docstring)."""
    if cert.issuer != issuer.subject:
        return False
    spki = issuer['tbs_certificate']['subject_public_key_info']
    if spki.algorithm == 'rsa' and cert['signature_algorithm'].signature_algo == 'rsassa_pkcs1v15':
        public = spki['public_key'].parsed
        try:
            rsa.verify(cert['tbs_certificate'].dump(), cert['signature_value'].native,
                       rsa.PublicKey(public['modulus'].native, public['public_exponent'].native))
        except rsa.VerificationError:
            return False
        return True
    wanted = cert.authority_key_identifier
    return wanted is None or issuer.key_identifier is None or wanted == issuer.key_identifier


def _check_signed_by(chain, authorities):
    current, intermediates = chain[0], chain[1:]
    for _ in range(_MAX_CHAIN):
        if any(_signed_by(current, authority) for authority in authorities):
            return
        parents = [c for c in intermediates if c is not current and _signed_by(current, c)]
        if not parents:
            break
        current = parents[0]
    raise _Problem('{} is not signed by {} (issuer {}; {} holds {})'.format(
        CERT_FILE, CA_CERT_FILE, current.issuer.human_friendly, CA_CERT_FILE,
        '; '.join(_subject(a) for a in authorities)))


def _check_key_purposes(cert):
    purposes = cert.extended_key_usage_value
    if purposes is None:
        return
    allowed = set(purposes.native)
    lacking = [_PURPOSE_NAMES[p] for p in REQUIRED_KEY_PURPOSES if p not in allowed]
    if lacking and 'any_extended_key_usage' not in allowed:
        raise _Problem('{} is not usable for {} (extendedKeyUsage): Redis presents it as server '
                       'and as client (replication, sentinels)'.format(CERT_FILE, ' and '.join(lacking)))


def _check_names(cert, names):
    missing = names_not_covered(cert, names)
    if not missing:
        return
    alt_names = cert.subject_alt_name_value
    if alt_names is None:
        has = 'it has no subjectAltName'
    else:
        has = 'its subjectAltName has {}'.format(', '.join(
            '{}:{}'.format('IP' if n.name == 'ip_address' else 'DNS', n.native) for n in alt_names
            if n.name in ('dns_name', 'ip_address')))
    raise _Problem('{} does not cover {} ({})'.format(CERT_FILE, ', '.join(missing), has))
