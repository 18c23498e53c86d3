"""`python -m core breakeven`: the issue's own example, derived by hand from the catalog prices."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.catalog import load_bundled

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--model", "gpt-4o-mini-2024-07-18", "--calls-per-day", "10000", "--prompt-tokens", "400",
        "--finetuned-prompt-tokens", "5", "--output-tokens", "5", "--training-tokens", "100000", "--epochs", "3"]


def _cli(*args, workspace):
    return subprocess.run([sys.executable, "-m", "core", "--workspace", str(workspace), "breakeven", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_issue_example(workspace):
    out = _cli(*ARGS, "--start", "2026-11-22", "--json", workspace=workspace)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    m = load_bundled().get("gpt-4o-mini-2024-07-18")
    baseline = 10_000 * (400 * m.input_per_1m + 5 * m.output_per_1m) / 1e6
    finetuned = 10_000 * (5 * m.ft_input_per_1m + 5 * m.ft_output_per_1m) / 1e6
    training = 100_000 * 3 * m.training_per_1m / 1e6
    assert data["training_cost"] == pytest.approx(0.90) == pytest.approx(training)
    assert data["baseline_cost_per_day"] == pytest.approx(baseline)
    assert data["finetuned_cost_per_day"] == pytest.approx(finetuned)
    assert data["break_even_days"] == pytest.approx(training / (baseline - finetuned))  # ≈ 1.62 days
    assert data["retires_before_break_even"] is False


def test_never_pays_back_is_null_and_unknown_model_is_a_clear_error(workspace):
    args = list(ARGS)
    args[args.index("--finetuned-prompt-tokens") + 1] = "400"  # nothing saved per call: fine-tune costs more
    data = json.loads(_cli(*args, "--json", workspace=workspace).stdout)
    assert data["break_even_days"] is None and data["retires_before_break_even"] is True
    bad = _cli("--model", "nope", *ARGS[2:], workspace=workspace)
    assert bad.returncode == 2 and "unknown model 'nope'" in bad.stderr


def test_issue_caching_example_to_the_cent(workspace):
    """gpt-4o-mini, 10,000 calls/day, prompt 2,100 tokens with a 2,000-token shared prefix, hit rate 1.0,
    fine-tuned prompt 100, output 5 → 1,920 cached tokens per call, $1.74/day prompted (vs $3.18), $0.36/day fine-tuned."""
    out = _cli("--model", "gpt-4o-mini", "--calls-per-day", "10000", "--prompt-tokens", "2100",
               "--finetuned-prompt-tokens", "100", "--output-tokens", "5", "--training-tokens", "100000",
               "--shared-prefix-tokens", "2000", "--cache-hit-rate", "1.0", "--start", "2026-11-30", "--json",
               workspace=workspace)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["cached_tokens_per_call"] == 1920
    assert f"{data['baseline_cost_per_day']:.2f}" == "1.74"
    assert f"{data['baseline_uncached_cost_per_day']:.2f}" == "3.18"
    assert f"{data['finetuned_cost_per_day']:.2f}" == "0.36"
    assert data["finetune_path_ends"] == "2027-01-14"  # retirement falls inside the 365-day horizon: no successor
