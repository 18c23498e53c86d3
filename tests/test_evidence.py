"""Evidence mode: measured inputs from the store's runs, each traced to its run; nothing when there are none."""

import pytest

from core.decision.evidence import load_evidence, run_summaries


def _run(store, approach, backend, model, rows, split="test"):
    """A finished run with predictions rows = [(gold, label, latency_ms, input_tokens, output_tokens, error)]."""
    with store.transaction() as c:
        c.execute("INSERT OR IGNORE INTO datasets(hash, name, task_json) VALUES ('abc123', 'tickets', '{}')")
        run_id = c.execute(
            "INSERT INTO runs(dataset_hash, split, approach, config_hash, config_json, backend, model, status)"
            " VALUES ('abc123', ?, ?, ?, '{}', ?, ?, 'done')", (split, approach, approach, backend, model)).lastrowid
        for i, (gold, label, lat, tin, tout, err) in enumerate(rows):
            c.execute("INSERT INTO predictions(run_id, example_idx, gold, label, latency_ms, input_tokens, output_tokens, cost_usd, error)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (run_id, i, gold, label, lat, tin, tout, 0.0001 if tin else None, err))
    return run_id


def test_no_runs_fills_nothing(store):
    ev = load_evidence(store)
    assert ev.filled() == {} and ev.runs == []


def test_measured_inputs_name_their_run(store):
    prompted = _run(store, "openai:gpt-4o-mini:zero-shot", "openai", "gpt-4o-mini", [
        ("billing", "billing", 400, 410, 3, None), ("bug", "billing", 600, 390, 3, None),
        ("bug", None, 500, 400, 9, None),              # invalid output: counts as wrong
        ("bug", None, None, None, None, "timeout"),    # failed call: counts as wrong too (core.evaluation.metrics)
    ])
    tuned = _run(store, "openai:ft:gpt-4o-mini-2024-07-18:org::x1:zero-shot", "openai", "ft:gpt-4o-mini-2024-07-18:org::x1", [
        ("billing", "billing", 300, 12, 2, None), ("bug", "bug", 350, 14, 2, None), ("bug", "bug", 320, 13, 2, None),
    ])
    _run(store, "classical:tfidf-lr", "classical", "", [("bug", "bug", 1, None, None, None)], split="dev")  # other split

    runs = {r.id: r for r in run_summaries(store, split="test")}
    assert set(runs) == {prompted, tuned}
    assert runs[prompted].n == 4 and runs[prompted].accuracy == pytest.approx(1 / 4)
    assert runs[prompted].latency_p50_ms == 500 and runs[tuned].family == "fine-tuned"

    ev = load_evidence(store, dataset_hash="abc123")
    assert ev.prompt_tokens.value == pytest.approx(400) and ev.prompt_tokens.run_id == prompted
    assert ev.finetuned_prompt_tokens.value == pytest.approx(13) and ev.finetuned_prompt_tokens.run_id == tuned
    assert ev.quality_gap_points.value == pytest.approx(100 * (1 - 1 / 4))
    assert f"run #{tuned}" in ev.quality_gap_points.source and f"run #{prompted}" in ev.quality_gap_points.source
    assert ev.prompted_latency_ms.value == 500 and ev.rag_prompt_tokens is None


def test_the_promoted_prompt_is_the_baseline_even_when_another_prompt_scored_higher(store):
    from core.decision.evidence import evidence_from_runs

    promoted_spec = "openai:gpt-4o-mini:prompt:1a2b3c4d5e6f7a8b"
    promoted = _run(store, promoted_spec, "openai", "gpt-4o-mini", [
        ("billing", "billing", 200, 120, 2, None), ("bug", "billing", 220, 118, 2, None)])
    other = _run(store, "openai:gpt-4o-mini:few-shot:k=8", "openai", "gpt-4o-mini", [
        ("billing", "billing", 500, 900, 2, None), ("bug", "bug", 520, 880, 2, None)])
    runs = run_summaries(store, split="test")
    ev = evidence_from_runs(runs, baseline_spec=promoted_spec)
    assert ev.prompt_tokens.run_id == promoted and ev.prompt_tokens.value == pytest.approx(119)
    assert ev.prompted_latency_ms.run_id == promoted
    assert ev.quality_gap_points.value == pytest.approx(50)  # the best run (other, 100 %) vs the baseline (50 %)
    # Without a promoted prompt the most accurate prompting run is the baseline.
    assert evidence_from_runs(runs).prompt_tokens.run_id == other


def test_the_promoted_baseline_is_its_newest_run_in_any_order():
    """Review fix: with two runs of the promoted prompt the baseline is the newest, not `own[-1]` (the oldest)."""
    from core.decision.evidence import RunSummary, evidence_from_runs

    spec = "openai:gpt-4o-mini:prompt:1a2b3c4d5e6f7a8b"

    def summary(run_id, created, tokens):
        return RunSummary(run_id, spec, "prompting", "openai", "gpt-4o-mini", "abc123", "test", "finished", created,
                          10, 0.5, tokens, 2.0, 300.0, 0.0001)

    old, new = summary(1, "2026-11-01T10:00:00", 500.0), summary(2, "2026-11-20T10:00:00", 120.0)
    for order in ([new, old], [old, new]):
        ev = evidence_from_runs(order, baseline_spec=spec)
        assert ev.prompt_tokens.run_id == 2 and ev.prompt_tokens.value == 120.0
