"""The Decide page's economics, decided in core: token counts before measurements, whether a fine-tune pays
back before retirement, the figures and sentences shown, custom catalog rows."""

import datetime as dt
from dataclasses import replace

import pytest

from core import catalog as cat
from core import economics as eco
from core.catalog import load_bundled
from core.data import dataset as datasets
from core.decision import memo, scenario

CAT = load_bundled()
MINI = CAT.get("gpt-4o-mini-2024-07-18")
START = dt.date(2026, 11, 22)


def _compare(calls=10_000, prompt=400, training_tokens=100_000):
    return eco.compare(MINI, eco.Scenario(MINI.id, calls, prompt, 5, 5, training_tokens, epochs=3), start=START)


def test_without_labelled_examples_the_token_counts_are_the_system_prompt_plus_guesses():
    sample = datasets.load_sample()
    unlabelled = sample.with_examples([replace(e, label=None) for e in sample.examples])
    guess = scenario.token_defaults(unlabelled, "Classify.", MINI.id, system_prompt_tokens=250)
    assert (guess.prompt_tokens, guess.finetuned_prompt_tokens, guess.rag_prompt_tokens) == (310, 60, 850)
    assert (guess.output_tokens, guess.training_examples, guess.training_tokens) == (3, 100, 10_000)
    assert scenario.token_defaults(None, "Classify.", MINI.id, 250) == guess  # no dataset at all: the same guesses


def test_with_labelled_examples_the_token_counts_are_counted():
    sample = datasets.load_sample()
    counted = scenario.token_defaults(sample, sample.task.system_prompt(), MINI.id, system_prompt_tokens=0)
    assert counted.training_examples == len([e for e in sample.split("train") if e.label])
    assert counted.prompt_tokens > counted.system_prompt_tokens > 0
    assert counted.rag_prompt_tokens > counted.prompt_tokens > counted.finetuned_prompt_tokens


def test_the_memo_prices_the_same_token_counts_as_the_page():
    sample = datasets.load_sample()
    profile = scenario.dataset_profile(sample, sample.task.system_prompt(), memo.DEFAULT_MODEL)
    s = memo.default_scenario(sample)
    assert (s.prompt_tokens, s.rag_prompt_tokens, s.training_tokens) == (
        profile.prompt_tokens, profile.rag_prompt_tokens, profile.training_tokens)
    with pytest.raises(ValueError, match="labelled"):
        memo.default_scenario(sample.with_examples([replace(e, label=None) for e in sample.examples]))


def test_pays_back_before_retirement_says_yes_no_or_nothing():
    fast = _compare()
    assert fast.retires_before_break_even is False and fast.pays_back_before_retirement is True
    never = _compare(calls=10, prompt=20, training_tokens=1_000_000)
    assert never.pays_back_before_retirement is False
    assert replace(fast, retires_before_break_even=None).pays_back_before_retirement is None


def test_the_sentences_follow_the_comparison():
    good, need = scenario.payback_sentences(_compare())
    assert good.startswith("Pays back on ") and MINI.retires.isoformat() in good
    assert "calls/day" in need
    never, _ = scenario.payback_sentences(_compare(calls=10, prompt=20, training_tokens=1_000_000))
    assert never is None
    successor = MINI.model_copy(update={"id": "successor-mini", "retires": None, "no_new_jobs": None})
    yearly = eco.Scenario(MINI.id, 10_000, 400, 5, 5, 100_000, epochs=3, horizon_days=365)
    assert "re-training on a successor" in scenario.retraining_sentence(
        eco.compare(MINI, yearly, start=START, successor=successor))
    assert "path ends" in scenario.retraining_sentence(eco.compare(MINI, yearly, start=START))
    assert scenario.retraining_sentence(replace(_compare(), retraining_days=[], finetune_path_ends=None)) is None


def test_headline_figures_say_never_when_the_fine_tune_never_pays_back():
    figures = {f.label: f for f in scenario.headline(_compare(calls=10, prompt=20, training_tokens=1_000_000), MINI,
                                                      1_000_000, 3)}
    assert figures["Break-even"].value == "never"
    assert figures["Fine-tuned / day"].delta.endswith("$/day") and figures["Fine-tuned / day"].delta.startswith("+")
    assert "1,000,000 tokens × 3 epochs" in figures["Training (one-time)"].help


def test_cost_per_1k_lists_the_local_model_at_zero_when_the_catalog_has_one():
    rows, note = scenario.cost_per_1k_rows(eco.approach_costs(MINI, eco.Scenario(MINI.id, 1000, 400, 5, 5, 1000)), CAT)
    assert rows[-1] == {"approach": "local", "usd_per_1k_calls": 0.0} and note.startswith("local = ")
    only_mini = cat.Catalog({MINI.id: MINI})
    rows, note = scenario.cost_per_1k_rows(eco.approach_costs(MINI, eco.Scenario(MINI.id, 1000, 400, 5, 5, 1000)), only_mini)
    assert note is None and all(r["approach"] != "local" for r in rows)


def test_a_custom_row_that_cannot_be_fine_tuned_keeps_no_fine_tuned_prices(store):
    typed = {"id": "llama-vllm", "provider": "self-hosted", "encoding": "o200k_base", "input_per_1m": 0.05,
             "output_per_1m": 0.05, "training_per_1m": 3.0, "ft_input_per_1m": 0.1, "ft_output_per_1m": 0.1,
             "batch_discount": 0.0, "latency_ms": 0.0, "fine_tunable": False, "retires": None, "source": "invoice",
             "checked": START}
    row = cat.custom_row(typed)
    assert "training_per_1m" not in row and "ft_input_per_1m" not in row
    assert "latency_ms" not in row and "retires" not in row  # 0 ms and empty dates mean unknown
    saved = cat.save_row(store, row)
    assert saved.training_per_1m is None and not eco.has_fine_tuned_prices(saved)
    assert cat.custom_row(typed | {"fine_tunable": True})["training_per_1m"] == 3.0


def test_the_recommendation_sentence_names_each_rule():
    class Rec:
        def __init__(self, title, rules):
            self.title, self.rules = title, rules

    text = scenario.recommendation_sentence([Rec("Prompt", ["R1"]), Rec("RAG", ["R2", "R3"])])
    assert text == "Recommended by the decision framework: Prompt (R1); RAG (R2, R3)."
