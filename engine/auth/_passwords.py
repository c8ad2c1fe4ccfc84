"""Users' passwords: Argon2id hashes made and checked by argon2-cffi (never the password itself).

**Hash.** :data:`HASHER` is argon2-cffi's :class:`argon2.PasswordHasher` with its default
parameters, which are RFC 9106's second recommended option ("low memory"): Argon2id, t = 3
passes, m = 64 MiB (65,536 KiB), p = 4 lanes, a 16-byte random salt per password and a 32-byte
tag. The stored value is the PHC string (``$argon2id$v=19$m=65536,t=3,p=4$<salt>$<tag>``), which
carries its own parameters, so a hash made with older parameters still verifies and is replaced
at the next successful sign-in (:func:`needs_rehash`). A hash costs about 0.1 to 1 s of one core
here, by design: guessing a password from a stolen store costs as much per guess.

**Unknown names.** :func:`verify_unknown` checks the password against a hash of a random
password, so that a sign-in with a name that does not exist takes as long as one with a wrong
password (OWASP Authentication Cheat Sheet, "Authentication Responses": avoid telling apart
"no such user" and "wrong password" by the message or by the time taken).

References
----------
RFC 9106, "Argon2 Memory-Hard Function for Password Hashing and Proof-of-Work Applications"
(2021), section 4, "Parameter Choice" (second recommended option).
OWASP Password Storage Cheat Sheet, "Argon2id" (use Argon2id; a minimum of 19 MiB of memory,
2 iterations and 1 degree of parallelism), https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html
"""

from __future__ import annotations

import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["HASHER", "MAX_PASSWORD", "MIN_PASSWORD", "hash_password", "needs_rehash",
           "verify_password", "verify_unknown"]

#: The hasher of every password: argon2-cffi's defaults (RFC 9106 low-memory option).
HASHER = PasswordHasher()
#: The shortest password accepted, in characters (NIST SP 800-63B, section 5.1.1.2: at least 8).
MIN_PASSWORD = 8
#: The longest, in characters: long enough for any passphrase, short enough to bound the work.
MAX_PASSWORD = 1024

_DUMMY: dict[int, str] = {}
_DUMMY_LOCK = threading.Lock()


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password``, as a PHC string with a new random salt."""
    return HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash (constant time in the tag comparison).

    A stored value that is not an Argon2 hash (a damaged row) matches nothing.
    """
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether the stored hash was made with other parameters than :data:`HASHER`'s."""
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def verify_unknown(password: str) -> bool:
    """Spend the time of one verification on a name that has no user; always False."""
    key = id(HASHER)  # tests may swap the hasher: the dummy follows its parameters
    with _DUMMY_LOCK:
        dummy = _DUMMY.get(key)
        if dummy is None:
            dummy = _DUMMY[key] = HASHER.hash(secrets.token_urlsafe(16))
    verify_password(dummy, password)
    return False
