"""Local approaches and the classical baseline on BANKING77: accuracy and time on this machine.

BANKING77 (PolyAI, CC BY 4.0): 77 intents of banking customer queries. Few-shot
setting as in the SetFit paper: 10 training examples per intent drawn from the
official train split (seeded), evaluated on the official test split (3,080
queries). The data is read from the shared folder next to the repository
(`../shared/datasets/banking77`, or `--data DIR`), never copied into the project.

Run: flock /tmp/ftlab-cpu.lock .venv/bin/python bench/local_banking77.py [--per-class 10 --seed 0]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.encoder import prepare_torch_env  # noqa: E402

prepare_torch_env()

from core.backends import approach_from_spec  # noqa: E402
from core.data.dataset import Example  # noqa: E402
from core.evaluation.metrics import compute  # noqa: E402
from core.evaluation.stats import accuracy_ci  # noqa: E402
from core.data.task import Task  # noqa: E402

APPROACHES = ["classical:tfidf-lr", "local:zero-shot", "local:few-shot:k=10", "local:rag:k=8"]


def find_data(explicit: str | None) -> Path:
    """../shared relative to the repository root (a worktree one level deeper looks one more up)."""
    candidates = [Path(explicit)] if explicit else [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
    for base in candidates:
        d = base if (base / "test.csv").exists() else base / "datasets" / "banking77"
        if (d / "test.csv").exists():
            return d
    sys.exit(f"BANKING77 not found in {', '.join(map(str, candidates))}: pass --data DIR")


def load(data: Path, per_class: int, seed: int) -> tuple[Task, list[Example], list[Example]]:
    labels = json.loads((data / "categories.json").read_text())
    task = Task.from_labels(labels, name="BANKING77")

    def read(name: str, split: str) -> list[Example]:
        with open(data / name, newline="", encoding="utf-8") as f:
            return [Example(f"{split}-{i}", r["text"], r["category"], split) for i, r in enumerate(csv.DictReader(f))]

    by_label: dict[str, list[Example]] = defaultdict(list)
    for e in read("train.csv", "train"):
        by_label[e.label].append(e)
    rng = random.Random(seed)
    train = [e for lab in labels for e in rng.sample(by_label[lab], per_class)]
    return task, train, read("test.csv", "test")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="the banking77 folder (default: ../shared/datasets/banking77)")
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--approach", action="append", help=f"spec(s) to run (default: {' '.join(APPROACHES)})")
    args = ap.parse_args()
    task, train, test = load(find_data(args.data), args.per_class, args.seed)
    print(f"BANKING77: {len(task.labels)} intents, {len(train)} train ({args.per_class}/class, seed {args.seed}), "
          f"{len(test)} test")
    print(f"{'approach':<22} {'accuracy':>9} {'95 % CI':>13} {'macro-F1':>9} {'fit s':>7} {'predict s':>10} "
          f"{'ms/example':>11}")
    for spec in args.approach or APPROACHES:
        approach = approach_from_spec(spec)
        t0 = time.perf_counter()
        approach.fit(train, task)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        preds = approach.predict(test)
        predict_s = time.perf_counter() - t0
        rows = [{"gold": e.label, "label": p.label, "latency_ms": p.latency_ms, "error": p.error, "cost_usd": 0.0}
                for e, p in zip(test, preds)]
        m = compute(rows, task.label_names)
        lo, hi = accuracy_ci([r["label"] == r["gold"] for r in rows])
        print(f"{spec:<22} {m.accuracy:>9.1%} {f'{lo:.1%}–{hi:.1%}':>13} {m.macro_f1:>9.3f} {fit_s:>7.1f} "
              f"{predict_s:>10.1f} {1000 * predict_s / len(test):>11.1f}", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB (includes torch + MiniLM for the local approaches)")


if __name__ == "__main__":
    main()
