"""Generation and validation of the Redis password.

The password travels through redis.conf / sentinel.conf lines written by the start scripts and
through ``redis-cli`` environment variables, so only characters that need no quoting in either
are allowed.

It also reaches consumers as relation data, which is text: our interface:redis hands it over
as is, but the upstream requirer (``unit.received`` of charms.reactive) JSON-decodes every value
and keeps the text only when decoding fails. A password that is a JSON document (``1234567.10``,
``-Infinity``, ``[1,2,3,4]``) would reach such a consumer as a number or a list, or as another
text, and its AUTH would fail. No encoding serves both kinds of consumer (a JSON string needs
quotes a plain consumer would keep), so such passwords are refused and never generated.
"""

import json
import secrets
import string

MIN_LENGTH = 8
MAX_LENGTH = 128
# Printable ASCII minus whitespace, quotes, backslash and backtick: safe unquoted in a shell
# variable expansion and inside a double-quoted redis config argument.
ALLOWED = frozenset(string.ascii_letters + string.digits + "!#$%&()*+,-./:;<=>?@[]^_{|}~")
_GENERATED_ALPHABET = string.ascii_letters + string.digits


def generate(length: int = 32) -> str:
    """Return a new random password of ``length`` letters and digits, never a JSON document
    (all digits would be a number: drawn again)."""
    if length < MIN_LENGTH:
        raise ValueError("length must be >= {}".format(MIN_LENGTH))
    while True:
        candidate = "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(length))
        if problem(candidate) is None:
            return candidate


def decodes_as_json(text: str) -> bool:
    """Whether a JSON-decoding consumer would read ``text`` as something else than this text
    (charms.reactive's ``unit.received`` decodes every value, and keeps the text only when
    decoding fails; Python's decoder also takes ``NaN`` and ``Infinity``)."""
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


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
    if decodes_as_json(password):
        return ("is a JSON value (a number, a list, or a constant like NaN), which consumers "
                "that JSON-decode relation data would receive as something else than this text")
    return None
