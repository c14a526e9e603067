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
