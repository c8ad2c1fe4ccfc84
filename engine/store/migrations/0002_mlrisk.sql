-- ML robustness workbench: validation runs (the common row is in runs, kind='mlrisk'),
-- their artifacts, degradation rows, validator sign-offs and saved scenario handbooks.
CREATE TABLE ml_runs (
    run_id          VARCHAR PRIMARY KEY,
    dataset_name    VARCHAR NOT NULL,
    dataset_sha256  VARCHAR NOT NULL,
    task            VARCHAR NOT NULL,
    model_kind      VARCHAR NOT NULL,
    target          VARCHAR NOT NULL,
    n_rows          BIGINT NOT NULL,
    decision        VARCHAR NOT NULL,
    validator       VARCHAR NOT NULL,
    generated_at    VARCHAR NOT NULL
);

CREATE TABLE ml_artifacts (
    run_id   VARCHAR NOT NULL,
    name     VARCHAR NOT NULL,
    sha256   VARCHAR NOT NULL,
    content  BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE ml_degradation (
    run_id           VARCHAR NOT NULL,
    scenario_id      VARCHAR NOT NULL,
    stress_type      VARCHAR NOT NULL,
    severity_level   INTEGER NOT NULL,
    metric_name      VARCHAR NOT NULL,
    baseline_value   DOUBLE,
    stressed_value   DOUBLE,
    degradation_pct  DOUBLE,
    threshold        DOUBLE NOT NULL,
    status           VARCHAR NOT NULL,
    PRIMARY KEY (run_id, scenario_id, metric_name)
);

CREATE TABLE ml_signoffs (
    run_id     VARCHAR NOT NULL,
    signed_at  TIMESTAMP NOT NULL,
    name       VARCHAR NOT NULL,
    comment    VARCHAR NOT NULL,
    decision   VARCHAR NOT NULL
);

CREATE TABLE ml_handbooks (
    name        VARCHAR PRIMARY KEY,
    content     JSON NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
