-- Users of the app (engine.auth, issue 13): a name, one of the four roles, an Argon2id password
-- hash (argon2-cffi's PHC string: "$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>", never the
-- password), a disabled flag and the sign-in lockout's state. The same names and roles apply to
-- the HTTP API's tokens (api_tokens.user_name): once a user exists, a token authenticates only
-- while its user exists and is enabled, and grants the user's current role.
-- Times are naive UTC (the store's convention). Rows are written with an audit record each
-- ('user_added', 'user_disabled', 'user_role_set', 'user_locked'), not covered by it:
-- failed_attempts and last_sign_in_at change on every sign-in, which would break a covered row.
CREATE TABLE users (
    user_name        VARCHAR PRIMARY KEY,         -- as typed at sign-in (case-sensitive)
    role             VARCHAR NOT NULL
                     CHECK (role IN ('analyst', 'validator', 'leadership', 'admin')),
    password_hash    VARCHAR NOT NULL,            -- Argon2id, PHC string format
    disabled         BOOLEAN NOT NULL DEFAULT false,
    created_at       TIMESTAMP NOT NULL,
    created_by       VARCHAR NOT NULL,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,  -- wrong passwords in a row since the last success
    locked_until     TIMESTAMP,                   -- sign-in refused before this time (NULL: never locked)
    last_sign_in_at  TIMESTAMP,
    changed_at       TIMESTAMP,                   -- last disable or role change
    changed_by       VARCHAR
);
