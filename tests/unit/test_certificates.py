"""The leader's CA and pod certificates (lib/redis_k8s/certificates.py), checked by the real
``openssl`` CLI and by real TLS handshakes with redis-server 7.0 (bare servers on 127.215.0.x)."""

import datetime
import socket
import ssl
import time

import pytest
import redis

from redis_k8s import certificates
from tls_tools import openssl, start_tls_redis, stop, write

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
HOST, REPLICA_HOST = '127.215.0.1', '127.215.0.2'
MASTER_PORT, REPLICA_PORT = 27001, 27002
POD0 = 'redis-k8s-0.redis-k8s-endpoints.test.svc.cluster.local'
POD0_NAMES = [POD0, 'redis-k8s-0.redis-k8s-endpoints', 'redis-k8s']
POD1_NAMES = ['redis-k8s-1.redis-k8s-endpoints.test.svc.cluster.local', 'redis-k8s']
SMALL = 1024  # for certificates whose key strength nothing checks: faster to make


@pytest.fixture(scope='module')
def material(tmp_path_factory):
    """A CA and two pods' certificates made the way the leader makes them, as files."""
    directory = tmp_path_factory.mktemp('certificates')
    ca_cert, ca_key = certificates.new_ca('redis-k8s test CA', 3650, now=NOW)
    pod0 = certificates.issue(ca_cert, ca_key, 'redis-k8s-0', POD0_NAMES, [HOST], 365, now=NOW)
    pod1 = certificates.issue(ca_cert, ca_key, 'redis-k8s-1', POD1_NAMES, [REPLICA_HOST], 365, now=NOW)
    files = {'dir': directory, 'ca_cert_pem': ca_cert, 'ca_key_pem': ca_key,
             'pod0_cert_pem': pod0[0], 'pod0_key_pem': pod0[1]}
    for name, data in [('ca.pem', ca_cert), ('ca.key', ca_key), ('pod0.pem', pod0[0]),
                       ('pod0.key', pod0[1]), ('pod1.pem', pod1[0]), ('pod1.key', pod1[1])]:
        files[name] = write(directory, name, data)
    return files


def text_of(material, name):
    return openssl(material['dir'], 'x509', '-in', material[name], '-noout', '-text').stdout


def extension(text, title):
    """The line after ``title`` in ``openssl x509 -text`` output."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if title in line)
    return lines[index + 1].strip()


def test_the_ca_is_a_self_signed_ca_certificate_openssl_verifies(material):
    assert openssl(material['dir'], 'verify', '-CAfile', material['ca.pem'], material['ca.pem']).stdout.endswith(': OK\n')
    text = text_of(material, 'ca.pem')
    assert 'Version: 3 (0x2)' in text
    assert 'Subject: CN = redis-k8s test CA' in text and 'Issuer: CN = redis-k8s test CA' in text
    assert 'X509v3 Basic Constraints: critical' in text
    assert extension(text, 'X509v3 Basic Constraints') == 'CA:TRUE, pathlen:0'
    assert 'X509v3 Key Usage: critical' in text
    assert extension(text, 'X509v3 Key Usage') == 'Digital Signature, Certificate Sign, CRL Sign'
    assert extension(text, 'Subject Key Identifier') == extension(text, 'Authority Key Identifier')
    assert text.count('sha256WithRSAEncryption') == 2


@pytest.mark.parametrize('key', ['ca.key', 'pod0.key'])
def test_keys_are_unencrypted_pkcs8_rsa_2048_with_e_65537_that_openssl_checks(material, key):
    with open(material[key]) as f:
        pem_text = f.read()
    assert pem_text.startswith('-----BEGIN PRIVATE KEY-----\n')
    assert openssl(material['dir'], 'rsa', '-check', '-noout', '-in', material[key]).stdout == 'RSA key ok\n'
    text = openssl(material['dir'], 'rsa', '-noout', '-text', '-in', material[key]).stdout
    assert 'Private-Key: (2048 bit, 2 primes)' in text
    assert 'publicExponent: 65537 (0x10001)' in text


@pytest.mark.parametrize('cert, key', [('ca.pem', 'ca.key'), ('pod0.pem', 'pod0.key'), ('pod1.pem', 'pod1.key')])
def test_each_key_is_the_key_of_its_certificate(material, cert, key):
    of_cert = openssl(material['dir'], 'x509', '-noout', '-modulus', '-in', material[cert]).stdout
    of_key = openssl(material['dir'], 'rsa', '-noout', '-modulus', '-in', material[key]).stdout
    assert of_cert == of_key


@pytest.mark.parametrize('purpose', ['sslserver', 'sslclient'])
def test_pod_certificates_verify_against_the_ca_for_server_and_client_use(material, purpose):
    for cert in ('pod0.pem', 'pod1.pem'):
        out = openssl(material['dir'], 'verify', '-purpose', purpose, '-CAfile', material['ca.pem'], material[cert])
        assert out.stdout == '{}: OK\n'.format(material[cert])


def test_a_pod_certificate_is_an_end_entity_for_server_and_client_signed_by_the_ca(material):
    text = text_of(material, 'pod0.pem')
    assert 'Subject: CN = redis-k8s-0' in text and 'Issuer: CN = redis-k8s test CA' in text
    assert 'X509v3 Basic Constraints: critical' in text
    assert extension(text, 'X509v3 Basic Constraints') == 'CA:FALSE'
    assert 'X509v3 Key Usage: critical' in text
    assert extension(text, 'X509v3 Key Usage') == 'Digital Signature, Key Encipherment'
    assert extension(text, 'Extended Key Usage') == 'TLS Web Server Authentication, TLS Web Client Authentication'
    assert extension(text, 'Subject Alternative Name') == ', '.join(
        ['DNS:' + n for n in POD0_NAMES] + ['IP Address:' + HOST])
    assert extension(text, 'Authority Key Identifier') == extension(text_of(material, 'ca.pem'), 'Subject Key Identifier')
    assert extension(text, 'Subject Key Identifier') != extension(text, 'Authority Key Identifier')


def test_openssl_matches_every_name_given_and_no_other(material):
    for name in POD0_NAMES:
        out = openssl(material['dir'], 'x509', '-noout', '-in', material['pod0.pem'], '-checkhost', name).stdout
        assert out == 'Hostname {} does match certificate\n'.format(name)
    out = openssl(material['dir'], 'x509', '-noout', '-in', material['pod0.pem'], '-checkip', HOST).stdout
    assert out == 'IP {} does match certificate\n'.format(HOST)
    for name in ['redis-k8s-1', 'redis-k8s-0.redis-k8s-endpoints.test.svc', 'localhost']:
        out = openssl(material['dir'], 'x509', '-noout', '-in', material['pod0.pem'], '-checkhost', name).stdout
        assert 'does NOT match' in out
    out = openssl(material['dir'], 'x509', '-noout', '-in', material['pod0.pem'], '-checkip', REPLICA_HOST).stdout
    assert 'does NOT match' in out


def test_primes_have_the_bits_asked_and_openssl_finds_them_prime(tmp_path):
    assert certificates._SMALL_PRIMES == [n for n in range(3, 2000) if all(n % d for d in range(2, n))]
    for bits in (256, 512):
        prime = certificates._prime(bits)
        assert prime.bit_length() == bits
        assert openssl(tmp_path, 'prime', str(prime)).stdout.endswith(') is prime\n')
    assert openssl(tmp_path, 'prime', str(prime * 3)).stdout.endswith(') is not prime\n')


def test_validity_starts_an_hour_early_and_lasts_the_days_asked(material):
    for name, days in [('ca_cert_pem', 3650), ('pod0_cert_pem', 365)]:
        cert = certificates.load_certificate(material[name])
        assert cert.not_valid_before == NOW - datetime.timedelta(hours=1)
        assert cert.not_valid_after == NOW + datetime.timedelta(days=days)
        assert certificates.expires_at(material[name]) == NOW + datetime.timedelta(days=days)
    end = openssl(material['dir'], 'x509', '-noout', '-enddate', '-in', material['pod0.pem']).stdout
    assert end == 'notAfter={}\n'.format((NOW + datetime.timedelta(days=365)).strftime('%b %e %H:%M:%S %Y GMT'))


def test_serial_numbers_are_positive_distinct_and_at_most_20_octets(material):
    serials = [certificates.load_certificate(material[n]).serial_number for n in ('ca_cert_pem', 'pod0_cert_pem')]
    serials.append(certificates.load_certificate(
        certificates.issue(material['ca_cert_pem'], material['ca_key_pem'], 'x', ['x'], [], 1, key_bits=SMALL)[0]).serial_number)
    assert len(set(serials)) == 3
    assert all(0 < s < 2 ** 159 for s in serials)


def test_a_certificate_never_outlives_its_ca(material):
    cert, _ = certificates.issue(material['ca_cert_pem'], material['ca_key_pem'], 'x', ['x'], [], 36500,
                                 now=NOW, key_bits=SMALL)
    assert certificates.expires_at(cert) == certificates.expires_at(material['ca_cert_pem'])


def test_issue_accepts_a_pkcs1_ca_key_as_openssl_writes_it(material):
    pkcs1 = openssl(material['dir'], 'rsa', '-traditional', '-in', material['ca.key']).stdout
    assert pkcs1.startswith('-----BEGIN RSA PRIVATE KEY-----')
    cert, _ = certificates.issue(material['ca_cert_pem'], pkcs1, 'x', ['x'], [], 1, key_bits=SMALL)
    path = write(material['dir'], 'pkcs1-issued.pem', cert)
    assert openssl(material['dir'], 'verify', '-CAfile', material['ca.pem'], path).stdout.endswith(': OK\n')


@pytest.mark.parametrize('change, message', [
    (dict(ca_key_pem='pod0_key_pem'), 'not the key of the CA certificate'),
    (dict(dns_names=[], ip_addresses=[]), 'at least one DNS name or IP address'),
    (dict(ip_addresses=['10.0.0.300']), 'does not appear to be an IPv4 or IPv6 address'),
    (dict(common_name='x' * 65), 'commonName has 1 to 64 characters'),
    (dict(common_name=''), 'commonName has 1 to 64 characters'),
])
def test_issue_refuses_what_would_make_a_useless_certificate(material, change, message):
    args = dict(ca_cert_pem=material['ca_cert_pem'], ca_key_pem=material['ca_key_pem'], common_name='x',
                dns_names=['x'], ip_addresses=[], days=1, key_bits=SMALL)
    args.update({k: material[v] if k == 'ca_key_pem' else v for k, v in change.items()})
    with pytest.raises(ValueError, match=message):
        certificates.issue(**args)


def test_issue_refuses_a_ca_key_that_is_no_key():
    with pytest.raises(ValueError, match='no PRIVATE KEY'):
        certificates._load_rsa_private_key('not a key')


def test_dates_from_2050_are_generalized_time_as_rfc_5280_wants(tmp_path):
    then = datetime.datetime(2049, 12, 31, 12, 0, tzinfo=datetime.timezone.utc)
    cert, _ = certificates.new_ca('later', 10, now=then, key_bits=SMALL)
    path = write(tmp_path, 'later.pem', cert)
    parsed = openssl(tmp_path, 'asn1parse', '-in', path).stdout
    assert 'prim: UTCTIME           :491231110000Z' in parsed
    assert 'prim: GENERALIZEDTIME   :20500110120000Z' in parsed
    assert certificates.expires_at(cert) == then + datetime.timedelta(days=10)


def test_fingerprint_is_the_sha256_openssl_shows(material):
    out = openssl(material['dir'], 'x509', '-noout', '-fingerprint', '-sha256', '-in', material['pod0.pem']).stdout
    assert out.split('=', 1)[1].strip().replace(':', '').lower() == certificates.fingerprint(material['pod0_cert_pem'])


@pytest.fixture(scope='module')
def ninety_days(material):
    """A certificate valid for 90 days from NOW (and from an hour before)."""
    return certificates.issue(material['ca_cert_pem'], material['ca_key_pem'], 'redis-k8s-0', POD0_NAMES,
                              [HOST, '::1'], 90, now=NOW, key_bits=SMALL)[0]


def test_a_fresh_certificate_covering_its_names_needs_no_renewal(ninety_days):
    assert certificates.needs_renewal(ninety_days, NOW, POD0_NAMES + [HOST]) is None
    # Names compare as DNS does and addresses as addresses.
    assert certificates.needs_renewal(ninety_days, NOW, ['REDIS-K8S.', '0:0::1']) is None
    assert certificates.needs_renewal(ninety_days, NOW) is None


def test_renewal_is_due_once_less_than_a_third_of_its_life_is_left(ninety_days):
    life = datetime.timedelta(days=90, hours=1)
    end = NOW + datetime.timedelta(days=90)
    assert certificates.needs_renewal(ninety_days, end - life / 3 - datetime.timedelta(seconds=1)) is None
    due = certificates.needs_renewal(ninety_days, end - life / 3)
    assert due == 'expires at {} (less than 33% of its life left)'.format(end)
    assert certificates.needs_renewal(ninety_days, end + datetime.timedelta(days=1)) == due
    assert certificates.needs_renewal(ninety_days, end - life / 2, life_left=0.5) == \
        'expires at {} (less than 50% of its life left)'.format(end)


def test_renewal_is_due_for_a_certificate_not_valid_yet(ninety_days):
    start = NOW - datetime.timedelta(hours=1)
    assert certificates.needs_renewal(ninety_days, start - datetime.timedelta(seconds=1)) == \
        'is not valid before {}'.format(start)


def test_renewal_is_due_when_a_name_is_no_longer_covered(ninety_days):
    assert certificates.needs_renewal(ninety_days, NOW, POD0_NAMES + POD1_NAMES + ['10.1.2.3', HOST]) == \
        'does not cover {}, 10.1.2.3'.format(POD1_NAMES[0])


def test_names_match_as_openssl_matches_them_wildcards_included(tmp_path):
    openssl(tmp_path, 'req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-keyout', 'w.key', '-out', 'w.pem',
            '-subj', '/CN=ignored.example', '-days', '1',
            '-addext', 'subjectAltName=DNS:*.redis-k8s-endpoints.test.svc,DNS:Exact.Example,IP:10.0.0.1,IP:::1')
    with open(tmp_path / 'w.pem') as f:
        cert = certificates.load_certificate(f.read())
    for name in ['a.redis-k8s-endpoints.test.svc', 'a.b.redis-k8s-endpoints.test.svc', 'redis-k8s-endpoints.test.svc',
                 'exact.example', 'EXACT.EXAMPLE', 'x.exact.example', 'ignored.example', 'other.example']:
        ours = not certificates.names_not_covered(cert, [name])
        theirs = openssl(tmp_path, 'x509', '-noout', '-in', 'w.pem', '-checkhost', name).stdout
        assert ours == ('does match' in theirs), name
    for address in ['10.0.0.1', '10.0.0.2', '::1', '::2']:
        ours = not certificates.names_not_covered(cert, [address])
        theirs = openssl(tmp_path, 'x509', '-noout', '-in', 'w.pem', '-checkip', address).stdout
        assert ours == ('does match' in theirs), address


def test_a_certificate_without_alt_names_covers_nothing_not_even_its_common_name(tmp_path):
    openssl(tmp_path, 'req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-keyout', 'n.key', '-out', 'n.pem',
            '-subj', '/CN=redis-k8s', '-days', '1')
    with open(tmp_path / 'n.pem') as f:
        cert = f.read()
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    assert certificates.needs_renewal(cert, now, ['redis-k8s']) == 'does not cover redis-k8s'


def test_no_certificate_in_the_text_is_an_error():
    with pytest.raises(ValueError, match='no CERTIFICATE'):
        certificates.expires_at('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')
    with pytest.raises(ValueError, match='no CERTIFICATE'):
        certificates.expires_at('')


def command(name, *args):
    """A RESP request."""
    parts = [name] + [str(a) for a in args]
    return ''.join(['*{}\r\n'.format(len(parts))] + ['${}\r\n{}\r\n'.format(len(p), p) for p in parts]).encode()


def test_redis_serves_tls_with_them_and_clients_verify_the_ca_and_names(material):
    server = start_tls_redis(material['dir'], HOST, MASTER_PORT, material['pod0.pem'], material['pod0.key'],
                             material['ca.pem'], ['--tls-auth-clients', 'optional'])
    try:
        # redis-py reaches the pod by its address (an IP SAN), checking it.
        client = redis.Redis(host=HOST, port=MASTER_PORT, ssl=True, ssl_ca_certs=material['ca.pem'],
                             ssl_cert_reqs='required', ssl_check_hostname=True, socket_timeout=5)
        assert client.set('greeting', 'hello') is True
        assert client.get('greeting') == b'hello'
        # A client reaching it by a DNS name (the pod's FQDN) checks that name.
        context = ssl.create_default_context(cafile=material['ca.pem'])
        with socket.create_connection((HOST, MASTER_PORT), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname=POD0) as tls:
                tls.sendall(command('GET', 'greeting'))
                assert tls.recv(100) == b'$5\r\nhello\r\n'
        # A name the certificate does not have fails the handshake...
        with socket.create_connection((HOST, MASTER_PORT), timeout=5) as sock:
            with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
                context.wrap_socket(sock, server_hostname='redis-k8s-1.redis-k8s-endpoints')
        # ...as does a client trusting another CA...
        other_ca, _ = certificates.new_ca('another CA', 1, key_bits=SMALL)
        other = ssl.create_default_context(cadata=other_ca)
        with socket.create_connection((HOST, MASTER_PORT), timeout=5) as sock:
            with pytest.raises(ssl.SSLCertVerificationError, match='certificate verify failed'):
                other.wrap_socket(sock, server_hostname=POD0)
        # ...and a client without TLS gets nothing.
        with pytest.raises(redis.ConnectionError):
            redis.Redis(host=HOST, port=MASTER_PORT, socket_timeout=5).ping()
    finally:
        stop(server)


def test_a_replica_replicates_over_tls_presenting_its_certificate_to_a_master_that_demands_one(material):
    server = start_tls_redis(material['dir'], HOST, MASTER_PORT, material['pod0.pem'], material['pod0.key'],
                             material['ca.pem'], ['--tls-auth-clients', 'yes'])
    try:
        replica = start_tls_redis(material['dir'], REPLICA_HOST, REPLICA_PORT, material['pod1.pem'],
                                  material['pod1.key'], material['ca.pem'],
                                  ['--tls-auth-clients', 'yes', '--tls-replication', 'yes',
                                   '--replicaof', HOST, str(MASTER_PORT)])
        try:
            def connect(host, port, cert, key):
                return redis.Redis(host=host, port=port, ssl=True, ssl_ca_certs=material['ca.pem'],
                                   ssl_certfile=material[cert], ssl_keyfile=material[key],
                                   ssl_check_hostname=True, socket_timeout=5)
            master = connect(HOST, MASTER_PORT, 'pod1.pem', 'pod1.key')
            copy = connect(REPLICA_HOST, REPLICA_PORT, 'pod0.pem', 'pod0.key')
            master.set('replicated', 'yes')
            deadline = time.monotonic() + 20
            while copy.get('replicated') != b'yes':
                assert time.monotonic() < deadline, copy.info('replication')
                time.sleep(0.2)
            assert copy.info('replication')['master_link_status'] == 'up'
            assert master.info('replication')['connected_slaves'] == 1
        finally:
            stop(replica)
    finally:
        stop(server)


def test_config_set_with_unchanged_paths_reloads_the_files_and_a_key_that_does_not_match_is_refused(material):
    """The renewal plan (docs/tls.md) rests on this: Redis 7.0 re-reads the files on CONFIG SET
    even when the paths are the same, and keeps serving the old pair when the new one is bad."""
    directory = material['dir']
    cert_path = write(directory, 'live.pem', material['pod0_cert_pem'])
    key_path = write(directory, 'live.key', material['pod0_key_pem'])
    with open(material['pod1.pem']) as f:
        pod1_cert = f.read()
    with open(material['pod1.key']) as f:
        pod1_key = f.read()
    server = start_tls_redis(directory, HOST, MASTER_PORT, cert_path, key_path, material['ca.pem'],
                             ['--tls-auth-clients', 'no'])

    def served():
        context = ssl.create_default_context(cafile=material['ca.pem'])
        context.check_hostname = False
        with socket.create_connection((HOST, MASTER_PORT), timeout=5) as sock:
            with context.wrap_socket(sock) as tls:
                return certificates.fingerprint(ssl.DER_cert_to_PEM_cert(tls.getpeercert(True)))

    try:
        client = redis.Redis(host=HOST, port=MASTER_PORT, ssl=True, ssl_ca_certs=material['ca.pem'],
                             ssl_check_hostname=False, socket_timeout=5)
        assert served() == certificates.fingerprint(material['pod0_cert_pem'])
        write(directory, 'live.pem', pod1_cert)
        write(directory, 'live.key', pod1_key)
        assert served() == certificates.fingerprint(material['pod0_cert_pem'])  # files alone: nothing
        assert client.execute_command('CONFIG', 'SET', 'tls-cert-file', cert_path, 'tls-key-file', key_path) == b'OK'
        assert served() == certificates.fingerprint(pod1_cert)
        write(directory, 'live.key', material['pod0_key_pem'])
        with pytest.raises(redis.ResponseError, match='Unable to update TLS configuration'):
            client.execute_command('CONFIG', 'SET', 'tls-key-file', key_path)
        assert served() == certificates.fingerprint(pod1_cert)
    finally:
        stop(server)
