"""Data: Task, Example, Dataset; import, validation, the data report, quality, PII, versions, export."""
