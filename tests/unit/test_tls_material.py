"""tls_material: generated and operator material, renewal, the Secret's data and leader data."""

import datetime
import json

import pytest

from redis_k8s import certificates, settings, tls_files, tls_material

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
ON = settings.parse({"enable-tls": True}, 3, app_name="r")
OFF = settings.parse({}, 3, app_name="r")


class CountingIssuer:
    """certificates with small keys (fast), counting what it makes."""

    def __init__(self):
        self.made = []

    def new_ca(self, common_name, days, now=None):
        self.made.append("ca")
        return certificates.new_ca(common_name, days, now=now, key_bits=1024)

    def issue(self, ca, ca_key, common_name, dns, ips, days, now=None):
        self.made.append(common_name)
        return certificates.issue(ca, ca_key, common_name, dns, ips, days, now=now, key_bits=1024)

    needs_renewal = staticmethod(certificates.needs_renewal)


def plan(tls_settings, leader, count=3, resources=None, now=NOW, issuer=None):
    return tls_material.plan(tls_settings, "r", "m", "cluster.local", count, leader,
                             resources=resources, now=now, issuer=issuer or CountingIssuer())


@pytest.fixture(scope="module")
def generated():
    issuer = CountingIssuer()
    material = plan(ON, {}, issuer=issuer)
    return material, issuer


def test_first_hook_with_tls_on_generates_a_ca_and_one_certificate_per_pod(generated):
    material, issuer = generated
    assert issuer.made == ["ca", "r-0", "r-1", "r-2"]
    assert set(material.leader_data) == {"tls-ca-cert", "tls-ca-key", "tls-certs"}
    assert set(json.loads(material.leader_data["tls-certs"])) == {"r-0", "r-1", "r-2"}
    assert material.bundle == material.leader_data["tls-ca-cert"]
    assert set(material.secret_data) == {"tls.env", "ca.pem", "r-0.pem", "r-0.key", "r-1.pem",
                                         "r-1.key", "r-2.pem", "r-2.key"}
    assert "TLS_ENABLED=yes" in material.secret_data["tls.env"]
    assert material.problem is None


def test_each_pod_certificate_covers_every_name_of_that_pod_and_verifies(generated, tmp_path):
    material, _ = generated
    for n in range(3):
        cert = material.secret_data["r-{}.pem".format(n)]
        names = tls_material.dns_names("r", "m", n) + ["127.0.0.1"]
        assert "r-{}.r-endpoints.m.svc.cluster.local".format(n) in names
        assert "r.m.svc.cluster.local" in names and "localhost" in names
        assert tls_files.problem(cert.encode(), material.secret_data["r-{}.key".format(n)].encode(),
                                 material.bundle.encode(), names=names, now=NOW) is None
        assert certificates.needs_renewal(cert, NOW, names) is None


def test_a_steady_hook_generates_and_writes_nothing_and_gives_the_same_secret(generated):
    material, _ = generated
    issuer = CountingIssuer()
    again = plan(ON, dict(material.leader_data), issuer=issuer)
    assert issuer.made == [] and again.leader_data == {}
    assert again.secret_data == material.secret_data


def test_scale_up_issues_only_the_new_pods_certificate(generated):
    material, _ = generated
    issuer = CountingIssuer()
    more = plan(ON, dict(material.leader_data), count=4, issuer=issuer)
    assert issuer.made == ["r-3"]
    assert set(more.leader_data) == {"tls-certs"}
    assert more.secret_data["r-0.pem"] == material.secret_data["r-0.pem"]


def test_a_certificate_with_a_third_of_its_life_left_is_renewed_from_the_same_ca(generated):
    material, _ = generated
    issuer = CountingIssuer()
    later = NOW + datetime.timedelta(days=250)
    renewed = plan(ON, dict(material.leader_data), now=later, issuer=issuer)
    assert issuer.made == ["r-0", "r-1", "r-2"]
    assert renewed.bundle == material.bundle
    assert renewed.secret_data["r-0.pem"] != material.secret_data["r-0.pem"]


def test_a_ca_due_for_renewal_is_replaced_every_certificate_reissued_and_the_old_ca_still_trusted(generated):
    material, _ = generated
    issuer = CountingIssuer()
    later = NOW + datetime.timedelta(days=2500)
    renewed = plan(ON, dict(material.leader_data), now=later, issuer=issuer)
    assert issuer.made == ["ca", "r-0", "r-1", "r-2"]
    old_ca = material.leader_data["tls-ca-cert"]
    assert renewed.leader_data["tls-ca-previous"] == old_ca
    assert renewed.bundle == renewed.leader_data["tls-ca-cert"] + old_ca


def test_with_tls_off_the_secret_has_tls_env_alone_and_material_is_kept(generated):
    material, _ = generated
    issuer = CountingIssuer()
    off = plan(OFF, dict(material.leader_data), issuer=issuer)
    assert list(off.secret_data) == ["tls.env"]
    assert "TLS_ENABLED=no\n" in off.secret_data["tls.env"]
    assert issuer.made == [] and off.leader_data == {} and off.bundle == "" and off.served == {}


def test_tls_off_generates_nothing_on_a_new_application():
    issuer = CountingIssuer()
    off = plan(OFF, {}, issuer=issuer)
    assert issuer.made == [] and off.leader_data == {} and list(off.secret_data) == ["tls.env"]


@pytest.fixture(scope="module")
def operator_files():
    ca, ca_key = certificates.new_ca("ops CA", 3650, now=NOW, key_bits=1024)
    names = ["*.r-endpoints.m.svc.cluster.local", "*.r-endpoints", "*.r-endpoints.m",
             "*.r-endpoints.m.svc", "r", "r.m", "r.m.svc", "r.m.svc.cluster.local", "localhost"]
    cert, key = certificates.issue(ca, ca_key, "redis", names, ["127.0.0.1"], 365, now=NOW, key_bits=1024)
    return {"cert-file": cert.encode(), "key-file": key.encode(), "ca-cert-file": ca.encode()}


def test_operator_files_serve_every_pod_and_their_ca_is_the_bundle(generated, operator_files):
    material, _ = generated
    issuer = CountingIssuer()
    used = plan(ON, dict(material.leader_data), resources=operator_files, issuer=issuer)
    assert issuer.made == [] and used.problem is None
    generated_ca = material.leader_data["tls-ca-cert"]
    # The pods serve the generated certificates until the leader reloads them: both CAs trusted.
    assert used.bundle == operator_files["ca-cert-file"].decode() + generated_ca
    assert used.secret_data["ca.pem"] == used.bundle
    assert {used.secret_data["r-{}.pem".format(n)] for n in range(3)} == {operator_files["cert-file"].decode()}
    assert set(used.leader_data) == {"tls-operator", "tls-ca-outgoing"}
    assert used.leader_data["tls-ca-outgoing"] == generated_ca
    # the next hooks, resources not read: the operator's files stay in use, nothing written
    steady = plan(ON, dict(material.leader_data, **used.leader_data), issuer=issuer)
    assert steady.secret_data == used.secret_data and steady.leader_data == {}
    # once every pod serves the operator's certificate the leader clears the outgoing CA
    done = plan(ON, dict(material.leader_data, **dict(used.leader_data, **{"tls-ca-outgoing": ""})))
    assert done.bundle == operator_files["ca-cert-file"].decode() and done.leader_data == {}


def test_empty_files_take_the_operator_material_back_to_the_generated_one(generated, operator_files):
    material, _ = generated
    leader = dict(material.leader_data, **plan(ON, dict(material.leader_data), resources=operator_files).leader_data)
    leader["tls-ca-outgoing"] = ""  # every pod served the operator's certificate
    back = plan(ON, leader, resources={"cert-file": b"", "key-file": b"", "ca-cert-file": None})
    operator_ca = operator_files["ca-cert-file"].decode()
    assert back.leader_data == {"tls-operator": "", "tls-ca-outgoing": operator_ca}
    assert back.bundle == material.bundle + operator_ca
    assert dict(back.secret_data, **{"ca.pem": material.bundle}) == material.secret_data


@pytest.mark.parametrize("change, message", [
    ({"key-file": None}, "cert-file and ca-cert-file given without key-file"),
    ({"cert-file": b"junk"}, "cert-file"),
])
def test_refused_operator_files_block_with_the_message_and_keep_the_previous_material(
        generated, operator_files, change, message):
    material, _ = generated
    bad = plan(ON, dict(material.leader_data), resources=dict(operator_files, **change))
    assert bad.problem.startswith(message)
    assert bad.leader_data == {"tls-problem": bad.problem}
    assert bad.secret_data == material.secret_data
    # later hooks (resources not read) still report it; good files clear it
    assert plan(ON, dict(material.leader_data, **bad.leader_data)).problem == bad.problem
    fixed = plan(ON, dict(material.leader_data, **bad.leader_data), resources=operator_files)
    assert fixed.problem is None and fixed.leader_data["tls-problem"] == ""


def test_an_operator_certificate_missing_a_pod_name_is_refused(generated):
    material, _ = generated
    ca, ca_key = certificates.new_ca("ops CA", 3650, now=NOW, key_bits=1024)
    cert, key = certificates.issue(ca, ca_key, "redis", ["r-0.r-endpoints.m.svc.cluster.local"], [],
                                   365, now=NOW, key_bits=1024)
    bad = plan(ON, dict(material.leader_data),
               resources={"cert-file": cert.encode(), "key-file": key.encode(), "ca-cert-file": ca.encode()})
    assert bad.problem.startswith("cert-file") and "r-1" in bad.problem


def test_the_secret_digest_changes_with_the_data_only(generated):
    material, _ = generated
    assert tls_material.digest(material.secret_data) == tls_material.digest(dict(material.secret_data))
    assert tls_material.digest(material.secret_data) != tls_material.digest({"tls.env": "x"})


def test_operator_files_in_use_that_expire_later_block_and_stay(generated, operator_files):
    material, _ = generated
    leader = dict(material.leader_data, **plan(ON, dict(material.leader_data), resources=operator_files).leader_data)
    later = NOW + datetime.timedelta(days=400)  # the operator's certificate lasts 365 days
    expired = plan(ON, leader, now=later)
    assert expired.problem.startswith("cert-file expired at")
    assert expired.leader_data == {"tls-problem": expired.problem}
    assert expired.served == {"r-{}".format(n): operator_files["cert-file"].decode() for n in range(3)}


def test_switching_off_keeps_the_material_in_the_secret_until_every_server_is_plain(generated):
    material, _ = generated
    leader = dict(material.leader_data)
    issuer = CountingIssuer()
    kept = tls_material.plan(OFF, "r", "m", "cluster.local", 3, leader, now=NOW, issuer=issuer,
                             keep_material=True)
    assert issuer.made == [] and kept.leader_data == {}
    assert set(kept.secret_data) == set(material.secret_data)
    assert "TLS_ENABLED=no" in kept.secret_data["tls.env"]
    assert kept.secret_data["r-1.key"] == material.secret_data["r-1.key"]
    # Nothing to keep on an application that never had TLS.
    assert set(tls_material.plan(OFF, "r", "m", "cluster.local", 3, {}, now=NOW, issuer=issuer,
                                 keep_material=True).secret_data) == {"tls.env"}


def test_the_resource_names_are_tls_files_own():
    assert tls_material.RESOURCES == (tls_files.CERT_FILE, tls_files.KEY_FILE, tls_files.CA_CERT_FILE)
