-- What the owner of a public deployment shows visitors: dataset versions marked published, with their
-- runs and prompts (core/workspaces.py owns this table). Visitors see copies, never the shared rows.
CREATE TABLE published (
    dataset_hash TEXT PRIMARY KEY REFERENCES datasets(hash) ON DELETE CASCADE,
    published_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
