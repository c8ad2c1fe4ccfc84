"""Users, their roles and sign-in, and the HTTP API's bearer tokens: roles, tokens stored as
hashes, passwords stored as Argon2id hashes, authentication, the role check.

One private module per concept, re-exported here:

- :mod:`engine.auth._roles`: the four roles (:data:`ROLES`), the :class:`Principal` a token
  names, and :func:`authorize` (``admin`` may do everything);
- :mod:`engine.auth._tokens`: the token's format (``slk_<token_id>_<secret>``), how a new one
  is made and its stored hash (SHA-256), with the sources for both;
- :mod:`engine.auth._last_used`: ``last_used_at``, written at most once a minute per token, in
  the background;
- :mod:`engine.auth._passwords`: users' passwords hashed with Argon2id (argon2-cffi, RFC 9106);
- :mod:`engine.auth._policy`: the lockout after 5 failed sign-ins and the app session's expiry.

The user actions are in :mod:`engine.auth.workflow` (:func:`create_token`, :func:`list_tokens`,
:func:`revoke_token`, :func:`authenticate`, :func:`authorize`, :func:`add_user`,
:func:`list_users`, :func:`disable_user`, :func:`set_role`, :func:`sign_in`); storage in
:mod:`engine.auth._store` (tables ``api_tokens`` and ``users``, migrations 0009 and 0010, SQL
only there); the commands in :mod:`engine.auth.cli` (``stresslab tokens create|list|revoke``,
``stresslab users add|list|disable|set-role``). Names load on first use
(PEP 562): the API imports this package on every request path.
"""

from __future__ import annotations

from engine._lazy import lazy_exports

_LAZY: dict[str, str] = {
    # roles and the role check
    "ACTIONS": "engine.auth._roles",
    "ADMIN": "engine.auth._roles",
    "Action": "engine.auth._roles",
    "may": "engine.auth._roles",
    "ROLES": "engine.auth._roles",
    "Principal": "engine.auth._roles",
    "Role": "engine.auth._roles",
    "authorize": "engine.auth._roles",
    "authorize_action": "engine.auth._roles",
    # the token's text
    "TOKEN_LENGTH": "engine.auth._tokens",
    "TOKEN_PREFIX": "engine.auth._tokens",
    "token_hash": "engine.auth._tokens",
    # the actions
    "LAST_USED_INTERVAL": "engine.auth._last_used",
    "TokenCreated": "engine.auth.workflow",
    "TokenInfo": "engine.auth.workflow",
    "TokenList": "engine.auth.workflow",
    "TokenRequest": "engine.auth.workflow",
    "TokenRevoked": "engine.auth.workflow",
    "authenticate": "engine.auth.workflow",
    "create_token": "engine.auth.workflow",
    "flush_last_used": "engine.auth.workflow",
    "list_tokens": "engine.auth.workflow",
    "revoke_token": "engine.auth.workflow",
    # users (issue 13)
    "RoleRequest": "engine.auth.workflow",
    "UserAdded": "engine.auth.workflow",
    "UserChanged": "engine.auth.workflow",
    "UserInfo": "engine.auth.workflow",
    "UserList": "engine.auth.workflow",
    "UserRequest": "engine.auth.workflow",
    "add_user": "engine.auth.workflow",
    "check_user": "engine.auth.workflow",
    "disable_user": "engine.auth.workflow",
    "list_users": "engine.auth.workflow",
    "set_role": "engine.auth.workflow",
    "sign_in": "engine.auth.workflow",
    "users_exist": "engine.auth.workflow",
    # sign-in policy (pure)
    "ABSOLUTE_TIMEOUT": "engine.auth._policy",
    "IDLE_TIMEOUT": "engine.auth._policy",
    "LOCKOUT": "engine.auth._policy",
    "MAX_FAILED_ATTEMPTS": "engine.auth._policy",
    "RECHECK_INTERVAL": "engine.auth._policy",
    "session_expiry": "engine.auth._policy",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
