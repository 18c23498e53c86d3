"""Local fine-tuning on BANKING77 on this machine: training time, test accuracy, memory — estimate vs actual.

    python bench/train_banking77.py                 # both backends, each in its own process
    python bench/train_banking77.py setfit          # SetFit on all 77 classes, 10 examples per class
    python bench/train_banking77.py lora --classes 8 --per-class 10

Data: ../shared/datasets/banking77 relative to the repository root (read in place, never copied): the
official train.csv (a seeded sample of N examples per class for training, 2 more per class as the dev
split) and the official test.csv. Each run goes through the lab's own path — plan (estimate), the local
worker code, the registered model evaluated as an Approach — in a fresh workspace, and prints figures.
Run it alone: `flock /tmp/ftlab-cpu.lock python bench/train_banking77.py` (two trainings on 2 cores
distort each other's times).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def data_dir() -> Path:
    # ../shared from the repository root; from a worktree (wt/<branch>) the shared folder is one level higher.
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "datasets" / "banking77" / "train.csv").is_file():
            return base / "shared" / "datasets" / "banking77"
    print("SKIPPED: BANKING77 not found at ../shared/datasets/banking77 (relative to the repository root); "
          "the BANKING77 figures need that folder", flush=True)
    raise SystemExit(0)


def banking77(per_class: int, classes: int | None, seed: int = 0):
    from core.data.dataset import Dataset, Example
    from core.data.task import Label, Task

    d = data_dir()
    names = json.loads((d / "categories.json").read_text())
    rng = random.Random(seed)
    if classes:
        names = sorted(rng.sample(names, classes))
    wanted = set(names)
    with open(d / "train.csv", newline="", encoding="utf-8") as f:
        train_rows = [r for r in csv.DictReader(f) if r["category"] in wanted]
    with open(d / "test.csv", newline="", encoding="utf-8") as f:
        test_rows = [r for r in csv.DictReader(f) if r["category"] in wanted]
    by_label: dict[str, list[dict]] = {}
    for r in train_rows:
        by_label.setdefault(r["category"], []).append(r)
    examples = []
    for label in names:
        # per_class 0: the full training data (2 per class still go to the dev split)
        rows = rng.sample(by_label[label], per_class + 2 if per_class else len(by_label[label]))
        n = per_class or len(rows) - 2
        examples += [Example(f"tr-{label}-{i}", r["text"], label, "train") for i, r in enumerate(rows[:n])]
        examples += [Example(f"dv-{label}-{i}", r["text"], label, "dev") for i, r in enumerate(rows[n:])]
    examples += [Example(f"te-{i}", r["text"], r["category"], "test") for i, r in enumerate(test_rows)]
    task = Task(name=f"BANKING77 ({len(names)} intents)", instruction="Classify the banking customer's message "
                "into exactly one of the intents below.", labels=[Label(name=n) for n in names])
    return Dataset(name=f"banking77-{len(names)}x{per_class}", task=task, examples=tuple(examples))


def run_one(backend: str, per_class: int, classes: int | None, options: dict, workspace: Path) -> dict:
    from core.training import jobs
    from core.evaluation import runs
    from core.backends import approach_from_spec
    from core.evaluation.metrics import compute
    from core.store import Store
    from core.training.plan import launch, make_plan
    from core.training.worker import models_dir

    store = Store(workspace / "lab.sqlite3")
    ds = banking77(per_class, classes)
    plan = make_plan(backend, ds, options, models_dir(store))
    print(f"{backend}: {len(ds.task.labels)} classes × {per_class or 'all'} train examples, {len(ds.split('test'))} test; "
          f"estimate {plan.estimate.seconds:.0f} s ({'; '.join(plan.estimate.notes)})", flush=True)
    t0 = time.perf_counter()
    job = launch(store, plan, detach=False)
    wall = time.perf_counter() - t0
    if job.status != "succeeded":
        raise SystemExit(f"{backend}: {job.status}: {job.error}")
    convert = next((e for e in jobs.events(store, job.id) if "first use" in e.message), None)
    t1 = time.perf_counter()
    run = runs.execute(store, ds, approach_from_spec(job.approach_spec, store=store), "test")
    eval_s = time.perf_counter() - t1
    rows = runs.predictions(store, run.id)
    m = compute(rows, ds.task.label_names)
    summary = next((e.data for e in jobs.events(store, job.id) if e.data and "dev_accuracy" in e.data), {}) or {}
    dev = summary.get("dev_accuracy")
    ru = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    manifest_file = Path(job.model_ref) / "ftlab.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    return {"backend": backend, "classes": len(ds.task.labels), "per_class": per_class,
            "train_examples": len(ds.split("train")), "test_examples": len(rows),
            "estimate_s": round(plan.estimate.seconds, 1), "train_s": round(job.seconds, 1),
            "wall_s": round(wall, 1), "base_converted_here": convert is not None,
            "test_accuracy": round(m.accuracy, 4), "macro_f1": round(m.macro_f1, 4),
            "dev_accuracy": dev, "predict_ms_per_text": round(eval_s * 1000 / len(rows), 1),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
            "cpu_s": round(sum(r.ru_utime + r.ru_stime for r in ru), 1), "load_avg_end": os.getloadavg(),
            "training": {k: v for k, v in manifest.get("summary", {}).items() if k not in ("labels", "dev_accuracy")},
            "options": plan.options.model_dump()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", default="all", choices=["all", "setfit", "lora"])
    parser.add_argument("--per-class", type=int, default=10, help="0: the full training data")
    parser.add_argument("--classes", type=int, help="a seeded subset of the intents (default: all 77 for SetFit, 8 for LoRA)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a backend option")
    parser.add_argument("--workspace", help="default: a fresh temporary folder")
    args = parser.parse_args()
    if args.which == "all":  # one process per backend: separate peak-memory figures, no shared warm caches
        for which in ("setfit", "lora"):
            subprocess.run([sys.executable, __file__, which, "--per-class", str(args.per_class)], check=True)
        return
    from core.encoder import prepare_torch_env

    prepare_torch_env()
    load0 = os.getloadavg()
    options = {k: json.loads(v) for k, _, v in (s.partition("=") for s in args.set)}
    backend = {"setfit": "local-setfit", "lora": "local-lora"}[args.which]
    classes = args.classes if args.classes else (None if args.which == "setfit" else 8)
    with tempfile.TemporaryDirectory(prefix="ftlab-bench-") as tmp:
        workspace = Path(args.workspace or tmp)
        os.environ["FTLAB_WORKSPACE"] = str(workspace)
        result = run_one(backend, args.per_class, classes, options, workspace)
    print(json.dumps(result))
    if args.which == "setfit" and result["classes"] == 77:
        full = args.per_class == 0
        acc_t, time_t = (0.934, 1800) if full else (0.852, 600)
        print(f"targets ({'full data' if full else '10 per class'}): accuracy {result['test_accuracy']:.1%} vs "
              f"≥ {acc_t:.1%} {'✔' if result['test_accuracy'] >= acc_t else '✘'}; training {result['train_s']:.0f} s vs "
              f"≤ {time_t} s {'✔' if result['train_s'] <= time_t else '✘'}; peak RSS {result['peak_rss_gb']} GB vs "
              f"≤ 3 GB {'✔' if result['peak_rss_gb'] <= 3 else '✘'} (load average at start {load0[0]:.1f}, "
              f"CPU {result['cpu_s']:.0f} s)", flush=True)
    print(f"== {args.which}: {result['classes']} classes × {result['per_class']}: train {result['train_s']:.0f} s "
          f"(estimated {result['estimate_s']:.0f} s), test accuracy {result['test_accuracy']:.1%} "
          f"(macro-F1 {result['macro_f1']:.3f}) on {result['test_examples']} texts, "
          f"{result['predict_ms_per_text']} ms/text, peak RSS {result['peak_rss_gb']} GB", flush=True)


if __name__ == "__main__":
    main()
