-- The lab's notebook. Every later step (runs, jobs, prompts) records here.
CREATE TABLE datasets (
    hash        TEXT PRIMARY KEY,          -- content hash of task + examples + splits: the version
    name        TEXT NOT NULL,
    task_json   TEXT NOT NULL,
    parent_hash TEXT,                      -- the version this one was edited from
    note        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE examples (
    dataset_hash TEXT NOT NULL REFERENCES datasets(hash) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    example_id   TEXT NOT NULL,
    text         TEXT NOT NULL,
    label        TEXT,                     -- NULL for unlabelled rows
    split        TEXT NOT NULL DEFAULT 'train' CHECK (split IN ('train', 'dev', 'test')),
    PRIMARY KEY (dataset_hash, idx)
);
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    dataset_hash TEXT NOT NULL REFERENCES datasets(hash),
    split        TEXT NOT NULL,
    approach     TEXT NOT NULL,           -- the approach spec, e.g. local:rag:k=8
    config_hash  TEXT NOT NULL,
    config_json  TEXT NOT NULL,
    backend      TEXT NOT NULL,
    model        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'running',
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at  TEXT,
    UNIQUE (dataset_hash, split, config_hash)
);
CREATE TABLE predictions (
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    example_idx   INTEGER NOT NULL,
    gold          TEXT,
    label         TEXT,                   -- NULL when the output was invalid
    raw_output    TEXT NOT NULL DEFAULT '',
    latency_ms    REAL,
    input_tokens  INTEGER,
    output_tokens INTEGER,
    cost_usd      REAL,
    error         TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (run_id, example_idx)
);
-- Paid responses, keyed by a hash of (model, messages, parameters): a re-run never pays twice.
CREATE TABLE responses (
    key           TEXT PRIMARY KEY,
    base_url      TEXT NOT NULL DEFAULT '',
    model         TEXT NOT NULL,
    request_json  TEXT NOT NULL,
    response_json TEXT NOT NULL,
    latency_ms    REAL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    backend       TEXT NOT NULL,
    base_model    TEXT NOT NULL,
    dataset_hash  TEXT,
    params_json   TEXT NOT NULL DEFAULT '{}',
    status        TEXT NOT NULL,
    provider_id   TEXT,                   -- the hosted provider's job id
    model_ref     TEXT,                   -- fine-tuned model id or local path
    cost_usd      REAL,
    error         TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE job_events (
    job_id     TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    kind       TEXT NOT NULL,             -- status | message | metrics
    message    TEXT NOT NULL DEFAULT '',
    data_json  TEXT,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE prompts (
    hash         TEXT PRIMARY KEY,        -- hash of the approach config it stores
    dataset_hash TEXT,
    config_json  TEXT NOT NULL,
    dev_accuracy REAL,
    test_accuracy REAL,
    promoted     INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX predictions_run ON predictions(run_id);
CREATE INDEX examples_split ON examples(dataset_hash, split);
