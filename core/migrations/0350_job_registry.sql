-- The job registry (Train page): liveness of local workers, progress, versions of the resulting models.
ALTER TABLE jobs ADD COLUMN started_at TEXT;
ALTER TABLE jobs ADD COLUMN finished_at TEXT;
ALTER TABLE jobs ADD COLUMN progress REAL NOT NULL DEFAULT 0;      -- 0..1, for the progress bar
ALTER TABLE jobs ADD COLUMN progress_note TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN pid INTEGER;                           -- the local worker process
ALTER TABLE jobs ADD COLUMN heartbeat_at TEXT;                     -- a live local worker refreshes this every few seconds
ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN trained_tokens INTEGER;
ALTER TABLE jobs ADD COLUMN estimate_json TEXT;                    -- the cost/time estimate the user confirmed
ALTER TABLE jobs ADD COLUMN version INTEGER;                       -- model version within (backend, base_model)
ALTER TABLE jobs ADD COLUMN restarted_from TEXT;                   -- the interrupted job this one re-runs
-- A provider's event id, so that polling the same events twice (or from two processes) stores them once.
ALTER TABLE job_events ADD COLUMN provider_event_id TEXT;
CREATE UNIQUE INDEX job_events_provider ON job_events(job_id, provider_event_id) WHERE provider_event_id IS NOT NULL;
CREATE INDEX jobs_status ON jobs(status);
