"""The ladder on one local LLM (Gemma 3 270M): accuracy, time per prediction, training time and memory vs targets.

Rungs: gemma:zero-shot, gemma:few-shot:k=8 (class-balanced exemplars), gemma:rag:k=8 (8 nearest train
examples by MiniLM), and the LoRA fine-tune of the same model (`lora`: on the sample, the adapter shipped in
data/results/models unless --train-lora; on BANKING77, trained here with the LoRA defaults). Datasets:

- the sample task (data/sample_task: 8 support-ticket categories with long guidelines), test split;
- a BANKING77 subset: 10 intents (seeded), 10 train examples per intent, their official test examples
  (40 per intent), read from ../shared/datasets/banking77 (skipped with a message if absent).

Targets: ≤ 0.3 s per prediction where the prompt prefix is shared (zero-/few-shot), ≤ 1.5 s with 8
retrieved examples, peak RSS ≤ 2.5 GB; RAG beats zero-shot on the sample task.
The machine's cores are shared: the load average is printed beside every timing, and so is the CPU time
per prediction (process CPU seconds: on two free cores the wall time is about half of it).

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

RUNGS = ["gemma:zero-shot", "gemma:few-shot:k=8", "gemma:rag:k=8", "lora"]
TARGET_S = {"zero-shot": 0.3, "few-shot": 0.3, "rag": 1.5, "lora": 0.3}
SHIPPED_LORA = "data/results/models/gemma-lora-sample"
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


def lora_rung(task: Task, train: list[Example], test: list[Example], shipped: str | None):
    """(predict function, training seconds, what): the shipped adapter, or one trained here on `train`."""
    from core.training.chat import chat_records
    from core.training.lora_local import LoraClassifier
    from core.training.options import LoraOptions

    models = Path(os.environ["FTLAB_WORKSPACE"]) / "models"
    if shipped:
        folder = ROOT / shipped
        bundle = json.loads((ROOT / "data" / "results" / "sample_runs.json").read_text())
        run = next((r for r in bundle["runs"] if r.get("shipped_model") == shipped), {})
        clf = LoraClassifier.load(folder, models)
        return clf, run.get("training", {}).get("seconds"), f"shipped {shipped}"
    t0 = time.perf_counter()
    clf = LoraClassifier(LoraOptions()).fit(chat_records(task, train), task, models, on_message=lambda m: None)
    return clf, time.perf_counter() - t0, f"trained here on {len(train)} (LoRA defaults)"


def run(name: str, task: Task, train: list[Example], test: list[Example], rungs: list[str], dtype: str,
        limit: int | None, seed: int, shipped_lora: str | None = None) -> dict[str, float]:
    if limit and len(test) > limit:  # a seeded, label-stratified-enough sample of the test split
        test = random.Random(seed).sample(test, limit)
    print(f"\n== {name}: {len(task.labels)} labels, {len(train)} train, {len(test)} test · dtype {dtype}")
    print(f"{'approach':<22} {'accuracy':>9} {'95 % CI':>15} {'train s':>8} {'s/pred':>7} {'cpu s':>6} {'target':>7} "
          f"{'prompt tok':>10} {'RSS GB':>6} {'load avg (1/5/15)':>18}")
    acc = {}
    for spec in rungs:
        load_before = load()
        if spec == "lora":
            clf, fit_s, what = lora_rung(task, train, test, shipped_lora)
            method, shown = "lora", "LoRA fine-tune"
            c0, t0 = time.process_time(), time.perf_counter()
            labels = []
            for i in range(0, len(test), 8):
                labels += clf.predict([e.text for e in test[i:i + 8]])
            per, cpu = (time.perf_counter() - t0) / len(test), (time.process_time() - c0) / len(test)
            tok = len(clf._prepare().system_ids) + sum(len(clf._prepare().user_ids(e.text)) for e in test) / len(test)
            hits = [lab == e.label for lab, e in zip(labels, test)]
        else:
            approach = approach_from_spec(spec, dtype=dtype)
            method, shown, what = approach.method, spec, ""
            t0 = time.perf_counter()
            approach.fit(train, task)
            approach._prepare()  # model load (first rung only) + shared prefix
            fit_s = time.perf_counter() - t0
            c0 = time.process_time()
            preds = approach.predict(test)
            cpu = (time.process_time() - c0) / len(test)
            per = sum(p.latency_ms for p in preds) / len(preds) / 1000
            hits = [p.label == e.label for p, e in zip(preds, test)]
            tok = sum(p.input_tokens for p in preds) / len(preds)
        correct = sum(hits)
        lo, hi = accuracy_ci(hits)
        target = TARGET_S[method]
        acc[method] = correct / len(test)
        fit_shown = f"{fit_s:.0f}" if fit_s is not None else "?"
        print(f"{shown:<22} {correct / len(test):>8.1%} {f'[{lo:.0%}, {hi:.0%}]':>15} {fit_shown:>8} {per:>7.2f} "
              f"{cpu:>6.2f} {'≤' + str(target):>7} {tok:>10.0f} {rss_gb():>6.2f} {load_before + ' → ' + load():>18}"
              f"{'' if per <= target else '  (over target)'}{'  ' + what if what else ''}", flush=True)
    print(f"peak RSS so far {rss_gb():.2f} GB (target ≤ {TARGET_RSS_GB})")
    return acc


def shipped_table(path: Path = ROOT / "data" / "results" / "sample_runs.json") -> None:
    """The shipped (pre-loaded) runs on the sample's test split as a Markdown table — README's figures."""
    from core.backends import describe, family

    bundle = json.loads(path.read_text(encoding="utf-8"))
    print(f"shipped bundle: {bundle['generated_at']}, regenerated in {bundle.get('seconds', 0) / 60:.0f} min "
          f"({bundle['machine']})\n")
    print("| approach | family | test accuracy (95 % CI) | s / prediction | training |")
    print("| --- | --- | ---: | ---: | ---: |")
    for r in bundle["runs"]:
        hits = [p["label"] == p["gold"] for p in r["predictions"]]
        lo, hi = accuracy_ci(hits)
        per = sum(p["latency_ms"] or 0 for p in r["predictions"]) / len(hits) / 1000
        train_s = r.get("training", {}).get("seconds")
        print(f"| {describe(r['approach'])} | {family(r['approach'])} | {sum(hits) / len(hits):.1%} "
              f"({lo:.0%}–{hi:.0%}) | {per:.2f} | {f'{train_s / 60:.0f} min' if train_s else '—'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default=os.environ.get("FTLAB_GEMMA_DTYPE", "float32"), choices=["float32", "bfloat16"])
    ap.add_argument("--limit", type=int, help="at most N test examples per dataset (seeded sample)")
    ap.add_argument("--only", choices=["sample", "banking"])
    ap.add_argument("--rung", action="append", help=f"spec(s) to run (default: {' '.join(RUNGS)}; lora: the fine-tune)")
    ap.add_argument("--train-lora", action="store_true",
                    help="on the sample, train the LoRA rung here (LoRA defaults, ~10 min) instead of loading the shipped adapter")
    ap.add_argument("--shipped", action="store_true",
                    help="only print the shipped runs of data/results/sample_runs.json as a Markdown table (README)")
    ap.add_argument("--intents", type=int, default=10)
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.shipped:
        return shipped_table()
    os.environ.setdefault("FTLAB_WORKSPACE", str(Path(tempfile.gettempdir()) / "ftlab-gemma-bench"))
    os.environ.setdefault("FTLAB_BASE_MODELS", str(Path(tempfile.gettempdir()) / "ftlab-gemma-base"))
    # The one-time GGUF → safetensors conversion (~3 GB peak) runs in a child process, so that the RSS column
    # measures the backend at work, not the first use's conversion.
    import subprocess

    subprocess.run([sys.executable, "-c", "from core.training.lora_local import ensure_base; ensure_base('.')"],
                   cwd=ROOT, check=True)
    print(f"Gemma 3 270M ladder · cores {os.cpu_count()} · load avg {load()} · workspace {os.environ['FTLAB_WORKSPACE']}"
          + (f" · base {os.environ['FTLAB_BASE_MODELS']}" if os.environ.get("FTLAB_BASE_MODELS") else ""))
    rungs = args.rung or RUNGS
    if args.only in (None, "sample"):
        ds = load_sample()
        shipped = None if args.train_lora or not (ROOT / SHIPPED_LORA / "ftlab.json").is_file() else SHIPPED_LORA
        acc = run("sample task (support tickets)", ds.task, ds.split("train"), ds.split("test"), rungs, args.dtype,
                  args.limit, args.seed, shipped)
        if "rag" in acc and "zero-shot" in acc:
            verdict = "yes" if acc["rag"] > acc["zero-shot"] else "NO"
            print(f"RAG beats zero-shot on the sample: {verdict} ({acc['rag']:.1%} vs {acc['zero-shot']:.1%})")
    if args.only in (None, "banking"):
        sub = banking_subset(args.intents, args.per_class, args.seed)
        if sub:
            run(f"BANKING77 subset ({args.per_class}/intent train, official test)", *sub, rungs, args.dtype,
                args.limit, args.seed)
    print(f"\npeak RSS {rss_gb():.2f} GB (target ≤ {TARGET_RSS_GB}; the LoRA rung loads a second, merged copy of the "
          f"model: the RSS column shows the peak after each rung) · load avg at end {load()}")


if __name__ == "__main__":
    main()
