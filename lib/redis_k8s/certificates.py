"""The certificates the leader makes when TLS is on and the operator attached none.

The leader makes one CA, and one certificate per pod signed by it whose subjectAltName covers
every name a client uses to reach that pod. This module makes and reads them; where they are
kept (a Secret) and when they are made is the charm's business.

Why these libraries: hooks run in the Juju 2.9 operator pod, whose image guarantees python3
(3.8 on focal) and nothing else of use here: no ``openssl`` binary, no ``cryptography`` (a C
extension, and the charm vendors its dependencies as pure Python for any architecture). Rather
than a hand-rolled RSA and DER encoder, the crypto rests on two widely used pure-Python packages:

- ``rsa`` (python-rsa): RSA key generation (Miller-Rabin with the FIPS 186-4 round counts,
  p and q of different sizes, e = 65537, the modulus of exactly the asked size, d) and PKCS#1
  v1.5 signatures. Its repository was archived after 4.9.1; the code is small and settled,
  and its known caveat (timing side channels) does not matter to a leader signing a few
  certificates inside its own pod. One part is ours: the prime candidates. python-rsa runs
  Miller-Rabin on every random odd number; dividing by the primes below 2000 first rejects
  about 85% of them for the cost of a few hundred small divisions, which makes a 2048-bit key
  2-3 times faster (seconds per pod in a hook). The candidates come from ``secrets`` and every
  survivor still goes through python-rsa's own primality test.
- ``asn1crypto``: the X.509 / PKCS#8 structures and their DER encoding (RFC 5280), so no
  tag or length is written by hand here.

``rsa`` declares ``pyasn1`` as a dependency (it only imports it to load PKCS#1 files, which
this module does not do); it is vendored with it.

Keys are returned as PEM text to the caller only: nothing here logs, prints or writes them.
"""

import datetime
import hashlib
import ipaddress
import secrets

import rsa
import rsa.key
import rsa.prime
from asn1crypto import keys, pem, x509

KEY_BITS = 2048
# A certificate is replaced once less than this share of its life is left: with the default
# lifetimes and daily update-status hooks there are weeks for a failed renewal to be seen.
RENEW_WHEN_LIFE_LEFT = 1 / 3
# Client and server clocks may disagree: a new certificate is valid from a little earlier.
BACKDATE = datetime.timedelta(hours=1)
# RFC 5280 (ub-common-name): a commonName longer than this is invalid.
MAX_COMMON_NAME = 64
# Before 2050 validity dates are UTCTime, from 2050 GeneralizedTime (RFC 5280 4.1.2.5).
_GENERALIZED_TIME_FROM = datetime.datetime(2050, 1, 1, tzinfo=datetime.timezone.utc)


def new_ca(common_name, days, now=None, key_bits=KEY_BITS):
    """Make a self-signed CA certificate and its key.

    Args:
        common_name: the CA's subject commonName (at most 64 characters).
        days: how long the certificate is valid, from ``now``.
        now: the current time (aware datetime); the clock by default.
        key_bits: the RSA modulus size.

    Returns:
        ``(cert_pem, key_pem)``: the certificate and its PKCS#8 private key, PEM text.
    """
    public, private = _new_key(key_bits)
    name = _name(common_name)
    spki = _public_key_info(public)
    key_id = spki.sha1
    extensions = [
        _extension('basic_constraints', {'ca': True, 'path_len_constraint': 0}, critical=True),
        _extension('key_usage', {'key_cert_sign', 'crl_sign', 'digital_signature'}, critical=True),
        _extension('key_identifier', key_id),
        _extension('authority_key_identifier', {'key_identifier': key_id}),
    ]
    cert = _signed(name, name, spki, extensions, days, now, private)
    return cert, _private_key_pem(private)


def issue(ca_cert_pem, ca_key_pem, common_name, dns_names, ip_addresses, days, now=None, key_bits=KEY_BITS):
    """Make a certificate for a server (and client) signed by the CA, and its key.

    The certificate serves both ways because Redis presents ``tls-cert-file`` as its client
    certificate too (replication, sentinels) when no ``tls-client-cert-file`` is set.

    Args:
        ca_cert_pem: the CA certificate, PEM (as :func:`new_ca` returns it).
        ca_key_pem: the CA's RSA private key, PEM (PKCS#8 or PKCS#1).
        common_name: the subject commonName (at most 64 characters: a pod FQDN may be longer,
            so clients must and do match the subjectAltName, never this).
        dns_names: DNS names for the subjectAltName.
        ip_addresses: IP addresses (text) for the subjectAltName.
        days: how long the certificate is valid, from ``now`` (capped at the CA's expiry:
            a certificate outliving its CA would only fail verification later).
        now: the current time (aware datetime); the clock by default.
        key_bits: the RSA modulus size.

    Returns:
        ``(cert_pem, key_pem)``: the certificate and its PKCS#8 private key, PEM text.

    Raises:
        ValueError: no name at all, an invalid address, or a CA key that is not the CA's.
    """
    ca_cert = load_certificate(ca_cert_pem)
    ca_private = _load_rsa_private_key(ca_key_pem)
    ca_spki = ca_cert['tbs_certificate']['subject_public_key_info']
    if ca_spki.algorithm != 'rsa' or ca_spki['public_key'].parsed['modulus'].native != ca_private.n:
        raise ValueError('the CA key is not the key of the CA certificate')
    dns_names = list(dict.fromkeys(dns_names))
    addresses = list(dict.fromkeys(str(ipaddress.ip_address(a)) for a in ip_addresses))
    if not dns_names and not addresses:
        raise ValueError('a certificate needs at least one DNS name or IP address')
    public, private = _new_key(key_bits)
    spki = _public_key_info(public)
    alt_names = [x509.GeneralName(name='dns_name', value=n) for n in dns_names]
    alt_names += [x509.GeneralName(name='ip_address', value=a) for a in addresses]
    extensions = [
        _extension('basic_constraints', {'ca': False}, critical=True),
        _extension('key_usage', {'digital_signature', 'key_encipherment'}, critical=True),
        _extension('extended_key_usage', ['server_auth', 'client_auth']),
        _extension('subject_alt_name', alt_names),
        _extension('key_identifier', spki.sha1),
        _extension('authority_key_identifier', {'key_identifier': ca_cert.key_identifier or ca_spki.sha1}),
    ]
    cert = _signed(ca_cert.subject, _name(common_name), spki, extensions, days, now, ca_private,
                   not_after_cap=ca_cert.not_valid_after)
    return cert, _private_key_pem(private)


def expires_at(cert_pem):
    """Return when the (first) certificate in ``cert_pem`` expires, an aware UTC datetime."""
    return load_certificate(cert_pem).not_valid_after


def fingerprint(cert_pem):
    """Return the SHA-256 fingerprint of the (first) certificate, hex: a name for it in logs."""
    return hashlib.sha256(load_certificate(cert_pem).dump()).hexdigest()


def needs_renewal(cert_pem, now, names=(), life_left=RENEW_WHEN_LIFE_LEFT):
    """Say why a certificate must be replaced, or None while it may stay.

    Args:
        cert_pem: the certificate, PEM (the first one counts).
        now: the current time, an aware datetime.
        names: DNS names and IP addresses (text) it must cover: e.g. after a scale-up or a
            Service rename. For a CA, none.
        life_left: renew once less than this share of its validity period is left.

    Returns:
        None, or the reason as a phrase for the log: ``"expires at 2027-01-01 00:00:00+00:00
        (less than 33% of its life left)"``, ``"is not valid before ..."`` or ``"does not cover
        redis-k8s-3.redis-k8s-endpoints"``.
    """
    cert = load_certificate(cert_pem)
    start, end = cert.not_valid_before, cert.not_valid_after
    if now < start:
        return 'is not valid before {}'.format(start)
    if now >= end - (end - start) * life_left:
        return 'expires at {} (less than {:.0%} of its life left)'.format(end, life_left)
    missing = names_not_covered(cert, names)
    if missing:
        return 'does not cover {}'.format(', '.join(missing))
    return None


def load_certificate(cert_pem):
    """Parse the first certificate of a PEM text (str or bytes).

    Raises:
        ValueError: no certificate there.
    """
    for kind, _, der in _pem_blocks(cert_pem):
        if kind == 'CERTIFICATE':
            return x509.Certificate.load(der)
    raise ValueError('no CERTIFICATE in the PEM text')


def names_not_covered(cert, names):
    """Return the ``names`` (DNS names or IP addresses) that ``cert``'s subjectAltName does not
    cover, in their order.

    DNS names match case-insensitively, a wildcard only as the whole leftmost label and for
    exactly one label (RFC 6125 6.4.3, as OpenSSL's hostname check does). The subject
    commonName is never used: clients that check names use the subjectAltName when there is one,
    and Go's TLS ignores the commonName altogether.
    """
    dns, ips = [], set()
    for general_name in cert.subject_alt_name_value or ():
        if general_name.name == 'dns_name':
            dns.append(general_name.native.lower().rstrip('.'))
        elif general_name.name == 'ip_address':
            ips.add(_address(general_name.native))
    missing = []
    for name in names:
        address = _address(name)
        if address is not None:
            covered = address in ips
        else:
            covered = any(_dns_match(pattern, name.lower().rstrip('.')) for pattern in dns)
        if not covered:
            missing.append(name)
    return missing


def _dns_match(pattern, name):
    if pattern == name:
        return True
    if not pattern.startswith('*.'):
        return False
    head, _, rest = name.partition('.')
    return bool(head) and rest == pattern[2:] and '*' not in rest


def _address(text):
    """The IP address in ``text`` (an asn1crypto IP SAN may carry a ``/mask``), or None."""
    try:
        return ipaddress.ip_address(text.split('/')[0])
    except ValueError:
        return None


def _pem_blocks(text):
    if isinstance(text, str):
        text = text.encode('ascii', 'replace')
    if not pem.detect(text):
        return []
    return list(pem.unarmor(text, multiple=True))


# The odd primes below 2000: a candidate divisible by one of them is no prime.
_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p ** 0.5) + 1, 2))]


def _prime(bits):
    """A random prime of ``bits`` bits (the top bit set, as python-rsa's own candidates)."""
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        if any(candidate % p == 0 for p in _SMALL_PRIMES):
            continue
        if rsa.prime.is_prime(candidate):
            return candidate


def _new_key(bits):
    """A new RSA key pair, as ``rsa.newkeys(bits)`` makes it but from :func:`_prime`'s primes."""
    p, q, e, d = rsa.key.gen_keys(bits, _prime, accurate=True, exponent=65537)
    n = p * q
    return rsa.PublicKey(n, e), rsa.PrivateKey(n, e, d, p, q)


def _public_key_info(public):
    return keys.PublicKeyInfo.wrap(keys.RSAPublicKey({'modulus': public.n, 'public_exponent': public.e}), 'rsa')


def _private_key_pem(private):
    pkcs1 = keys.RSAPrivateKey({
        'version': 'two-prime', 'modulus': private.n, 'public_exponent': private.e,
        'private_exponent': private.d, 'prime1': private.p, 'prime2': private.q,
        'exponent1': private.exp1, 'exponent2': private.exp2, 'coefficient': private.coef,
    })
    return pem.armor('PRIVATE KEY', keys.PrivateKeyInfo.wrap(pkcs1, 'rsa').dump()).decode('ascii')


def _load_rsa_private_key(key_pem):
    for kind, _, der in _pem_blocks(key_pem):
        if kind == 'PRIVATE KEY':
            info = keys.PrivateKeyInfo.load(der)
            if info.algorithm != 'rsa':
                raise ValueError('the CA key is not an RSA key')
            fields = info['private_key'].parsed
            break
        if kind == 'RSA PRIVATE KEY':
            fields = keys.RSAPrivateKey.load(der)
            break
    else:
        raise ValueError('no PRIVATE KEY in the PEM text')
    return rsa.PrivateKey(*(fields[f].native for f in
                            ('modulus', 'public_exponent', 'private_exponent', 'prime1', 'prime2')))


def _name(common_name):
    if not common_name or len(common_name) > MAX_COMMON_NAME:
        raise ValueError('a commonName has 1 to {} characters'.format(MAX_COMMON_NAME))
    return x509.Name.build({'common_name': common_name})


def _extension(kind, value, critical=False):
    return {'extn_id': kind, 'critical': critical, 'extn_value': value}


def _time(moment):
    moment = moment.astimezone(datetime.timezone.utc).replace(microsecond=0)
    return x509.Time(name='general_time' if moment >= _GENERALIZED_TIME_FROM else 'utc_time', value=moment)


def _signed(issuer, subject, spki, extensions, days, now, signing_key, not_after_cap=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_after = now + datetime.timedelta(days=days)
    if not_after_cap is not None:
        not_after = min(not_after, not_after_cap)
    algorithm = {'algorithm': 'sha256_rsa', 'parameters': None}
    tbs = x509.TbsCertificate({
        'version': 'v3',
        # Positive, at most 20 octets, unpredictable (RFC 5280 4.1.2.2; CA/B Forum: >= 64 bits).
        'serial_number': secrets.randbits(159) | 1,
        'signature': algorithm,
        'issuer': issuer,
        'validity': {'not_before': _time(now - BACKDATE), 'not_after': _time(not_after)},
        'subject': subject,
        'subject_public_key_info': spki,
        'extensions': extensions,
    })
    signature = rsa.sign(tbs.dump(), signing_key, 'SHA-256')
    cert = x509.Certificate({'tbs_certificate': tbs, 'signature_algorithm': algorithm,
                             'signature_value': signature})
    return pem.armor('CERTIFICATE', cert.dump()).decode('ascii')
