-- Batch API submissions (half-price evaluation): recorded the moment a provider accepts one, so a
-- killed run resumes polling the batch it already paid for instead of submitting it again.
CREATE TABLE batches (
    id            TEXT PRIMARY KEY,          -- the provider's batch id
    endpoint      TEXT NOT NULL,             -- base URL it was submitted to
    input_file_id TEXT NOT NULL,
    keys_json     TEXT NOT NULL,             -- the response keys (custom_id of each request) it answers
    status        TEXT NOT NULL,             -- the provider's status; done = results stored
    error         TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX batches_open ON batches(endpoint, status);
