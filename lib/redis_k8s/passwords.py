"""Generation and validation of the Redis password.

The password travels through redis.conf / sentinel.conf lines written by the start scripts and
through ``redis-cli`` environment variables, so only characters that need no quoting in either
are allowed.
"""

import secrets
import string

MIN_LENGTH = 8
MAX_LENGTH = 128
# Printable ASCII minus whitespace, quotes, backslash and backtick: safe unquoted in a shell
# variable expansion and inside a double-quoted redis config argument.
ALLOWED = frozenset(string.ascii_letters + string.digits + "!#$%&()*+,-./:;<=>?@[]^_{|}~")
_GENERATED_ALPHABET = string.ascii_letters + string.digits


def generate(length: int = 32) -> str:
    """Return a new random password of ``length`` letters and digits."""
    if length < MIN_LENGTH:
        raise ValueError("length must be >= {}".format(MIN_LENGTH))
    return "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(length))


def problem(password: str):
    """Return why ``password`` is unusable, or None when it is fine.

    The message never repeats the password.
    """
    if not isinstance(password, str):
        return "must be a string"
    if len(password) < MIN_LENGTH:
        return "is too short ({} characters, at least {} needed)".format(len(password), MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return "is too long ({} characters, at most {})".format(len(password), MAX_LENGTH)
    if any(c.isspace() for c in password):
        return "contains whitespace"
    bad = sorted(set(c for c in password if c not in ALLOWED))
    if bad:
        return "contains unsupported characters {} (quotes, backslash and backtick are not allowed)".format(
            " ".join(repr(c) for c in bad))
    return None
