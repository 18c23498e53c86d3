"""The Train page's default local fine-tune (local-setfit) on the sample task vs TF-IDF + logistic regression.

    python bench/train_sample_setfit.py [--set KEY=VALUE ...]

Target (issue 12): on the sample task the default local fine-tune is not significantly worse than TF-IDF + LR
on the test split (McNemar's exact test, p printed). Goes through the lab's own path: plan (estimate) → the
local worker code (in this process) → the registered model evaluated as an Approach, in a fresh workspace.
Run it alone: `flock /tmp/ftlab-cpu.lock python bench/train_sample_setfit.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a local-setfit option")
    args = parser.parse_args()
    from core.encoder import prepare_torch_env

    prepare_torch_env()
    load0 = os.getloadavg()
    options = {k: json.loads(v) for k, _, v in (s.partition("=") for s in args.set)}
    with tempfile.TemporaryDirectory(prefix="ftlab-bench-") as tmp:
        os.environ["FTLAB_WORKSPACE"] = tmp
        from core.backends import approach_from_spec, describe
        from core.data.dataset import load_sample
        from core.evaluation import runs
        from core.evaluation.stats import mcnemar_exact
        from core.store import Store
        from core.training.plan import launch, make_plan
        from core.training.worker import models_dir

        store = Store(Path(tmp) / "lab.sqlite3")
        ds = load_sample()
        plan = make_plan("local-setfit", ds, options, models_dir(store))
        print(f"sample: {len(ds.split('train'))} train, {len(ds.split('test'))} test; estimate "
              f"{plan.estimate.seconds:.0f} s ({'; '.join(plan.estimate.notes)})", flush=True)
        t0 = time.perf_counter()
        job = launch(store, plan, detach=False)
        if job.status != "succeeded":
            raise SystemExit(f"local-setfit: {job.status}: {job.error}")
        train_wall = time.perf_counter() - t0
        correct = {}
        for spec in (job.approach_spec, "classical:tfidf-lr"):
            run = runs.execute(store, ds, approach_from_spec(spec, store=store), "test")
            rows = sorted(runs.predictions(store, run.id), key=lambda r: r["example_id"])
            correct[spec] = [r["label"] == r["gold"] for r in rows]
        a, b = correct[job.approach_spec], correct["classical:tfidf-lr"]
        p, only_ft, only_tfidf = mcnemar_exact(a, b)
        ru = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        result = {"approach": describe(f"local:setfit:{job.model_ref}"), "train_s": round(job.seconds, 1),
                  "train_wall_s": round(train_wall, 1), "estimate_s": round(plan.estimate.seconds, 1),
                  "test_examples": len(a), "accuracy": round(sum(a) / len(a), 4),
                  "tfidf_lr_accuracy": round(sum(b) / len(b), 4), "mcnemar_p": round(p, 4),
                  "only_finetune_right": only_ft, "only_tfidf_right": only_tfidf,
                  "peak_rss_gb": round(ru[0].ru_maxrss / 1e6, 2), "cpu_s": round(sum(r.ru_utime + r.ru_stime for r in ru), 1),
                  "load_avg_start": load0, "options": plan.options.model_dump()}
    print(json.dumps(result))
    worse = result["accuracy"] < result["tfidf_lr_accuracy"] and p < 0.05
    print(f"== sample, test split ({len(a)}): {result['approach']} {result['accuracy']:.1%} vs TF-IDF + LR "
          f"{result['tfidf_lr_accuracy']:.1%}, McNemar p = {p:.3g} — target: not significantly worse "
          f"{'✘' if worse else '✔'}; train {result['train_s']:.0f} s, peak RSS {result['peak_rss_gb']} GB, "
          f"CPU {result['cpu_s']:.0f} s, load average at start {load0[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
