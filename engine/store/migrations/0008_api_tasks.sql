-- Background tasks of the HTTP API (engine.tasks): an async stress run or validation, its state
-- and every state message it sent, so that a WebSocket client that connects late, or after a
-- server restart, reads the current state and then the rest, and GET /api/v1/tasks/{id} answers.
-- Times are naive UTC (the store's convention).
CREATE TABLE api_tasks (
    task_id        VARCHAR PRIMARY KEY,
    kind           VARCHAR NOT NULL,          -- 'credit_stress', 'validation'
    user_id        VARCHAR NOT NULL,          -- the token's user who asked
    label          VARCHAR,                   -- e.g. the pool's name
    status         VARCHAR NOT NULL,          -- 'queued', 'running', 'completed', 'error'
    message        VARCHAR NOT NULL,
    progress       DOUBLE NOT NULL,           -- 0 to 100
    run_id         VARCHAR,                   -- the run it recorded, once completed
    owner_pid      BIGINT NOT NULL,           -- the server process running it
    owner_started  VARCHAR NOT NULL,          -- that process's start time (/proc), against pid reuse
    seq            BIGINT NOT NULL,           -- the last message's number
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

-- Every message of a task, in order: {task_id, status, message, data} as the WebSocket sends it.
CREATE TABLE api_task_events (
    task_id   VARCHAR NOT NULL,
    seq       BIGINT NOT NULL,
    status    VARCHAR NOT NULL,
    message   VARCHAR NOT NULL,
    data      JSON,
    sent_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (task_id, seq)
);
