-- Prompt optimization (the Prompts page): every candidate prompt is a row of `prompts`
-- (a hashed approach config); a search over them is an `optimizations` row.
ALTER TABLE prompts ADD COLUMN backend TEXT NOT NULL DEFAULT '';      -- local | openai
ALTER TABLE prompts ADD COLUMN model TEXT NOT NULL DEFAULT '';        -- the chat model it was scored on ('' local)
ALTER TABLE prompts ADD COLUMN name TEXT NOT NULL DEFAULT '';         -- a readable summary of the design
ALTER TABLE prompts ADD COLUMN dev_n INTEGER;                         -- dev examples dev_accuracy is measured on
ALTER TABLE prompts ADD COLUMN test_n INTEGER;
ALTER TABLE prompts ADD COLUMN tokens_per_call REAL;
ALTER TABLE prompts ADD COLUMN cost_per_1k_usd REAL;
ALTER TABLE prompts ADD COLUMN optimization_id INTEGER;               -- the search that last scored it
ALTER TABLE prompts ADD COLUMN version INTEGER;                       -- 1, 2, … per dataset, given at first promotion
ALTER TABLE prompts ADD COLUMN promoted_at TEXT;
CREATE INDEX prompts_dataset ON prompts(dataset_hash, promoted);

CREATE TABLE optimizations (
    id            INTEGER PRIMARY KEY,
    dataset_hash  TEXT NOT NULL,
    backend       TEXT NOT NULL,          -- local | openai:<model>
    settings_json TEXT NOT NULL,          -- search space, budget, seed
    status        TEXT NOT NULL DEFAULT 'running',  -- running | finished | budget (ran out mid-search) | stopped | failed
    calls_used    INTEGER NOT NULL DEFAULT 0,       -- new (paid) calls; cached answers are free
    usd_used      REAL NOT NULL DEFAULT 0,
    result_json   TEXT,                   -- the search's outcome (candidates, choice, honesty)
    error         TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at   TEXT
);

-- Sentence embeddings, so a rerun (or another candidate) never encodes the same text twice.
CREATE TABLE embeddings (
    encoder   TEXT NOT NULL,
    text_sha  TEXT NOT NULL,
    dim       INTEGER NOT NULL,
    vector    BLOB NOT NULL,              -- float32, L2-normalised
    PRIMARY KEY (encoder, text_sha)
);
