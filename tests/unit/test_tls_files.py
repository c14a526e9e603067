"""Validation of the operator's cert-file, key-file and ca-cert-file (lib/redis_k8s/tls_files.py),
on material the real ``openssl`` CLI makes: good and bad keys, other CAs, chains, expired and
not yet valid certificates (``openssl ca -startdate/-enddate``), and ``openssl verify``'s own
verdict beside ours."""

import datetime
import os

import pytest

from redis_k8s import certificates, tls_files
from tls_tools import openssl, write

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
ENDPOINTS = 'redis-k8s-endpoints.test.svc.cluster.local'
NAMES = ['redis-k8s-0.' + ENDPOINTS, 'redis-k8s-1.' + ENDPOINTS, 'redis-k8s', '127.215.0.1']
GOOD_SANS = 'DNS:*.{},DNS:redis-k8s,IP:127.215.0.1'.format(ENDPOINTS)
CA_EXTENSIONS = ('basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n'
                 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n')
CA_CONFIG = """[ca]
default_ca = local
[local]
database = index.txt
new_certs_dir = issued
serial = serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
"""


def stamp(moment):
    return moment.strftime('%Y%m%d%H%M%SZ')


class Maker:
    """Makes keys and certificates with ``openssl`` in one directory, named by ``name``."""

    def __init__(self, directory):
        self.dir = directory
        write(directory, 'ca.cnf', CA_CONFIG)
        write(directory, 'index.txt', '')
        write(directory, 'serial', '1000\n')
        os.mkdir(os.path.join(str(directory), 'issued'))

    def path(self, name):
        return os.path.join(str(self.dir), name)

    def read(self, name):
        with open(self.path(name), 'rb') as f:
            return f.read()

    def key(self, name, kind='rsa'):
        args = {'rsa': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
                'ec': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
                'ed25519': ['-algorithm', 'ED25519']}[kind]
        openssl(self.dir, 'genpkey', *args, '-out', name + '.key')
        return self.path(name + '.key')

    def certificate(self, name, issuer=None, cn=None, extensions='', kind='rsa', start=None, end=None):
        """Make ``name.key`` and ``name.pem``, signed by ``issuer``'s key (self-signed when None)."""
        self.key(name, kind)
        openssl(self.dir, 'req', '-new', '-key', name + '.key', '-subj', '/CN=' + (cn or name), '-out', name + '.csr')
        write(self.dir, name + '.ext', extensions)
        signer = ['-selfsign', '-keyfile', name + '.key'] if issuer is None else \
            ['-cert', issuer + '.pem', '-keyfile', issuer + '.key']
        openssl(self.dir, 'ca', '-batch', '-notext', '-config', 'ca.cnf', *signer, '-in', name + '.csr',
                '-out', name + '.pem', '-extfile', name + '.ext',
                '-startdate', stamp(start or NOW - datetime.timedelta(days=1)),
                '-enddate', stamp(end or NOW + datetime.timedelta(days=30)))
        return self.path(name + '.pem')

    def ca(self, name, issuer=None, cn=None, kind='rsa', **dates):
        return self.certificate(name, issuer, cn, CA_EXTENSIONS, kind, **dates)

    def server(self, name, issuer, sans=GOOD_SANS, purposes='serverAuth,clientAuth', kind='rsa', **dates):
        extensions = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
        extensions += 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n'
        if purposes:
            extensions += 'extendedKeyUsage={}\n'.format(purposes)
        if sans:
            extensions += 'subjectAltName={}\n'.format(sans)
        return self.certificate(name, issuer, None, extensions, kind, **dates)

    def verifies(self, cert, ca, untrusted=None):
        """``openssl verify``'s verdict (its time is now, not NOW: the dates here allow both)."""
        extra = ['-untrusted', self.path(untrusted)] if untrusted else []
        return openssl(self.dir, 'verify', '-CAfile', self.path(ca), *extra, self.path(cert), check=False).returncode == 0


@pytest.fixture(scope='module')
def made(tmp_path_factory):
    m = Maker(tmp_path_factory.mktemp('tls-files'))
    m.ca('root', cn='Operator Root CA', start=NOW - datetime.timedelta(days=90), end=NOW + datetime.timedelta(days=90))
    m.server('server', 'root')
    m.ca('other', cn='Another CA')
    m.ca('twin', cn='Operator Root CA')  # the root's name, another key
    m.server('by_twin', 'twin')
    m.server('ec_server', 'root', kind='ec')
    m.ca('ec_root', cn='EC Root CA', kind='ec')
    m.server('by_ec_root', 'ec_root', kind='ec')
    m.ca('intermediate', 'root', cn='Operator Intermediate CA')
    m.server('via_intermediate', 'intermediate')
    m.server('expired', 'root', start=NOW - datetime.timedelta(days=60), end=NOW - datetime.timedelta(days=30))
    m.server('future', 'root', start=NOW + datetime.timedelta(days=30), end=NOW + datetime.timedelta(days=60))
    m.ca('expired_root', cn='Expired Root CA', start=NOW - datetime.timedelta(days=60), end=NOW - datetime.timedelta(days=1))
    m.server('by_expired_root', 'expired_root')
    m.server('server_only', 'root', purposes='serverAuth')
    m.server('no_purposes', 'root', purposes='')
    m.server('no_sans', 'root', sans='')
    m.server('pod0_only', 'root', sans='DNS:redis-k8s-0.{},DNS:redis-k8s'.format(ENDPOINTS))
    m.key('ed', 'ed25519')
    return m


def check(made, cert='server.pem', key='server.key', ca='root.pem', names=NAMES, now=NOW):
    def contents(name):
        return None if name is None else (made.read(name) if isinstance(name, str) else name)
    return tls_files.problem(contents(cert), contents(key), contents(ca), names, now=now)


def test_nothing_attached_is_no_problem(made):
    assert check(made, None, None, None) is None
    assert check(made, b'', b'\n', b'  \n') is None


def test_good_files_are_no_problem_and_openssl_agrees(made):
    assert made.verifies('server.pem', 'root.pem')
    assert check(made) is None
    assert check(made, names=()) is None


@pytest.mark.parametrize('cert, key, ca, message', [
    ('server.pem', None, None, 'cert-file given without key-file and ca-cert-file'),
    (None, 'server.key', None, 'key-file given without cert-file and ca-cert-file'),
    (None, None, 'root.pem', 'ca-cert-file given without cert-file and key-file'),
    ('server.pem', 'server.key', None, 'cert-file and key-file given without ca-cert-file'),
    ('server.pem', None, 'root.pem', 'cert-file and ca-cert-file given without key-file'),
    (None, 'server.key', 'root.pem', 'key-file and ca-cert-file given without cert-file'),
    ('server.pem', b'', 'root.pem', 'cert-file and ca-cert-file given without key-file'),
])
def test_the_three_files_come_together(made, cert, key, ca, message):
    assert check(made, cert, key, ca) == message + ': attach cert-file, key-file and ca-cert-file together'


def test_a_file_that_is_not_pem_is_named(made):
    der = openssl(made.dir, 'x509', '-in', 'server.pem', '-outform', 'DER', '-out', 'server.der')
    assert der.returncode == 0
    message = '{} is not PEM (no "-----BEGIN" line; DER files must be converted)'
    assert check(made, cert='server.der') == message.format('cert-file')
    assert check(made, key=b'hello') == message.format('key-file')
    assert check(made, ca=b'\x00\x01binary') == message.format('ca-cert-file')


def test_a_file_holding_the_wrong_kind_of_pem_says_what_it_holds(made):
    assert check(made, cert='server.key') == 'cert-file holds no certificate (found PRIVATE KEY)'
    assert check(made, key='server.pem') == 'key-file holds no private key (found CERTIFICATE)'
    assert check(made, ca='root.key') == 'ca-cert-file holds no certificate (found PRIVATE KEY)'
    csr = made.read('server.csr')
    assert check(made, ca=csr) == 'ca-cert-file holds no certificate (found CERTIFICATE REQUEST)'


def test_a_certificate_block_that_is_not_x509_is_named(made):
    garbage = b'-----BEGIN CERTIFICATE-----\nMIIBAAAAAAAA\n-----END CERTIFICATE-----\n'
    assert check(made, cert=garbage).startswith('cert-file has a CERTIFICATE that is not a valid X.509 certificate (')


def test_a_key_block_that_does_not_parse_is_named(made):
    garbage = b'-----BEGIN PRIVATE KEY-----\nMIIBAAAAAAAA\n-----END PRIVATE KEY-----\n'
    assert check(made, key=garbage).startswith('key-file has a PRIVATE KEY that does not parse (')


def test_an_encrypted_key_is_refused_either_way_openssl_writes_it(made):
    openssl(made.dir, 'pkey', '-in', 'server.key', '-aes256', '-passout', 'pass:secret', '-out', 'pkcs8-enc.key')
    openssl(made.dir, 'rsa', '-in', 'server.key', '-aes256', '-passout', 'pass:secret', '-traditional', '-out', 'pkcs1-enc.key')
    assert made.read('pkcs8-enc.key').startswith(b'-----BEGIN ENCRYPTED PRIVATE KEY-----')
    assert b'Proc-Type: 4,ENCRYPTED' in made.read('pkcs1-enc.key')
    for key in ('pkcs8-enc.key', 'pkcs1-enc.key'):
        assert check(made, key=key) == 'key-file is encrypted: attach the key without a passphrase'


def test_rsa_keys_match_in_pkcs8_and_pkcs1_form(made):
    openssl(made.dir, 'rsa', '-in', 'server.key', '-traditional', '-out', 'server-pkcs1.key')
    assert made.read('server-pkcs1.key').startswith(b'-----BEGIN RSA PRIVATE KEY-----')
    assert check(made, key='server-pkcs1.key') is None


def test_ec_keys_match_in_pkcs8_and_sec1_form(made):
    assert made.read('ec_server.key').startswith(b'-----BEGIN PRIVATE KEY-----')
    assert check(made, 'ec_server.pem', 'ec_server.key') is None
    openssl(made.dir, 'ec', '-in', 'ec_server.key', '-out', 'ec_server-sec1.key')
    openssl(made.dir, 'ecparam', '-name', 'prime256v1', '-out', 'params.pem')
    sec1 = made.read('ec_server-sec1.key')
    assert sec1.startswith(b'-----BEGIN EC PRIVATE KEY-----')
    assert check(made, 'ec_server.pem', sec1) is None
    # `openssl ecparam -genkey` writes the curve's parameters first.
    assert check(made, 'ec_server.pem', made.read('params.pem') + sec1) is None


def test_a_key_of_another_certificate_is_refused(made):
    expected = 'key-file does not match cert-file: it is the key of another certificate'
    assert check(made, key='other.key') == expected
    assert check(made, 'ec_server.pem', 'by_ec_root.key') == expected
    assert check(made, key='ec_server.key') == \
        "key-file does not match cert-file: the key is EC, the certificate's key is RSA"
    assert check(made, 'ec_server.pem', 'server.key') == \
        "key-file does not match cert-file: the key is RSA, the certificate's key is EC"


def test_a_damaged_rsa_key_is_refused(made):
    from asn1crypto import keys, pem
    _, _, der = pem.unarmor(made.read('server.key'))
    info = keys.PrivateKeyInfo.load(der)
    inner = info['private_key'].parsed
    inner['prime1'] = inner['prime1'].native + 2
    damaged = pem.armor('RSA PRIVATE KEY', inner.dump(force=True))
    assert check(made, key=damaged) == 'key-file is a damaged RSA key (its primes do not make its modulus)'


def test_an_ec_key_without_its_public_key_cannot_be_matched(made):
    openssl(made.dir, 'ec', '-in', 'ec_server.key', '-no_public', '-out', 'ec-no-public.key')
    assert check(made, 'ec_server.pem', 'ec-no-public.key') == (
        'key-file is an EC key without its public key, so it cannot be matched with cert-file: '
        'export it again with `openssl ec`')


def test_keys_other_than_rsa_and_ec_are_refused(made):
    assert check(made, key='ed.key') == 'key-file is an ED25519 key: only RSA and EC keys are supported'


def when(moment):
    return moment.strftime('%Y-%m-%d %H:%M:%S UTC')


def test_an_expired_certificate_says_when_it_expired(made):
    assert not made.verifies('expired.pem', 'root.pem')
    assert check(made, 'expired.pem', 'expired.key') == 'cert-file expired at {} (valid from {})'.format(
        when(NOW - datetime.timedelta(days=30)), when(NOW - datetime.timedelta(days=60)))


def test_a_certificate_not_valid_yet_says_from_when(made):
    assert not made.verifies('future.pem', 'root.pem')
    assert check(made, 'future.pem', 'future.key') == 'cert-file is not valid yet: valid from {} to {}'.format(
        when(NOW + datetime.timedelta(days=30)), when(NOW + datetime.timedelta(days=60)))


def test_validity_is_judged_at_the_time_given(made):
    assert check(made, 'expired.pem', 'expired.key', now=NOW - datetime.timedelta(days=45)) is None
    assert check(made, now=NOW + datetime.timedelta(days=31)).startswith('cert-file expired at ')


def test_an_expired_ca_certificate_is_named(made):
    assert not made.verifies('by_expired_root.pem', 'expired_root.pem')
    assert check(made, 'by_expired_root.pem', 'by_expired_root.key', 'expired_root.pem') == (
        "ca-cert-file's certificate Common Name: Expired Root CA expired at {} (valid from {})".format(
            when(NOW - datetime.timedelta(days=1)), when(NOW - datetime.timedelta(days=60))))


def test_a_certificate_another_ca_signed_is_refused_naming_both(made):
    assert not made.verifies('server.pem', 'other.pem')
    assert check(made, ca='other.pem') == ('cert-file is not signed by ca-cert-file (issuer Common Name: '
                                           'Operator Root CA; ca-cert-file holds Common Name: Another CA)')


def test_a_ca_with_the_issuers_name_but_another_key_is_caught_by_the_signature(made):
    assert not made.verifies('by_twin.pem', 'root.pem')
    assert check(made, 'by_twin.pem', 'by_twin.key') == ('cert-file is not signed by ca-cert-file (issuer '
                                                         'Common Name: Operator Root CA; ca-cert-file holds '
                                                         'Common Name: Operator Root CA)')


def test_a_ca_file_of_several_certificates_trusts_each(made):
    bundle = made.read('other.pem') + made.read('root.pem')
    assert check(made, ca=bundle) is None
    assert check(made, 'by_twin.pem', 'by_twin.key', bundle).startswith('cert-file is not signed by ca-cert-file')


def test_an_ec_key_signed_by_an_rsa_ca_is_verified(made):
    assert made.verifies('ec_server.pem', 'root.pem')
    assert check(made, 'ec_server.pem', 'ec_server.key') is None
    assert check(made, 'ec_server.pem', 'ec_server.key', 'other.pem').startswith('cert-file is not signed by')


def test_an_ec_ca_is_matched_by_names_and_key_identifiers(made):
    assert made.verifies('by_ec_root.pem', 'ec_root.pem')
    assert check(made, 'by_ec_root.pem', 'by_ec_root.key', 'ec_root.pem') is None
    assert check(made, 'by_ec_root.pem', 'by_ec_root.key', 'root.pem').startswith('cert-file is not signed by')


def test_a_chain_in_the_cert_file_leads_to_the_ca(made):
    chain = made.read('via_intermediate.pem') + made.read('intermediate.pem')
    assert made.verifies('via_intermediate.pem', 'root.pem', untrusted='intermediate.pem')
    assert check(made, chain, 'via_intermediate.key') is None
    assert check(made, 'via_intermediate.pem', 'via_intermediate.key') == (
        'cert-file is not signed by ca-cert-file (issuer Common Name: Operator Intermediate CA; '
        'ca-cert-file holds Common Name: Operator Root CA)')
    # The intermediate itself may be what the operator trusts.
    assert check(made, 'via_intermediate.pem', 'via_intermediate.key', 'intermediate.pem') is None


def test_a_ca_file_holding_a_server_certificate_is_refused(made):
    assert check(made, ca='server.pem') == \
        "ca-cert-file's certificate Common Name: server is not a CA (basicConstraints CA:FALSE)"


def test_a_certificate_only_for_servers_is_refused_as_redis_presents_it_as_a_client_too(made):
    assert check(made, 'server_only.pem', 'server_only.key') == (
        'cert-file is not usable for clientAuth (extendedKeyUsage): Redis presents it as server and as '
        'client (replication, sentinels)')
    assert check(made, 'no_purposes.pem', 'no_purposes.key') is None


def test_names_not_covered_are_listed_with_what_the_certificate_has(made):
    assert check(made, 'pod0_only.pem', 'pod0_only.key') == (
        'cert-file does not cover redis-k8s-1.{0}, 127.215.0.1 (its subjectAltName has '
        'DNS:redis-k8s-0.{0}, DNS:redis-k8s)'.format(ENDPOINTS))
    assert check(made, names=NAMES + ['a.b.' + ENDPOINTS, '10.0.0.1']) == (
        'cert-file does not cover a.b.{0}, 10.0.0.1 (its subjectAltName has DNS:*.{0}, DNS:redis-k8s, '
        'IP:127.215.0.1)'.format(ENDPOINTS))
    assert check(made, 'no_sans.pem', 'no_sans.key') == \
        'cert-file does not cover {} (it has no subjectAltName)'.format(', '.join(NAMES))


def test_the_leaders_own_certificates_pass(made):
    ca_cert, ca_key = certificates.new_ca('leader CA', 30, key_bits=1024)
    cert, key = certificates.issue(ca_cert, ca_key, 'redis-k8s-0', NAMES[:3], NAMES[3:], 30, key_bits=1024)
    assert tls_files.problem(cert.encode(), key.encode(), ca_cert.encode(), NAMES) is None
    assert tls_files.problem(cert, key, ca_cert, NAMES) is None  # text works too


def test_no_message_ever_holds_key_material(made):
    key_body = made.read('server.key').split(b'\n')[1].decode()
    messages = [check(made, key='other.key'), check(made, cert='server.key'), check(made, ca='root.key'),
                check(made, key=made.read('server.key')[:200] + b'\n-----END PRIVATE KEY-----\n')]
    assert all(m and key_body[:20] not in m for m in messages)
