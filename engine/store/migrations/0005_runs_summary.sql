-- One list of runs across capabilities: a one-line summary on every run, written by the
-- capability that records it, and limit evaluations listed as runs of kind 'market'.
ALTER TABLE runs ADD COLUMN summary VARCHAR;

UPDATE runs SET summary = status WHERE summary IS NULL;

INSERT INTO runs (run_id, kind, pool_id, pool_name, inputs_hash, configuration, engine_version,
                  status, error, started_at, finished_at, execution_time, timings, response,
                  summary)
SELECT evaluation_id, 'market', NULL, 'limit evaluation', '', '{}', 'unknown', 'success', NULL,
       evaluated_at, evaluated_at, latency_us / 1e6, NULL, NULL,
       'limit evaluation (' || mode || ' mode): ' || action
FROM market_evaluations
WHERE evaluation_id NOT IN (SELECT run_id FROM runs);
