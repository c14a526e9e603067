import pytest

from redis_k8s import relation


def test_payload_has_every_key_as_strings():
    data = relation.payload("r-1.r-endpoints.m.svc.cluster.local", 6379, "pw12345678",
                            ["r-0.x", "r-1.x", "r-2.x"], 26379, "r")
    assert data == {
        "host": "r-1.r-endpoints.m.svc.cluster.local",
        "hostname": "r-1.r-endpoints.m.svc.cluster.local",
        "port": "6379",
        "password": "pw12345678",
        "sentinel-hosts": "r-0.x,r-1.x,r-2.x",
        "sentinel-port": "26379",
        "master-name": "r",
        "tls": "false",
        "tls-ca": "",
        "tls-port": "",
    }
    assert all(isinstance(v, str) for v in data.values())


def test_payload_needs_a_master():
    with pytest.raises(ValueError):
        relation.payload("", 6379, "pw", [], 26379, "r")


CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_with_tls_on_port_is_the_tls_port_and_the_ca_is_published():
    data = relation.payload("r-0.x", 6379, "pw12345678", ["r-0.x"], 26379, "r", tls_ca=CA)
    assert (data["tls"], data["tls-ca"], data["tls-port"], data["port"]) == ("true", CA, "6379", "6379")


def test_with_a_plain_port_kept_port_is_the_plain_one_for_legacy_consumers():
    data = relation.payload("r-0.x", 6379, "pw12345678", ["r-0.x"], 26379, "r", tls_ca=CA,
                            non_tls_port=6380)
    assert (data["tls"], data["tls-port"], data["port"]) == ("true", "6379", "6380")


def test_with_tls_off_a_non_tls_port_changes_nothing():
    data = relation.payload("r-0.x", 6379, "pw12345678", ["r-0.x"], 26379, "r", non_tls_port=6380)
    assert (data["tls"], data["tls-ca"], data["tls-port"], data["port"]) == ("false", "", "", "6379")


def test_a_unit_keeps_an_entry_moved_to_a_promoted_master_until_the_record_names_it():
    from redis_k8s.relation import PROMOTED_HOLD_S, keeps_promoted
    assert keeps_promoted('r-1', 0.5, 'r-0')  # the leader's record still names the old master
    assert not keeps_promoted('r-1', 0.5, 'r-1')  # the record caught up
    assert not keeps_promoted('r-1', PROMOTED_HOLD_S, 'r-0')  # held long enough: given back
    assert not keeps_promoted('r-1', -5, 'r-0')  # a clock that went back holds nothing
    assert not keeps_promoted('', 0.5, 'r-0')
