-- Market risk: limit evaluations, breaches, false-positive records, the enforcement mode and the
-- hash-chained audit trail (engine.audit.chain). Append-only by convention: the engine never
-- updates or deletes a row of these tables.
CREATE TABLE IF NOT EXISTS audit_chain (
    seq         BIGINT PRIMARY KEY,
    event_type  VARCHAR NOT NULL,
    timestamp   VARCHAR NOT NULL,
    payload     VARCHAR NOT NULL,
    prev_hash   VARCHAR NOT NULL,
    hash        VARCHAR NOT NULL
);

CREATE TABLE market_evaluations (
    evaluation_id   VARCHAR PRIMARY KEY,
    evaluated_at    TIMESTAMP NOT NULL,
    mode            VARCHAR NOT NULL,
    action          VARCHAR NOT NULL,
    snapshot        VARCHAR NOT NULL,
    decisions       VARCHAR NOT NULL,
    latency_us      DOUBLE NOT NULL,
    audit_seq       BIGINT NOT NULL
);

CREATE TABLE market_breaches (
    breach_id          VARCHAR PRIMARY KEY,
    evaluation_id      VARCHAR NOT NULL,
    evaluated_at       TIMESTAMP NOT NULL,
    sensor             VARCHAR NOT NULL,
    rule               VARCHAR NOT NULL,
    metric             DOUBLE NOT NULL,
    threshold          DOUBLE NOT NULL,
    configured_action  VARCHAR NOT NULL,
    action             VARCHAR NOT NULL,
    enforced           BOOLEAN NOT NULL,
    mode               VARCHAR NOT NULL,
    reason             VARCHAR NOT NULL
);

CREATE TABLE market_false_positives (
    fp_id        VARCHAR PRIMARY KEY,
    breach_id    VARCHAR NOT NULL,
    sensor       VARCHAR NOT NULL,
    recorded_at  TIMESTAMP NOT NULL,
    reason       VARCHAR NOT NULL,
    confidence   DOUBLE NOT NULL
);

CREATE TABLE market_mode_changes (
    changed_at  TIMESTAMP NOT NULL,
    old_mode    VARCHAR,
    new_mode    VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    audit_seq   BIGINT NOT NULL
);
