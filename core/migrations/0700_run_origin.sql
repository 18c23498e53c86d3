-- Where a run's predictions came from: '' for runs made in this workspace,
-- 'preloaded: <command> on <date>' for the results shipped in data/results.
ALTER TABLE runs ADD COLUMN origin TEXT NOT NULL DEFAULT '';
