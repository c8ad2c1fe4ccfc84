-- Credit pools, their assets, scenarios, runs, results and cashflows.
CREATE TABLE pools (
    pool_id        VARCHAR PRIMARY KEY,
    pool_name      VARCHAR NOT NULL,
    source_format  VARCHAR NOT NULL,
    source_file    VARCHAR,
    content_hash   VARCHAR NOT NULL,
    cutoff_date    DATE,
    n_assets       BIGINT NOT NULL,
    total_balance  DOUBLE NOT NULL,
    metadata       JSON,
    assumptions    JSON,
    warnings       JSON,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE assets (
    pool_id              VARCHAR NOT NULL,
    row_number           BIGINT NOT NULL,
    asset_id             VARCHAR NOT NULL,
    asset_class          VARCHAR NOT NULL,
    balance              DOUBLE NOT NULL,
    rate                 DOUBLE NOT NULL,
    term                 INTEGER NOT NULL,
    age                  INTEGER NOT NULL,
    original_balance     DOUBLE,
    rate_type            VARCHAR NOT NULL,
    prepayment_speed     DOUBLE NOT NULL,
    default_probability  DOUBLE NOT NULL,
    recovery_rate        DOUBLE NOT NULL,
    loss_severity        DOUBLE NOT NULL,
    status               VARCHAR NOT NULL,
    grade                VARCHAR,
    recovery_lag         INTEGER NOT NULL
);

CREATE TABLE scenarios (
    scenario_key    VARCHAR PRIMARY KEY,
    name            VARCHAR NOT NULL,
    description     VARCHAR,
    market_factors  JSON NOT NULL,
    source          VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE runs (
    run_id          VARCHAR PRIMARY KEY,
    kind            VARCHAR NOT NULL,
    pool_id         VARCHAR,
    pool_name       VARCHAR,
    inputs_hash     VARCHAR NOT NULL,
    configuration   JSON NOT NULL,
    engine_version  VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,
    error           VARCHAR,
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    execution_time  DOUBLE,
    timings         JSON,
    response        JSON
);

CREATE TABLE results (
    run_id          VARCHAR NOT NULL,
    scenario_key    VARCHAR NOT NULL,
    scenario_name   VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,
    error           VARCHAR,
    cache_hit       BOOLEAN NOT NULL,
    execution_time  DOUBLE,
    metrics         JSON,
    PRIMARY KEY (run_id, scenario_key)
);

CREATE TABLE cashflows (
    run_id               VARCHAR NOT NULL,
    scenario_key         VARCHAR NOT NULL,
    period               INTEGER NOT NULL,
    time_years           DOUBLE NOT NULL,
    beginning_balance    DOUBLE NOT NULL,
    scheduled_principal  DOUBLE NOT NULL,
    prepayment           DOUBLE NOT NULL,
    interest             DOUBLE NOT NULL,
    default_amount       DOUBLE NOT NULL,
    recovery             DOUBLE NOT NULL,
    loss                 DOUBLE NOT NULL,
    ending_balance       DOUBLE NOT NULL,
    residual             DOUBLE NOT NULL,
    total_cashflow       DOUBLE NOT NULL,
    discount_factor      DOUBLE NOT NULL,
    present_value        DOUBLE NOT NULL
);

CREATE TABLE loan_results (
    run_id                        VARCHAR NOT NULL,
    scenario_key                  VARCHAR NOT NULL,
    asset_id                      VARCHAR NOT NULL,
    asset_class                   VARCHAR,
    grade                         VARCHAR,
    starting_balance              DOUBLE NOT NULL,
    npv                           DOUBLE NOT NULL,
    total_principal               DOUBLE NOT NULL,
    total_interest                DOUBLE NOT NULL,
    total_default                 DOUBLE NOT NULL,
    total_recovery                DOUBLE NOT NULL,
    total_loss                    DOUBLE NOT NULL,
    cumulative_default_probability DOUBLE NOT NULL,
    residual_balance              DOUBLE NOT NULL,
    weighted_average_life         DOUBLE
);

CREATE TABLE result_cache (
    cache_key      VARCHAR PRIMARY KEY,
    engine_version VARCHAR NOT NULL,
    metrics        JSON NOT NULL,
    pool_cashflows JSON NOT NULL,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);
