"""The decision framework: the ladder's rules, table-driven, and every path ends in a recommendation."""

import itertools

import pytest

from core.decision.questionnaire import EDGES, NODES, Questionnaire, flow_dot, recommend

BASE = dict(need="behaviour", data_changes="monthly", labelled_examples=300, system_prompt_tokens=200, calls_per_day=1_000)


@pytest.mark.parametrize("answers, approach, rule, end", [
    ({}, "few-shot", "prompting-suffices", "prompt"),
    ({"need": "knowledge"}, "rag", "rag-knowledge", "rag"),
    ({"data_changes": "daily"}, "rag", "rag-changing-data", "prompt"),
    ({"labelled_examples": 20, "consistent_format": True}, "few-shot", "too-few-examples", "collect"),
    ({"system_prompt_tokens": 800}, "fine-tune-hosted", "ft-long-prompt", "ft_hosted"),
    ({"system_prompt_tokens": 500}, "few-shot", "prompting-suffices", "prompt"),   # > 500, not ≥
    ({"calls_per_day": 50_000}, "fine-tune-hosted", "ft-volume", "ft_hosted"),
    ({"consistent_format": True}, "fine-tune-hosted", "ft-format", "ft_hosted"),
    ({"small_must_match_large": True}, "fine-tune-hosted", "ft-distill", "ft_hosted"),
    ({"quality_gap_points": 25}, "fine-tune-hosted", "ft-gap", "ft_hosted"),
    ({"quality_gap_points": 25, "labelled_examples": 80}, "few-shot", "prompting-suffices", "prompt"),  # gap needs ≥ 100 ex.
    ({"quality_gap_points": 15}, "few-shot", "prompting-suffices", "prompt"),
    ({"consistent_format": True, "pii_in_data": True}, "fine-tune-local", "pii", "ft_local"),
    ({"consistent_format": True, "hosted_fine_tuning_open": False}, "fine-tune-local", "hosted-closed", "ft_local"),
    ({"latency_budget_ms": 50}, "fine-tune-local", "latency-local", "ft_local"),
    ({"consistent_format": True, "pays_back_before_retirement": False}, "fine-tune-local", "lifecycle", "ft_local"),
    ({"consistent_format": True, "pays_back_before_retirement": True}, "fine-tune-hosted", "lifecycle", "ft_hosted"),
    ({"need": "both", "consistent_format": True}, "rag", "rag-knowledge", "ft_hosted"),
])
def test_ladder(answers, approach, rule, end):
    d = recommend(Questionnaire(**{**BASE, **answers}))
    rec = {r.approach: r for r in d.recommendations}[approach]
    assert rule in rec.rules and rec.reasons
    assert d.path[-1] == end


def test_never_fine_tune_for_facts_even_with_every_trigger():
    d = recommend(Questionnaire(**{**BASE, "need": "knowledge", "consistent_format": True, "system_prompt_tokens": 2000,
                                "calls_per_day": 1e6, "quality_gap_points": 40}))
    assert not any(r.approach.startswith("fine-tune") for r in d.recommendations)
    assert "facts" in d.not_recommended["fine-tuning"]


def test_both_needs_recommend_rag_and_fine_tuning_together():
    d = recommend(Questionnaire(**{**BASE, "need": "both", "system_prompt_tokens": 900}))
    assert {"rag", "fine-tune-hosted"} <= {r.approach for r in d.primary}


ANSWER_SPACE = dict(
    need=["behaviour", "knowledge", "both"], data_changes=["monthly", "daily"], labelled_examples=[10, 60, 150],
    system_prompt_tokens=[100, 800], calls_per_day=[100, 50_000], latency_budget_ms=[None, 100],
    quality_gap_points=[None, 25], consistent_format=[False, True], small_must_match_large=[False, True],
    pii_in_data=[False, True], hosted_fine_tuning_open=[True, False], pays_back_before_retirement=[None, True, False],
)


def test_every_path_yields_a_recommendation_with_reasons_along_drawn_edges():
    edges = {(s, d) for s, d, _ in EDGES}
    ends = set()
    for values in itertools.product(*ANSWER_SPACE.values()):
        d = recommend(Questionnaire(**dict(zip(ANSWER_SPACE, values))))
        assert d.primary and all(r.reasons and r.rules and r.title for r in d.primary)
        assert set(zip(d.path, d.path[1:])) <= edges
        assert NODES[d.path[-1]][1] == "outcome"
        ends.add(d.path[-1])
    assert ends == {n for n, (_, kind) in NODES.items() if kind == "outcome"}  # every outcome is reachable


def test_flow_dot_highlights_exactly_the_taken_path():
    d = recommend(Questionnaire(**{**BASE, "consistent_format": True, "pii_in_data": True}))
    dot = flow_dot(d)
    assert dot.startswith("digraph") and dot.count("->") == len(EDGES)
    highlighted = [line.split("->")[0].strip() + "->" + line.split("->")[1].split("[")[0].strip()
                   for line in dot.splitlines() if "->" in line and "penwidth=3" in line]
    assert highlighted == [f"{s}->{t}" for s, t, _ in EDGES if (s, t) in d.edges_taken()]
    assert "q_hosted->ft_local" in highlighted


def test_measured_latency_replaces_the_typical_round_trip():
    fast_enough = recommend(Questionnaire(**{**BASE, "latency_budget_ms": 250, "prompted_latency_ms": 180}))
    assert fast_enough.path[-1] == "prompt"
    too_slow = recommend(Questionnaire(**{**BASE, "latency_budget_ms": 800, "prompted_latency_ms": 1200}))
    assert too_slow.path[-1] == "ft_local" and any("measured 1,200 ms" in r for r in too_slow.primary[0].reasons)
