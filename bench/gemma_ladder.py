"""The prompting ladder on one local LLM (Gemma 3 270M): accuracy, time per prediction and memory vs targets.

Rungs: gemma:zero-shot, gemma:few-shot:k=8 (class-balanced exemplars), gemma:rag:k=8 (8 nearest train
examples by MiniLM). Datasets:

- the sample task (data/sample_task: 8 support-ticket categories with long guidelines), test split;
- a BANKING77 subset: 10 intents (seeded), 10 train examples per intent, their official test examples
  (40 per intent), read from ../shared/datasets/banking77 (skipped with a message if absent).

Targets: ≤ 0.3 s per prediction where the prompt prefix is shared (zero-/few-shot), ≤ 1.5 s with 8
retrieved examples, peak RSS ≤ 2.5 GB; RAG beats zero-shot on the sample task.
The machine's cores are shared: the load average is printed beside every timing.

Run: nice .venv/bin/python bench/gemma_ladder.py [--dtype float32|bfloat16] [--limit N] [--only sample|banking]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.encoder import prepare_torch_env  # noqa: E402

prepare_torch_env()

from core.backends import approach_from_spec  # noqa: E402
from core.data.dataset import Example, load_sample  # noqa: E402
from core.data.task import Task  # noqa: E402
from core.evaluation.stats import accuracy_ci  # noqa: E402

RUNGS = ["gemma:zero-shot", "gemma:few-shot:k=8", "gemma:rag:k=8"]
TARGET_S = {"zero-shot": 0.3, "few-shot": 0.3, "rag": 1.5}
TARGET_RSS_GB = 2.5


def banking_subset(intents: int, per_class: int, seed: int) -> tuple[Task, list[Example], list[Example]] | None:
    for base in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        data = base / "datasets" / "banking77"
        if (data / "test.csv").exists():
            break
    else:
        print("BANKING77 not found in ../shared/datasets/banking77: subset skipped")
        return None
    rng = random.Random(seed)
    labels = sorted(rng.sample(json.loads((data / "categories.json").read_text()), intents))
    task = Task.from_labels(labels, name=f"BANKING77 ({intents} intents)")

    def read(name: str, split: str) -> list[Example]:
        with open(data / name, newline="", encoding="utf-8") as f:
            return [Example(f"{split}-{i}", r["text"], r["category"], split)
                    for i, r in enumerate(csv.DictReader(f)) if r["category"] in labels]

    by_label: dict[str, list[Example]] = defaultdict(list)
    for e in read("train.csv", "train"):
        by_label[e.label].append(e)
    train = [e for lab in labels for e in rng.sample(by_label[lab], per_class)]
    return task, train, read("test.csv", "test")


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def run(name: str, task: Task, train: list[Example], test: list[Example], rungs: list[str], dtype: str,
        limit: int | None, seed: int) -> dict[str, float]:
    if limit and len(test) > limit:  # a seeded, label-stratified-enough sample of the test split
        test = random.Random(seed).sample(test, limit)
    print(f"\n== {name}: {len(task.labels)} labels, {len(train)} train, {len(test)} test · dtype {dtype}")
    print(f"{'approach':<22} {'accuracy':>9} {'95 % CI':>15} {'fit s':>6} {'s/pred':>7} {'target':>7} "
          f"{'prompt tok':>10} {'load avg (1/5/15)':>18}")
    acc = {}
    for spec in rungs:
        approach = approach_from_spec(spec, dtype=dtype)
        t0 = time.perf_counter()
        approach.fit(train, task)
        approach._prepare()  # model load (first rung only) + shared prefix
        fit_s = time.perf_counter() - t0
        load_before = load()
        preds = approach.predict(test)
        per = sum(p.latency_ms for p in preds) / len(preds) / 1000
        hits = [p.label == e.label for p, e in zip(preds, test)]
        correct = sum(hits)
        lo, hi = accuracy_ci(hits)
        tok = sum(p.input_tokens for p in preds) / len(preds)
        target = TARGET_S[approach.method]
        acc[approach.method] = correct / len(test)
        print(f"{spec:<22} {correct / len(test):>8.1%} {f'[{lo:.0%}, {hi:.0%}]':>15} {fit_s:>6.1f} {per:>7.2f} "
              f"{'≤' + str(target):>7} {tok:>10.0f} {load_before + ' → ' + load():>18}"
              f"{'' if per <= target else '  (over target)'}")
    print(f"peak RSS so far {rss_gb():.2f} GB (target ≤ {TARGET_RSS_GB})")
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default=os.environ.get("FTLAB_GEMMA_DTYPE", "float32"), choices=["float32", "bfloat16"])
    ap.add_argument("--limit", type=int, help="at most N test examples per dataset (seeded sample)")
    ap.add_argument("--only", choices=["sample", "banking"])
    ap.add_argument("--rung", action="append", help=f"spec(s) to run (default: {' '.join(RUNGS)})")
    ap.add_argument("--intents", type=int, default=10)
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("FTLAB_WORKSPACE", str(Path(tempfile.gettempdir()) / "ftlab-gemma-bench"))
    print(f"Gemma 3 270M ladder · cores {os.cpu_count()} · load avg {load()} · workspace {os.environ['FTLAB_WORKSPACE']}"
          + (f" · base {os.environ['FTLAB_BASE_MODELS']}" if os.environ.get("FTLAB_BASE_MODELS") else ""))
    rungs = args.rung or RUNGS
    if args.only in (None, "sample"):
        ds = load_sample()
        acc = run("sample task (support tickets)", ds.task, ds.split("train"), ds.split("test"), rungs, args.dtype,
                  args.limit, args.seed)
        if "rag" in acc and "zero-shot" in acc:
            verdict = "yes" if acc["rag"] > acc["zero-shot"] else "NO"
            print(f"RAG beats zero-shot on the sample: {verdict} ({acc['rag']:.1%} vs {acc['zero-shot']:.1%})")
    if args.only in (None, "banking"):
        sub = banking_subset(args.intents, args.per_class, args.seed)
        if sub:
            run(f"BANKING77 subset ({args.per_class}/intent train, official test)", *sub, rungs, args.dtype,
                args.limit, args.seed)
    print(f"\npeak RSS {rss_gb():.2f} GB (target ≤ {TARGET_RSS_GB}) · load avg at end {load()}")


if __name__ == "__main__":
    main()
