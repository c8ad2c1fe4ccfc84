"""The bearer token's text: how a new one is made, how one is read back, and its stored hash.

**Format.** ``slk_<token_id>_<secret>``, 64 characters, all in ``[A-Za-z0-9_]``:

- ``slk_``: a fixed prefix (StressLab key), so that a leaked token is recognisable by secret
  scanners and by people, and cannot be confused with a hash or another service's key;
- ``token_id``: 16 lowercase hex digits (64 random bits), the row's key. Not secret: ``tokens
  list`` shows it and ``tokens revoke`` takes it, so a token found in a log can be named and
  revoked without anyone holding its hash;
- ``secret``: 32 bytes (256 bits) from :func:`secrets.token_bytes`, written in base 62 as exactly
  43 digits (``62**43 > 2**256``), left-padded with ``0``.

Only letters, digits and ``_`` so that a double click selects the whole token, as in GitHub's
formats (which also use a prefix and ``_``); unlike GitHub's there is no checksum.

**Stored hash.** :func:`token_hash`, the SHA-256 (hex) of the whole text, unsalted and not
iterated. A slow password hash (bcrypt, Argon2) exists to make guessing a low-entropy
human-chosen password expensive; a 256-bit random secret cannot be guessed at any hash speed, and
NIST accepts a plain approved one-way hash for random secrets of at least 112 bits. A fast hash
keeps every API request's check to microseconds.

References
----------
GitHub Engineering, "Behind GitHub's new authentication token formats" (2021-04-05),
https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/
NIST SP 800-63B (June 2017), section 5.1.2.2, Look-Up Secret Verifiers: "Look-up secrets having
at least 112 bits of entropy SHALL be hashed with an approved one-way function".
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field

from engine.errors import AuthenticationError

__all__ = ["MALFORMED_TOKEN", "MISSING_TOKEN", "SECRET_BYTES", "TOKEN_LENGTH", "TOKEN_PREFIX",
           "NewToken", "new_token", "parse_token", "token_hash"]

#: What every StressLab bearer token starts with.
TOKEN_PREFIX = "slk_"
#: Random bytes in a token's secret.
SECRET_BYTES = 32
_ID_HEX = 16
_SECRET_DIGITS = 43  # base-62 digits of a 256-bit number: ceil(256 / log2(62))
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Characters in a token: prefix, id, separator, secret.
TOKEN_LENGTH = len(TOKEN_PREFIX) + _ID_HEX + 1 + _SECRET_DIGITS
_TOKEN = re.compile(rf"{TOKEN_PREFIX}([0-9a-f]{{{_ID_HEX}}})_([0-9A-Za-z]{{{_SECRET_DIGITS}}})")

#: Messages of :class:`AuthenticationError`; none repeats any part of the token.
MISSING_TOKEN = ("no bearer token: send the header `Authorization: Bearer <token>`; an admin "
                 "creates tokens with `stresslab tokens create`")
MALFORMED_TOKEN = (f"the bearer token is not a StressLab token (expected {TOKEN_PREFIX}, 16 hex "
                   f"digits, _ and 43 letters or digits: {TOKEN_LENGTH} characters); check that "
                   "it was copied whole")


def _base62(value: int, *, digits: int) -> str:
    out = []
    for _ in range(digits):
        value, rem = divmod(value, 62)
        out.append(_BASE62[rem])
    if value:
        raise ValueError("the value does not fit in the digits asked for")
    return "".join(reversed(out))


def token_hash(text: str) -> str:
    """The stored form of a token: SHA-256 of its text (UTF-8), 64 lowercase hex digits.

    References
    ----------
    FIPS 180-4, Secure Hash Standard (SHA-256).
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just made: its id, its text (to show once) and the hash to store."""

    token_id: str
    text: str = field(repr=False)
    hash: str


def new_token() -> NewToken:
    """A new random token (see the module's docstring for the format).

    Returns
    -------
    NewToken
        ``token_id`` (16 hex digits), ``text`` (64 characters, shown once, never stored) and
        ``hash`` (:func:`token_hash` of ``text``).
    """
    token_id = secrets.token_hex(_ID_HEX // 2)
    secret = _base62(int.from_bytes(secrets.token_bytes(SECRET_BYTES), "big"),
                     digits=_SECRET_DIGITS)
    text = f"{TOKEN_PREFIX}{token_id}_{secret}"
    return NewToken(token_id=token_id, text=text, hash=token_hash(text))


def parse_token(text: str | None) -> str:
    """The token id inside a bearer token's text (surrounding whitespace ignored).

    Parameters
    ----------
    text : str or None
        What the client sent after ``Bearer``.

    Returns
    -------
    str
        The token's id, 16 hex digits.

    Raises
    ------
    AuthenticationError
        If ``text`` is None or blank (:data:`MISSING_TOKEN`), or not in the token format
        (:data:`MALFORMED_TOKEN`). Neither message repeats the text.
    """
    if text is None or isinstance(text, str) and not text.strip():
        raise AuthenticationError(MISSING_TOKEN)
    if not isinstance(text, str):
        raise AuthenticationError(MALFORMED_TOKEN)
    text = text.strip()
    match = _TOKEN.fullmatch(text) if len(text) == TOKEN_LENGTH else None
    if match is None:
        raise AuthenticationError(MALFORMED_TOKEN)
    return match.group(1)
