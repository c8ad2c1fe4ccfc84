"""Bearer tokens of the HTTP API: roles, tokens stored as hashes, authentication, the role check.

One private module per concept, re-exported here:

- :mod:`engine.auth._roles`: the four roles (:data:`ROLES`), the :class:`Principal` a token
  names, and :func:`authorize` (``admin`` may do everything);
- :mod:`engine.auth._tokens`: the token's format (``slk_<token_id>_<secret>``), how a new one
  is made and its stored hash (SHA-256), with the sources for both;
- :mod:`engine.auth._last_used`: ``last_used_at``, written at most once a minute per token, in
  the background.

The user actions are in :mod:`engine.auth.workflow` (:func:`create_token`, :func:`list_tokens`,
:func:`revoke_token`, :func:`authenticate`, :func:`authorize`); storage in
:mod:`engine.auth._store` (table ``api_tokens``, migration 0009, SQL only there); the command
in :mod:`engine.auth.cli` (``stresslab tokens create|list|revoke``). Names load on first use
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
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
