"""Sign-in policy, pure (no store, no clock: every time is passed in): the lockout after failed
attempts and the expiry of an app session.

**Lockout.** After :data:`MAX_FAILED_ATTEMPTS` (5) wrong passwords in a row a user is locked for
:data:`LOCKOUT` (15 minutes): every sign-in is refused until then, the right password too. A
success resets the count; so does the end of a lock (the next wrong password is the first of a
new series). A lock for a time, not for good, so that an attacker cannot lock a user out for ever
by guessing (OWASP Authentication Cheat Sheet, "Account Lockout": lockout threshold, observation
window and lockout duration; a duration rather than a manual unlock).

**Session expiry.** An app session ends after :data:`IDLE_TIMEOUT` (30 minutes) with no
interaction or :data:`ABSOLUTE_TIMEOUT` (12 hours) after sign-in, whichever comes first (OWASP
Session Management Cheat Sheet, "Session Expiration": idle timeouts of 15 to 30 minutes for
low-risk applications, and an absolute timeout of the length of a working day, 4 to 8 hours
or more). The app also re-reads the user from the store at most every :data:`RECHECK_INTERVAL`
(1 minute), so a user disabled or given another role sees it within a minute.

References
----------
OWASP Authentication Cheat Sheet,
https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html
OWASP Session Management Cheat Sheet,
https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["ABSOLUTE_TIMEOUT", "IDLE_TIMEOUT", "LOCKOUT", "MAX_FAILED_ATTEMPTS",
           "RECHECK_INTERVAL", "Attempt", "after_attempt", "is_locked", "session_expiry"]

#: Wrong passwords in a row that lock a user.
MAX_FAILED_ATTEMPTS = 5
#: How long a lock lasts.
LOCKOUT = timedelta(minutes=15)
#: An app session with no interaction for this long must sign in again.
IDLE_TIMEOUT = timedelta(minutes=30)
#: An app session this old must sign in again, however active.
ABSOLUTE_TIMEOUT = timedelta(hours=12)
#: The longest an app session goes without re-reading its user from the store.
RECHECK_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A user's lockout state after a sign-in attempt (what to store)."""

    failed_attempts: int
    locked_until: datetime | None
    #: True when this attempt started a lock.
    locked_now: bool = False


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    """Whether a lock that runs until ``locked_until`` still holds at ``now`` (naive UTC)."""
    return locked_until is not None and now < locked_until


def after_attempt(*, failed_attempts: int, locked_until: datetime | None, success: bool,
                  now: datetime) -> Attempt:
    """The lockout state after an attempt that was not refused by a lock.

    Parameters
    ----------
    failed_attempts : int
        Wrong passwords in a row before this attempt (as stored).
    locked_until : datetime or None
        The stored lock's end; a lock that has ended starts a new series.
    success : bool
        Whether the password was right.
    now : datetime
        The attempt's time, naive UTC.

    Returns
    -------
    Attempt
        Success: 0 and no lock. Failure: the count plus one, and a lock until
        ``now + LOCKOUT`` when it reaches :data:`MAX_FAILED_ATTEMPTS`.
    """
    if success:
        return Attempt(0, None)
    before = 0 if locked_until is not None and not is_locked(locked_until, now) else failed_attempts
    count = before + 1
    if count >= MAX_FAILED_ATTEMPTS:
        return Attempt(count, now + LOCKOUT, locked_now=True)
    return Attempt(count, None)


def session_expiry(*, signed_in_at: datetime, last_seen: datetime, now: datetime) -> str | None:
    """Why an app session has expired at ``now``, or None if it has not.

    Returns
    -------
    str or None
        ``"idle"`` after :data:`IDLE_TIMEOUT` since ``last_seen``, ``"absolute"`` after
        :data:`ABSOLUTE_TIMEOUT` since ``signed_in_at`` (checked first), else None.
    """
    if now - signed_in_at >= ABSOLUTE_TIMEOUT:
        return "absolute"
    if now - last_seen >= IDLE_TIMEOUT:
        return "idle"
    return None
