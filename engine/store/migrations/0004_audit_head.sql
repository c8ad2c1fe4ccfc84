-- The audit chain's head (last seq and hash), written in the same transaction as each record,
-- so that deleting records from the end of the chain is detected too.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  VARCHAR NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
SELECT 1, seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1;
