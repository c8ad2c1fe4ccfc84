-- The signed audit trail (engine.audit.chain, engine.audit.keys).
-- store_meta: facts about this store file; 'store_id' is a random id the chain's head signature
-- and the checkpoints in the key directory name, so a store replaced at the same path is found.
CREATE TABLE store_meta (
    key    VARCHAR PRIMARY KEY,
    value  VARCHAR NOT NULL
);
INSERT INTO store_meta (key, value) VALUES ('store_id', uuid()::VARCHAR);

-- The head's Ed25519 signature over canonical JSON {store_id, seq, hash}, and the signing key's
-- id; NULL when the trail is unsigned (no key in the key directory).
ALTER TABLE audit_head ADD COLUMN signature VARCHAR;
ALTER TABLE audit_head ADD COLUMN key_id VARCHAR;

-- The rows a record covers, [{table, key, row_hash}] as canonical JSON, part of the record's
-- hash; NULL for records that cover no row (every record written before this migration).
ALTER TABLE audit_chain ADD COLUMN covers VARCHAR;

-- Coverage of decision rows starts now. A store without such rows starts covered; a store
-- that has some gets a one-off 'coverage_baseline' record listing them on its next append.
INSERT INTO store_meta (key, value)
SELECT 'coverage_from_seq', CAST(coalesce((SELECT max(seq) FROM audit_chain), 0) + 1 AS VARCHAR)
WHERE (SELECT count(*) FROM runs) + (SELECT count(*) FROM market_evaluations)
    + (SELECT count(*) FROM market_breaches) + (SELECT count(*) FROM market_false_positives)
    + (SELECT count(*) FROM market_mode_changes) + (SELECT count(*) FROM ml_runs)
    + (SELECT count(*) FROM ml_signoffs) = 0;
