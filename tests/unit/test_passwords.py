import pytest

from redis_k8s import passwords, settings


def test_generated_passwords_are_long_random_and_valid():
    seen = {passwords.generate() for _ in range(50)}
    assert len(seen) == 50
    for p in seen:
        assert len(p) == 32 and p.isalnum()
        assert passwords.problem(p) is None
        settings.parse({"password": p}, 3)


def test_problems():
    assert "too short" in passwords.problem("abc")
    assert "whitespace" in passwords.problem("abcd efgh")
    assert "unsupported" in passwords.problem("abcd\\efgh")
    assert "unsupported" in passwords.problem("abcd`efgh")
    assert passwords.problem("abcdefgh") is None


# What the upstream interface:redis requirer (charms.reactive's ``unit.received``) would turn into
# something else than the text: a number, a list, a constant.
JSON_VALUES = ["1234567.10", "12345678", "-1234567", "1e100000", "0e123456", "-Infinity",
               "Infinity", "[1,2,3,4]", "[[[[]]]]", "12345678901234567890123456789012"]


@pytest.mark.parametrize("password", JSON_VALUES)
def test_passwords_a_json_decoding_consumer_would_change_are_refused(password):
    assert passwords.decodes_as_json(password)
    assert "JSON value" in passwords.problem(password)
    with pytest.raises(settings.ConfigError) as e:
        settings.parse({"password": password}, 3)
    assert e.value.option == "password"
    assert "not form a number or another JSON value" in str(e.value)
    assert password not in str(e.value)


@pytest.mark.parametrize("password", ["1234567.10x", "12345678a", "Infinity!", "[1,2,3,4", "e1234567",
                                      "true-false", "nullnull", "Abc123!#$%&()*+,-./:;<=>?@[]^_{|}~"])
def test_passwords_that_are_not_json_reach_every_consumer_unchanged(password):
    assert not passwords.decodes_as_json(password)
    assert passwords.problem(password) is None


def test_a_generated_password_is_never_a_json_value(monkeypatch):
    # The first draw is all digits (a number for a JSON-decoding consumer): drawn again.
    draws = iter("1" * 32 + "a1" * 16)
    monkeypatch.setattr(passwords.secrets, "choice", lambda alphabet: next(draws))
    assert passwords.generate() == "a1" * 16
