-- Bearer tokens of the HTTP API (engine.auth). A token names a user and a role; issue 13's users
-- and roles apply to these tokens too, so user_name is the user's name and role one of the four
-- roles. The token itself is never stored: token_hash is the SHA-256 (hex) of its text, shown once
-- by `stresslab tokens create`. Times are naive UTC (the store's convention).
-- Rows are written with an audit record each ('token_created', 'token_revoked'), not covered by
-- it: last_used_at changes on use, which would break a covered row's hash.
CREATE TABLE api_tokens (
    token_id      VARCHAR PRIMARY KEY,            -- 16 hex digits, also inside the token's text
    user_name     VARCHAR NOT NULL,
    role          VARCHAR NOT NULL
                  CHECK (role IN ('analyst', 'validator', 'leadership', 'admin')),
    token_hash    VARCHAR NOT NULL UNIQUE,        -- SHA-256 of the token's text, 64 hex digits
    label         VARCHAR,                        -- what it is for ("nightly scheduler")
    created_at    TIMESTAMP NOT NULL,
    created_by    VARCHAR NOT NULL,
    revoked_at    TIMESTAMP,                      -- NULL while the token is active
    revoked_by    VARCHAR,
    last_used_at  TIMESTAMP                       -- written at most once a minute per token
);
