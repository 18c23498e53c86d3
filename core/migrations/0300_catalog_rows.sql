-- Custom model-catalog rows added or corrected on the Decide page (the bundled data/catalog.toml is never edited).
CREATE TABLE catalog_rows (
    id         TEXT PRIMARY KEY,          -- the model id; replaces a bundled row with the same id
    row_json   TEXT NOT NULL,             -- the validated ModelInfo row
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
