"""TLS (issue 12) on one cluster of three units deployed with ``enable-tls=true``, related to the
consumer charm.

The consumer writes and reads over TLS, verifying the server against the CA bundle the relation
gives and checking the host name; plain clients are refused on the redis and sentinel ports, and
TLS clients that do not trust the CA fail verification. Failover (planned and by crash) and a
graceful delete of the master's pod, under a write load over TLS, lose no acknowledged write (a
crash: a bounded number). Certificate files an operator attaches (made here with ``openssl``,
from a CA of their own) replace the generated ones under a write load: every server serves the
new certificate, nothing acknowledged is lost. Juju rolls every pod on an attach of new bytes
(the charm-modified version is a pod template annotation: localmodel/README.md), so the pods are
replaced one at a time meanwhile. Wrong files block with a message naming the file while the
pods keep serving the last good certificate, through the roll each attach brings. Switching TLS
off and on again (a config change: no roll) happens live under a write load, losing nothing and
restarting no redis (sentinels restart by design: they change mode only that way). The cases
share the cluster and run in order.

Assertions are about behaviour, never durations: timeouts only bound the waits.
"""

import base64
import datetime
import hashlib
import os
import socket
import ssl
import subprocess

import pytest
import redis
import yaml

from conftest import APP, CONSUMER
from redis_k8s import certificates
from testbed import deploy, faults
from testbed.load import WriteLoad

SUBNET = '127.84'
CONFIG = dict(deploy.FAST_FAILOVER, **{'enable-tls': 'true'})
# A Secret change reaches the pods after this many seconds (the kubelet's sync: up to a minute
# on a real cluster); shorter than the default so that each TLS step costs less test time.
VOLUME_SYNC_DELAY = 20
MODEL = 'functional'  # conftest's model name: the pods' DNS names carry it
DOMAIN = 'cluster.local'
PORT, SENTINEL_PORT = 6379, 26379
CRASH_LOSS_BOUND = faults.CRASH_LOSS_BOUND
ACTION_WAIT_S = 300
# A live switch or a new certificate: the Secret's sync, then one sentinel restart per hook (the
# next may be the update-status 60 s later).
SWITCH_TIMEOUT_S = 480


# --- what a TLS client sees -------------------------------------------------------------------

def pod_names(pod):
    """The DNS names a pod's certificate must cover (the Service's and loopback's aside)."""
    endpoints = '{}.{}-endpoints'.format(pod, APP)
    return [endpoints + suffix for suffix in
            ('.{}.svc.{}'.format(MODEL, DOMAIN), '', '.' + MODEL, '.{}.svc'.format(MODEL))]


SERVICE_NAMES = [APP, '{}.{}'.format(APP, MODEL), '{}.{}.svc'.format(APP, MODEL),
                 '{}.{}.svc.{}'.format(APP, MODEL, DOMAIN)]


def handshake(address, port, ca_path=None, server_hostname=None):
    """TLS handshake with ``address:port``; the DER of the certificate the server presented.

    With ``ca_path`` the chain must verify against it, and with ``server_hostname`` the
    certificate must name that host (what a client reaching the pod by that name checks).
    Without ``ca_path`` nothing is verified (to read what is served). Raises ``ssl.SSLError``
    (``SSLCertVerificationError``) when verification fails, ``OSError`` when nobody answers.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_path:
        context.load_verify_locations(ca_path)
        context.check_hostname = server_hostname is not None
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, port), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname=server_hostname) as wrapped:
            return wrapped.getpeercert(binary_form=True)


def fingerprint_of_der(der):
    return hashlib.sha256(der).hexdigest()


def fingerprint_of_pem(pem):
    return fingerprint_of_der(ssl.PEM_cert_to_DER_cert(pem))


def served(cluster):
    """``{(pod, port): fingerprint}`` of the certificate each redis and sentinel presents."""
    return {(pod, port): fingerprint_of_der(handshake(cluster.model.pod_address(pod), port))
            for pod in cluster.pods() for port in (PORT, SENTINEL_PORT)}


def plain_refused(address, port):
    """Whether a plain client gets no answer from ``address:port``."""
    client = redis.Redis(host=address, port=port, password='x', socket_timeout=3,
                         socket_connect_timeout=3)
    try:
        client.ping()
    except redis.AuthenticationError:
        return False  # it answered (and refused the password): plain is served
    except (redis.ConnectionError, redis.TimeoutError):
        return True
    finally:
        client.close()
    return False


def plain_answers(cluster, pod, port):
    """Whether ``pod`` answers a plain client (with the password) on ``port``."""
    client = redis.Redis(host=cluster.model.pod_address(pod), port=port,
                         password=cluster.password(), socket_timeout=3, socket_connect_timeout=3)
    try:
        return client.ping()
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()


def tls_only_everywhere(cluster):
    """Every redis and sentinel refuses plain clients and verifies with the relation's CA."""
    ca_path = cluster.ca_path(refresh=True)
    for pod in cluster.pods():
        address = cluster.model.pod_address(pod)
        for port in (PORT, SENTINEL_PORT):
            if not plain_refused(address, port):
                return False
            handshake(address, port, ca_path)
    return True


def plain_only_everywhere(cluster):
    """Every redis and sentinel answers plain clients and no TLS handshake."""
    for pod in cluster.pods():
        for port in (PORT, SENTINEL_PORT):
            if not plain_answers(cluster, pod, port):
                return False
            try:
                handshake(cluster.model.pod_address(pod), port)
                return False
            except (ssl.SSLError, OSError):
                pass
    return True


# --- what must not change: pods and redis processes -------------------------------------------

def pods_state(cluster):
    """Per pod: address and template hash (a new pod or a roll changes them) and each
    container's restarts."""
    return {name: (pod['address'], pod['spec-hash'],
                   {c: s.get('restarts', 0) for c, s in pod['containers'].items()})
            for name, pod in cluster.model.status()['pods'].items() if pod['application'] == APP}


def rolled(before, after):
    """Every pod of ``before`` replaced by one from a new pod template in ``after``."""
    return set(before) == set(after) and all(
        after[pod][0] != before[pod][0] and after[pod][1] != before[pod][1] for pod in before)


def redis_kept(before, after):
    """No pod replaced or rolled and no redis container restarted between the two states
    (sentinel containers may restart: a sentinel changes TLS mode or certificate only so)."""
    strip = lambda state: {pod: (address, spec, restarts['redis'])  # noqa: E731
                           for pod, (address, spec, restarts) in state.items()}
    return strip(before) == strip(after)


def tls_secret(cluster):
    """The data of the ``<app>-tls`` Secret the charm's pod spec asks for, decoded."""
    wanted = ('Secret', APP + '-tls')
    for manifest in yaml.safe_load_all(cluster.model.manifests(APP)):
        if manifest and (manifest['kind'], manifest['metadata']['name']) == wanted:
            return {key: base64.b64decode(value).decode()
                    for key, value in (manifest.get('data') or {}).items()}
    raise AssertionError('no Secret {}-tls in the manifests'.format(APP))


# --- Juju side ----------------------------------------------------------------------------------

def consumer_message(cluster):
    return cluster.model.unit_status(CONSUMER + '/0')['workload-status']['message']


def workload(cluster, unit):
    return cluster.model.unit_status(unit)['workload-status']


def settled(cluster, timeout=240):
    """The master once the cluster is healthy and every unit's relation entry names it."""
    master = faults.eventually(cluster, lambda: cluster.healthy(3), timeout, 'not healthy')
    faults.every_entry_names(cluster, master, timeout)
    return master


def started_load(cluster, prefix):
    writer = WriteLoad(cluster, prefix=prefix).start()
    faults.eventually(cluster, lambda: len(writer.acknowledged) >= 50, 60, 'writes do not succeed')
    return writer


def writes_go_on(cluster, writer, count=50, timeout=60):
    """Wait until the writer has had ``count`` more writes acknowledged."""
    now = len(writer.acknowledged)
    faults.eventually(cluster, lambda: len(writer.acknowledged) >= now + count, timeout,
                      'writes do not go on')


def run_action(cluster, unit, name, **params):
    return cluster.model.run_action(unit, name, params=params, wait=ACTION_WAIT_S)


# --- operator certificate files (openssl, as an operator would make them) ------------------------

def openssl(directory, *args):
    return subprocess.run(['openssl'] + [str(a) for a in args], cwd=str(directory),
                          capture_output=True, text=True, check=True)


def operator_ca(directory):
    """A CA of the operator's own (not the charm's): ``ca.pem`` and ``ca.key`` in ``directory``."""
    os.makedirs(str(directory), exist_ok=True)
    openssl(directory, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key',
            '-out', 'ca.pem', '-days', '30', '-subj', '/CN=operator test CA',
            '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    return directory


def operator_cert(directory, name, dns_names, ips=('127.0.0.1',)):
    """A certificate ``<name>.pem`` and its key ``<name>-key.pem`` signed by the CA in
    ``directory``; returns their paths. (Juju refuses an upload whose extension differs from the
    resource's ``filename``: ``.pem`` for all three.)"""
    alt = ','.join(['DNS:' + n for n in dns_names] + ['IP:' + ip for ip in ips])
    with open(os.path.join(str(directory), name + '.ext'), 'w') as handle:
        handle.write('subjectAltName={}\nbasicConstraints=critical,CA:FALSE\n'
                     'keyUsage=critical,digitalSignature,keyEncipherment\n'
                     'extendedKeyUsage=serverAuth,clientAuth\n'.format(alt))
    openssl(directory, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', name + '-key.pem',
            '-out', name + '.csr', '-subj', '/CN=' + APP)
    openssl(directory, 'x509', '-req', '-in', name + '.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
            '-CAcreateserial', '-out', name + '.pem', '-days', '30', '-extfile', name + '.ext')
    return (os.path.join(str(directory), name + '.pem'),
            os.path.join(str(directory), name + '-key.pem'))


def every_name():
    names = [name for pod in ('{}-{}'.format(APP, n) for n in range(3)) for name in pod_names(pod)]
    return names + SERVICE_NAMES + ['localhost']


def read(path):
    with open(path) as handle:
        return handle.read()


@pytest.fixture(scope='module')
def material(tmp_path_factory):
    """The operator's files: a CA of their own and one certificate for every pod's names."""
    directory = operator_ca(tmp_path_factory.mktemp('operator-tls'))
    cert, key = operator_cert(directory, 'good', every_name())
    return {'ca': os.path.join(str(directory), 'ca.pem'), 'cert': cert, 'key': key,
            'dir': directory}


def attach(cluster, **files):
    """``attach-resource`` each of ``cert_file=PATH``... (the resource names with dashes)."""
    for name, path in files.items():
        cluster.model.attach_resource(APP, name.replace('_', '-'), str(path))


# --- the cases ------------------------------------------------------------------------------------

def test_the_relation_offers_tls_and_the_consumer_writes_and_reads_over_it(cluster):
    master = settled(cluster)
    data = cluster.relation_data()
    assert data['tls'] == 'true'
    assert data['tls-port'] == str(PORT) and data['port'] == str(PORT)  # non-tls-port 0
    assert data['tls-ca'].count('BEGIN CERTIFICATE') >= 1
    assert cluster.pod_of(data['host']) == master and data['host'] == pod_names(master)[0]
    # The consumer connected to the master by its FQDN, over TLS, trusting the relation's CA only.
    faults.eventually(cluster, lambda: 'over TLS' in consumer_message(cluster)
                      and data['host'] in consumer_message(cluster), 120,
                      'the consumer does not write over TLS: {}'.format(consumer_message(cluster)))
    rc, out, err = cluster.model.run(CONSUMER + '/0', 'cat redis-ca.pem', operator=True)
    assert rc == 0, err
    assert out == data['tls-ca']
    key = 'redis-consumer:{}/0'.format(CONSUMER)
    assert cluster.client(master).get(key) == 'written by {}/0'.format(CONSUMER).encode()
    # Replication and the sentinels' links run over TLS: plain is served nowhere.
    for pod in cluster.pods():
        values = cluster.client(pod, decode_responses=True).config_get('*port*')
        assert (values['port'], values['tls-port']) == ('0', str(PORT)), values
        assert cluster.client(pod, decode_responses=True).config_get(
            'tls-replication')['tls-replication'] == 'yes'


def test_each_server_presents_a_certificate_naming_every_way_to_reach_its_pod(cluster):
    settled(cluster)
    ca_path = cluster.ca_path(refresh=True)
    pods = cluster.pods()
    for pod in pods:
        address = cluster.model.pod_address(pod)
        for port in (PORT, SENTINEL_PORT):
            for name in pod_names(pod) + SERVICE_NAMES + ['localhost']:
                handshake(address, port, ca_path, server_hostname=name)
            # Each pod has its own certificate: another pod's name is refused.
            other = next(p for p in pods if p != pod)
            with pytest.raises(ssl.SSLCertVerificationError):
                handshake(address, port, ca_path, server_hostname=pod_names(other)[0])


def test_a_plain_client_is_refused_on_the_redis_and_sentinel_ports(cluster):
    settled(cluster)
    for pod in cluster.pods():
        address = cluster.model.pod_address(pod)
        for port in (PORT, SENTINEL_PORT):
            assert plain_refused(address, port), '{}:{} answers plain'.format(pod, port)


def test_a_tls_client_that_does_not_trust_the_ca_fails_verification(cluster, tmp_path):
    master = settled(cluster)
    address = cluster.model.pod_address(master)
    password = cluster.password()
    stranger = operator_ca(tmp_path / 'stranger')
    for ca_path in (None, str(stranger / 'ca.pem')):  # the system's CAs, then another CA
        client = redis.Redis(host=address, port=PORT, password=password, ssl=True,
                             ssl_ca_certs=ca_path, ssl_cert_reqs='required',
                             socket_timeout=5, socket_connect_timeout=5)
        with pytest.raises(redis.ConnectionError, match='certificate verify failed'):
            client.ping()
    env = dict(os.environ, REDISCLI_AUTH=password)
    cli = ['redis-cli', '-h', address, '-p', str(PORT), '--tls']
    refused = subprocess.run(cli + ['PING'], env=env, capture_output=True, text=True, timeout=30)
    assert 'PONG' not in refused.stdout
    assert 'certificate verify failed' in refused.stdout + refused.stderr, refused
    # The same with the relation's CA answers: the failure above was the verification.
    trusted = subprocess.run(cli + ['--cacert', cluster.ca_path(), 'PING'], env=env,
                             capture_output=True, text=True, timeout=30)
    assert trusted.stdout.strip() == 'PONG', trusted


def test_failover_action_under_tls_moves_the_master_losing_no_acknowledged_write(cluster):
    old = settled(cluster)
    writer = started_load(cluster, 'tls-failover-action')
    try:
        record = run_action(cluster, cluster.leader(), 'failover')
        assert record['status'] == 'completed', record
        new = record['results']['new-master']['pod']
        assert new != old
        assert faults.eventually(cluster, lambda: cluster.healthy(3), 120, 'not healthy') == new
        faults.every_entry_names(cluster, new, 180)
        writes_go_on(cluster, writer)
    finally:
        writer.stop()
    assert writer.endpoint[0] == new and writer.ca_path is not None  # it wrote over TLS
    assert writer.lost(new) == []
    assert cluster.client(old).info('replication')['role'] == 'slave'


def test_a_master_crash_loop_fails_over_over_tls_with_bounded_loss(cluster):
    settled(cluster)
    writer = started_load(cluster, 'tls-crash-loop')
    try:
        fault = faults.crash_loop_master_redis(cluster)
        outcome = faults.recover(cluster, writer, fault)
    finally:
        writer.stop()
    print('\n' + faults.summary(outcome))
    assert outcome.new_master != fault.old_master
    assert outcome.old_master_role == 'slave'
    assert len(outcome.lost) <= CRASH_LOSS_BOUND


def test_graceful_delete_of_the_master_pod_under_tls_loses_no_acknowledged_write(cluster):
    settled(cluster)
    writer = started_load(cluster, 'tls-graceful-delete')
    try:
        fault = faults.delete_master_pod(cluster)
        outcome = faults.recover(cluster, writer, fault)
    finally:
        writer.stop()
    print('\n' + faults.summary(outcome))
    assert outcome.new_master != fault.old_master
    assert outcome.old_master_role == 'slave'
    assert outcome.lost == []
    faults.every_entry_names(cluster, outcome.new_master, 120)
    assert tls_only_everywhere(cluster)  # the recreated pod came back TLS-only


def test_operator_files_replace_the_certificates_under_load_losing_nothing(cluster, material):
    master = settled(cluster)
    new_fp = fingerprint_of_pem(read(material['cert']))
    assert new_fp not in served(cluster).values()
    before = pods_state(cluster)
    writer = started_load(cluster, 'tls-rotation')
    try:
        attach(cluster, ca_cert_file=material['ca'], cert_file=material['cert'],
               key_file=material['key'])
        faults.eventually(
            cluster, lambda: set(served(cluster).values()) == {new_fp}, SWITCH_TIMEOUT_S,
            'not every server presents the new certificate: {}'.format(served(cluster)))
        operator_ca_pem = read(material['ca'])
        faults.eventually(cluster, lambda: operator_ca_pem.strip() in cluster.relation_data()[
            'tls-ca'], 120, 'the relation does not give the operator\'s CA')
        writes_go_on(cluster, writer)
        cluster.model.wait(600)
        settled(cluster)
        writes_go_on(cluster, writer)
    finally:
        writer.stop()
    assert writer.lost() == []
    # Juju rolled the pods for the attach (a new charm-modified version); the charm lost nothing.
    assert rolled(before, pods_state(cluster)), (before, pods_state(cluster))
    # Verified against the operator's CA alone, by the names a client uses.
    for pod in cluster.pods():
        handshake(cluster.model.pod_address(pod), PORT, material['ca'],
                  server_hostname=pod_names(pod)[0])
    faults.eventually(cluster, lambda: 'over TLS' in consumer_message(cluster), 120,
                      'the consumer no longer writes over TLS: {}'.format(
                          consumer_message(cluster)))
    assert master in cluster.pods()


def expired_cert(material):
    """A certificate for every name, signed by the operator's CA, expired yesterday; its key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = read(os.path.join(str(material['dir']), 'ca.key'))
    return certificates.issue(read(material['ca']), ca_key, APP, every_name(), ['127.0.0.1'],
                              days=1, now=now - datetime.timedelta(days=2))


def test_wrong_files_block_naming_the_file_and_the_pods_keep_serving(cluster, material, tmp_path):
    settled(cluster)
    good_fp = fingerprint_of_pem(read(material['cert']))
    assert set(served(cluster).values()) == {good_fp}
    before = pods_state(cluster)
    secret = tls_secret(cluster)
    stranger_key = tmp_path / 'stranger-key.pem'
    openssl(tmp_path, 'genrsa', '-out', stranger_key, '2048')
    expired, expired_key = expired_cert(material)
    (tmp_path / 'expired.pem').write_text(expired)
    (tmp_path / 'expired-key.pem').write_text(expired_key)
    narrow, narrow_key = operator_cert(material['dir'], 'narrow', ['elsewhere.example'], ips=())
    cases = [
        ('key not matching', dict(key_file=stranger_key), 'key-file does not match cert-file'),
        ('expired', dict(key_file=tmp_path / 'expired-key.pem',
                         cert_file=tmp_path / 'expired.pem'),
         'cert-file expired at'),
        ('names missing', dict(key_file=narrow_key, cert_file=narrow), 'cert-file does not cover'),
    ]
    writer = started_load(cluster, 'tls-wrong-files')
    try:
        for case, files, message in cases:
            attach(cluster, **files)
            leader = cluster.leader()
            faults.eventually(
                cluster, lambda: workload(cluster, leader)['current'] == 'blocked'
                and workload(cluster, leader)['message'].startswith(message), 180,
                '{}: the leader is not blocked with "{}...": {}'.format(
                    case, message, workload(cluster, leader)))
            # Nothing changed for the pods: the Secret the hook that blocked left in the spec is
            # the last good one, the last good certificate is served (by the pods Juju rolls for
            # the attach, once they are all replaced), writes go on.
            cluster.model.wait(600)
            assert tls_secret(cluster) == secret, case
            assert set(served(cluster).values()) == {good_fp}, case
            writes_go_on(cluster, writer)
        attach(cluster, cert_file=material['cert'], key_file=material['key'])
        cluster.model.wait(600)
        settled(cluster)
        writes_go_on(cluster, writer)
    finally:
        writer.stop()
    assert set(served(cluster).values()) == {good_fp}
    assert writer.lost() == []
    assert rolled(before, pods_state(cluster)), (before, pods_state(cluster))


def test_switching_tls_off_and_on_again_live_under_load_loses_nothing_and_restarts_no_redis(
        cluster, material):
    settled(cluster)
    before = pods_state(cluster)
    good_fp = fingerprint_of_pem(read(material['cert']))
    writer = started_load(cluster, 'tls-switch')
    try:
        cluster.model.config(APP, {'enable-tls': 'false'})
        faults.eventually(cluster, lambda: plain_only_everywhere(cluster), SWITCH_TIMEOUT_S,
                          'not every server speaks plain only')
        faults.eventually(cluster, lambda: cluster.relation_data().get('tls') == 'false'
                          and not cluster.relation_data().get('tls-ca'), 120,
                          'the relation still offers TLS: {}'.format(cluster.relation_data()))
        settled(cluster)
        faults.eventually(cluster, lambda: writer.ca_path is None and len(writer.acknowledged)
                          > 0 and 'over plain' in consumer_message(cluster), 120,
                          'the consumer and the writer do not follow to plain')
        writes_go_on(cluster, writer)
        off = pods_state(cluster)

        cluster.model.config(APP, {'enable-tls': 'true'})
        faults.eventually(cluster, lambda: tls_only_everywhere(cluster), SWITCH_TIMEOUT_S,
                          'not every server speaks TLS only')
        faults.eventually(cluster, lambda: cluster.relation_data().get('tls') == 'true', 120,
                          'the relation does not offer TLS')
        settled(cluster)
        faults.eventually(cluster, lambda: writer.ca_path is not None
                          and 'over TLS' in consumer_message(cluster), 120,
                          'the consumer and the writer do not follow to TLS')
        writes_go_on(cluster, writer)
    finally:
        writer.stop()
    assert writer.lost() == []
    assert redis_kept(before, off), (before, off)
    assert redis_kept(before, pods_state(cluster)), (before, pods_state(cluster))
    # Back on with the operator's files, which stayed attached.
    assert set(served(cluster).values()) == {good_fp}
