"""The prompt search space and the search's pure parts: candidates, guidelines, exemplars, planning, Pareto."""

import math
import re
from collections import Counter

import pytest

from core.data.dataset import Example
from core.prompts.halving import halving_cost, pareto_front, plan_size, stratified_order
from core.prompts.space import (NAIVE_INSTRUCTION, Candidate, SearchSpace, diverse_exemplars, discriminative_terms,
                               generate, guidelines_for)
from core.prompting import messages
from tests.eval_data import WORDS, make_examples, make_task


def test_candidates_start_with_the_naive_prompt_and_are_unique():
    task, train = make_task(), make_examples(6, "train", 0)
    space = SearchSpace(ks=(0, 2, 4), selections=("random", "balanced", "retrieved"), retriever="tfidf")
    cands = generate(task, train, "d1", "openai", "m", space)
    naive = cands[0]
    assert (naive.origin, naive.k, naive.instruction, naive.has_guidelines, naive.output) == \
           ("naive", 0, NAIVE_INSTRUCTION, False, "text")
    system = messages(task, naive.prompt_config(), "x")[0]["content"]
    assert all(f"- {lab}\n" in system + "\n" for lab in task.label_names)  # bare names only
    assert len({c.hash for c in cands}) == len(cands)
    # This task's own instruction is the generic one, so "task" and "naive" are one wording: 3 distinct
    # instructions × 3 guideline variants × (zero-shot + 2 k × 3 selections) × 2 formats (the naive one among them).
    assert task.instruction == NAIVE_INSTRUCTION
    assert len(cands) == 3 * 3 * (1 + 2 * 3) * 2
    assert all(not c.exemplar_ids for c in cands if c.selection == "retrieved")
    assert all(len(c.exemplar_ids) == c.k for c in cands if c.selection in ("random", "balanced"))
    # The order is a seeded shuffle: the same space gives the same candidates in the same order.
    assert [c.hash for c in generate(task, train, "d1", "openai", "m", space)] == [c.hash for c in cands]


def test_a_candidate_is_hashed_by_what_changes_its_predictions():
    task = make_task()
    base = Candidate("openai", "m", "d1", "Classify.", guidelines_for("task", task, {}), k=2, selection="balanced",
                     exemplar_ids=("a", "b"), output="json")
    assert Candidate.from_dict(base.to_dict()) == base and Candidate.from_dict(base.to_dict()).hash == base.hash
    same_but_named = Candidate.from_dict({**base.to_dict(), "origin": "meta", "instruction_name": "x"})
    assert same_but_named.hash == base.hash
    for change in ({"exemplar_ids": ["b", "a"]}, {"output": "text"}, {"model": "other"}, {"dataset": "d2"},
                   {"instruction": "Classify!"}):
        assert Candidate.from_dict({**base.to_dict(), **change}).hash != base.hash, change


def test_local_candidates_that_predict_alike_are_one():
    task, train = make_task(), make_examples(6, "train", 0)
    space = SearchSpace.for_backend("local", 4, len(train), retriever="tfidf", selections=("random", "retrieved"))
    cands = generate(task, train, "d1", "local", "", space)
    assert len({c.local_identity() for c in cands}) == len(cands)
    assert sum(c.k == 0 and not c.has_guidelines for c in cands) == 1  # the naive one
    assert max(c.k for c in cands if c.selection == "random") == 16  # up to the train size (24): 4 × 4


def test_discriminative_terms_come_from_the_label_own_words():
    train = make_examples(10, "train", 0)
    terms = discriminative_terms(train, list(WORDS))
    for label, words in WORDS.items():
        vocab = {w for phrase in words for w in re.findall(r"[a-z]+", phrase)}
        assert terms[label], label
        assert set(terms[label][:3]) <= vocab, (label, terms[label])
    guides = dict(guidelines_for("short+terms", make_task(), terms))
    assert guides["billing"].startswith("invoices, charges") and "Typical words:" in guides["billing"]


def test_diverse_exemplars_are_class_balanced_and_avoid_near_duplicates():
    from sklearn.feature_extraction.text import TfidfVectorizer

    train = [Example(f"b{i}", "my invoice is wrong please help", "billing") for i in range(4)]
    train += [Example("b9", "refund for a double charge on my card", "billing")]
    train += [Example(f"s{i}", "where is my parcel", "shipping") for i in range(4)]
    train += [Example("s9", "the courier lost the package with tracking number", "shipping")]
    vectors = TfidfVectorizer().fit_transform([e.text for e in train])
    chosen = diverse_exemplars(train, 4, vectors)
    assert Counter(e.label for e in chosen) == {"billing": 2, "shipping": 2}
    assert len({e.text for e in chosen}) == 4  # the near-duplicates are shown once each
    assert all(a.label != b.label for a, b in zip(chosen, chosen[1:]))  # interleaved, no run of one class


def test_stratified_order_keeps_every_prefix_balanced():
    examples = list(enumerate(make_examples(8, "dev", 3)))
    order = stratified_order(examples, seed=0)
    assert sorted(order) == list(range(len(examples)))
    labels = {i: e.label for i, e in examples}
    for n in (4, 8, 12, 16):
        assert set(Counter(labels[i] for i in order[:n]).values()) == {n // 4}


def test_pareto_front_keeps_only_undominated_points():
    pts = [(100, 0.5), (200, 0.7), (150, 0.6), (300, 0.7), (120, 0.4), (400, 0.9)]
    assert pareto_front(pts) == [True, True, True, False, False, True]


@pytest.mark.parametrize("others, budget", [(10, 200), (100, 500), (300, 2000), (5, 10_000)])
def test_the_plan_fits_the_budget_and_uses_it(others, budget):
    dev_n, first = 64, 8
    new, meta, rounds, n0 = plan_size(others, 2, budget, dev_n, first)
    assert 1 <= new <= others and n0 >= first
    cost, r = halving_cost(1, new, meta, n0, dev_n)
    assert cost <= budget and r == rounds
    if new < others:  # one more candidate would not fit with the minimum first round
        assert halving_cost(1, new + 1, min(2, (new + 1) // 3), first, dev_n)[0] > budget
    if n0 < dev_n:  # a longer first round would not fit either
        assert halving_cost(1, new, meta, n0 + 1, dev_n)[0] > budget
    else:
        assert rounds == 1  # everything fits on the whole dev split: no halving needed


def test_halving_cost_counts_rounds_of_doubling_prefixes():
    # 8 new candidates + the free naive one, first round on 8 examples of 64:
    # round 1: 8×8 = 64; 9 members -> 5 survive (assumed all new): 5×8 more; -> 3 survive: 3×16 more (last)
    assert halving_cost(1, 8, 0, 8, 64) == (64 + 40 + 48, 3)
    assert halving_cost(1, 3, 0, 64, 64) == (3 * 64, 1)
    assert math.isclose(halving_cost(1, 6, 2, 8, 64)[0], 6 * 8 + 2 * 8 + 1 + 5 * 8 + 3 * 16)



def test_a_space_refuses_unknown_values():
    with pytest.raises(ValueError, match="florid"):
        SearchSpace(descriptions=("florid",))
    with pytest.raises(ValueError, match="k must be"):
        SearchSpace(ks=(-1,))


def test_the_ledger_plans_each_example_once_and_reserves_the_test_calls():
    from core.prompts.budget import Budget, Ledger

    ledger = Ledger(Budget(calls=100, usd=1.0))
    ledger.plan_calls("c", "dev", [3, 1, 2])
    ledger.plan_calls("c", "dev", [3, 1, 2, 5])  # a longer prefix: only the new example is planned
    assert ledger.planned_calls == 4 and ledger.planned_n("c", [3, 1, 2, 4, 5]) == 3
    ledger.reserve(90, 20, 0.25)
    ledger.spend(10, 0.5)
    assert (ledger.calls_left(), ledger.planned_left(), ledger.usd_left()) == (70, 66, 0.25)
    ledger.release()
    assert ledger.calls_left() == 90 and ledger.usd_left() == 0.5


def test_roles_figures_and_chart_of_a_stored_result():
    from core.prompts import charts
    from core.prompts.results import headline, role

    row = dict(hash="h", name="n", origin="template", dev_accuracy=0.5, dev_n=8, round=0, tokens_per_call=100.0,
               cost_per_1k_usd=0.0, chosen=False, naive=False, pareto_tokens=False, pareto_cost=False)
    rows = [row, {**row, "hash": "c", "chosen": True, "dev_n": 68, "dev_accuracy": 0.8, "pareto_tokens": True},
            {**row, "hash": "v", "naive": True, "dev_n": 68}, {**row, "hash": "p", "dev_n": 68, "pareto_cost": True},
            {**row, "hash": "a", "dev_n": 68}]
    assert [role(r, 68) for r in rows] == ["dropped early", "chosen", "naive", "Pareto front", "scored on all dev"]
    df = charts.candidates_frame(rows, 68)
    assert list(df["hash"])[0] == "c" and set(df.columns) >= set(charts.TABLE_COLUMNS)
    assert "hconcat" not in charts.search_chart(df, local=False).to_dict()  # every candidate free: no $ chart
    df["cost_per_1k_usd"] = 1.0
    assert "hconcat" in charts.search_chart(df, local=False).to_dict()
    result = {"chosen": rows[1], "naive_dev_accuracy": 0.5,
              "test": {"n": 113, "chosen_accuracy": 0.75, "naive_accuracy": None}}
    figures = headline(result)
    assert [f["value"] for f in figures] == ["80.0%", "75.0%", "50.0%", "–"]
    assert figures[1]["delta"] == "-5.0 pts vs dev"
