-- Column mappings saved by name (engine.ingest.ColumnMapping as JSON), and the rows of a tape
-- quarantined when it was imported with bad_rows="quarantine" (issue 10).
-- A quarantined row keeps its 1-based data row number in the source tape, the source values as
-- read (column -> value, JSON) and every rule it broke ([{column, value, rule}], JSON). It is
-- stored in the same transaction as its pool and deleted with it.
CREATE TABLE column_mappings (
    name        VARCHAR PRIMARY KEY,   -- 1..80 characters, as typed (case-sensitive)
    mapping     JSON NOT NULL,         -- ColumnMapping.model_dump(mode="json")
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE quarantined_rows (
    pool_id        VARCHAR NOT NULL,
    source_row     BIGINT NOT NULL,
    source_values  JSON NOT NULL,
    issues         JSON NOT NULL,
    PRIMARY KEY (pool_id, source_row)
);

ALTER TABLE pools ADD COLUMN n_quarantined BIGINT DEFAULT 0;
