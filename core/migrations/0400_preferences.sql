-- Preference pairs (DPO) that came with an imported dataset version: the answer a model should NOT give.
-- Kept beside the version (not in its content hash): they travel to edited versions while the example is unchanged.
CREATE TABLE preferences (
    dataset_hash TEXT NOT NULL REFERENCES datasets(hash) ON DELETE CASCADE,
    example_id   TEXT NOT NULL,
    rejected     TEXT NOT NULL,
    PRIMARY KEY (dataset_hash, example_id)
);
