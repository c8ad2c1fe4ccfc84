-- The live risk desk (engine.live): replay sessions and their resumable state, positions, P&L
-- history, risk snapshots, processed trades, alerts with their acknowledgement, trading states
-- and their changes (kill switch, resume, circuit breaker), compliance checks.
-- Times are naive UTC (the store's convention); event times are the replayed feed's times.

-- One row per replay of one set of inputs (session_id from the inputs' hash). A replay writes
-- its batches with the cursor (events processed) and the book in one transaction each, so a
-- replay killed at any point resumes after the last stored batch.
CREATE TABLE live_sessions (
    session_id       VARCHAR PRIMARY KEY,
    inputs_hash      VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,          -- 'example' or 'files'
    synthetic_trades BOOLEAN NOT NULL,
    trades_name      VARCHAR NOT NULL,
    prices_name      VARCHAR NOT NULL,
    accounts_name    VARCHAR NOT NULL,
    accounts         VARCHAR NOT NULL,          -- the accounts file as validated (JSON)
    instruments      VARCHAR NOT NULL,          -- the book's instruments, in column order (JSON)
    config           VARCHAR NOT NULL,          -- alert, circuit-breaker and risk settings (JSON)
    events_total     BIGINT NOT NULL,
    trades_total     BIGINT NOT NULL,
    first_event_at   TIMESTAMP,
    last_event_at    TIMESTAMP,
    cursor           BIGINT NOT NULL,           -- events processed, in replay order
    cursor_ns        BIGINT,                    -- time of the last processed event, ns UTC
    cursor_at        TIMESTAMP,                 -- the same, as a timestamp
    trades_applied   BIGINT NOT NULL,
    trades_rejected  BIGINT NOT NULL,
    alerts_raised    BIGINT NOT NULL,
    updates          BIGINT NOT NULL,           -- risk updates written
    status           VARCHAR NOT NULL,          -- running, paused, until, finished
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

-- The book: one row per account and instrument it has traded (quantity signed, units; average
-- cost, currency per unit; realized P&L net of fees, currency).
CREATE TABLE live_positions (
    session_id   VARCHAR NOT NULL,
    account_id   VARCHAR NOT NULL,
    instrument   VARCHAR NOT NULL,
    quantity     DOUBLE NOT NULL,
    avg_cost     DOUBLE NOT NULL,
    realized_pl  DOUBLE NOT NULL,
    PRIMARY KEY (session_id, account_id, instrument)
);

-- The latest price of each instrument (the marks).
CREATE TABLE live_marks (
    session_id  VARCHAR NOT NULL,
    instrument  VARCHAR NOT NULL,
    price       DOUBLE NOT NULL,
    PRIMARY KEY (session_id, instrument)
);

-- End of each closed UTC day: total P&L and equity of every account (the equity curve, and what
-- daily_pl and the drawdown are measured against).
CREATE TABLE live_eod (
    session_id  VARCHAR NOT NULL,
    day         DATE NOT NULL,
    account_id  VARCHAR NOT NULL,
    total_pl    DOUBLE NOT NULL,
    equity      DOUBLE NOT NULL,
    PRIMARY KEY (session_id, day, account_id)
);

-- What the alert rules remember of each account between updates, and the account's updates.
CREATE TABLE live_account_state (
    session_id   VARCHAR NOT NULL,
    account_id   VARCHAR NOT NULL,
    alert_state  VARCHAR NOT NULL,              -- {"active": [...], "scores": [...]}
    updates      BIGINT NOT NULL,
    last_update  TIMESTAMP,
    PRIMARY KEY (session_id, account_id)
);

-- P&L of an account at each update (the end of an event time that changed it), currency.
CREATE TABLE live_pl_history (
    session_id      VARCHAR NOT NULL,
    account_id      VARCHAR NOT NULL,
    event_index     BIGINT NOT NULL,            -- events processed at the update
    event_at        TIMESTAMP NOT NULL,
    total_pl        DOUBLE NOT NULL,
    unrealized_pl   DOUBLE NOT NULL,
    realized_pl     DOUBLE NOT NULL,
    daily_pl        DOUBLE NOT NULL,
    market_value    DOUBLE NOT NULL,
    total_exposure  DOUBLE NOT NULL,
    equity          DOUBLE NOT NULL,
    position_count  INTEGER NOT NULL,
    PRIMARY KEY (session_id, account_id, event_index)
);

-- The risk panel of an account at each update (the full panel as JSON).
CREATE TABLE live_risk_snapshots (
    session_id     VARCHAR NOT NULL,
    account_id     VARCHAR NOT NULL,
    event_index    BIGINT NOT NULL,
    event_at       TIMESTAMP NOT NULL,
    risk_score     DOUBLE NOT NULL,
    risk_level     VARCHAR NOT NULL,
    trading_state  VARCHAR NOT NULL,
    risk           VARCHAR NOT NULL,
    PRIMARY KEY (session_id, account_id, event_index)
);

-- Every trade the replay processed, applied or rejected (with the state and the reason): the
-- primary key makes applying a trade_id twice in a session impossible.
CREATE TABLE live_trades (
    session_id     VARCHAR NOT NULL,
    trade_id       VARCHAR NOT NULL,
    account_id     VARCHAR NOT NULL,
    traded_at      TIMESTAMP NOT NULL,
    instrument     VARCHAR NOT NULL,
    side           VARCHAR NOT NULL,
    quantity       DOUBLE NOT NULL,             -- units, > 0 (side gives the sign)
    price          DOUBLE NOT NULL,
    fees           DOUBLE NOT NULL,
    status         VARCHAR NOT NULL,            -- applied or rejected
    realized_pl    DOUBLE,                      -- applied: P&L the trade realized, net of fees
    trading_state  VARCHAR NOT NULL,            -- the account's state when it was checked
    reason         VARCHAR,                     -- rejected: why
    event_index    BIGINT NOT NULL,
    PRIMARY KEY (session_id, trade_id)
);

-- Alerts (engine.live._alerts), their acknowledgement and escalation. Each row is covered by
-- the audit record of its raising, and again by that of its acknowledgement or escalation.
CREATE TABLE live_alerts (
    alert_id          VARCHAR PRIMARY KEY,
    session_id        VARCHAR NOT NULL,
    account_id        VARCHAR NOT NULL,
    alert_type        VARCHAR NOT NULL,
    severity          VARCHAR NOT NULL,
    title             VARCHAR NOT NULL,
    message           VARCHAR NOT NULL,
    risk_score        DOUBLE NOT NULL,
    triggered_at      TIMESTAMP NOT NULL,         -- event time
    alert_key         VARCHAR NOT NULL,
    is_acknowledged   BOOLEAN NOT NULL,
    acknowledged_by   VARCHAR,
    acknowledged_at   TIMESTAMP,                  -- wall clock
    ack_note          VARCHAR,
    escalated_at      TIMESTAMP                   -- event time
);

-- The trading state of each account of the desk (ACTIVE, REDUCING, HALTED); an account without
-- a row is ACTIVE. Covered by the audit record of its last change.
CREATE TABLE live_trading_state (
    account_id  VARCHAR PRIMARY KEY,
    state       VARCHAR NOT NULL,
    change_id   VARCHAR NOT NULL,
    changed_at  TIMESTAMP NOT NULL,
    changed_by  VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL
);

-- Every change of a trading state: kill switch, resume, circuit breaker.
CREATE TABLE live_state_changes (
    change_id   VARCHAR PRIMARY KEY,
    account_id  VARCHAR NOT NULL,
    old_state   VARCHAR NOT NULL,
    new_state   VARCHAR NOT NULL,
    action      VARCHAR NOT NULL,               -- kill_switch, resume, circuit_breaker
    changed_at  TIMESTAMP NOT NULL,             -- wall clock
    changed_by  VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    session_id  VARCHAR,                        -- the replay the account was in, if any
    event_at    TIMESTAMP                       -- its event time then, if any
);

-- Compliance checks of an account and the outcome of each rule.
CREATE TABLE live_compliance_checks (
    check_id         VARCHAR PRIMARY KEY,
    account_id       VARCHAR NOT NULL,
    session_id       VARCHAR NOT NULL,
    checked_at       TIMESTAMP NOT NULL,        -- wall clock
    as_of            TIMESTAMP,                 -- event time of the account's state
    regulations      VARCHAR NOT NULL,          -- JSON list
    rules_hash       VARCHAR NOT NULL,          -- sha256 of the rules file
    compliant        BOOLEAN NOT NULL,
    rules_checked    INTEGER NOT NULL,
    non_compliant    INTEGER NOT NULL
);

CREATE TABLE live_compliance_results (
    check_id      VARCHAR NOT NULL,
    rule_id       VARCHAR NOT NULL,
    regulation    VARCHAR NOT NULL,
    title         VARCHAR NOT NULL,
    metric        VARCHAR NOT NULL,
    comparison    VARCHAR NOT NULL,
    threshold     DOUBLE NOT NULL,
    unit          VARCHAR NOT NULL,
    value         DOUBLE,
    instrument    VARCHAR,
    status        VARCHAR NOT NULL,             -- compliant, non_compliant, not_applicable
    detail        VARCHAR NOT NULL,
    action        VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    PRIMARY KEY (check_id, rule_id)
);
