"""Evaluation: runs (the only owner of runs and predictions), metrics, statistics, the report, charts, capability check, pre-loaded results."""
