"""Wall time of an evaluation against the loopback OpenAI-compatible server, next to the ideal.

500 calls at 250 ms each with 16 in flight: the ideal is 500 × 0.25 / 16 = 7.8 s.
The target is ≤ 1.25 × ideal (the asyncio + semaphore executor, the real openai
client, and each answer stored in SQLite before it is used). A second pass
injects 20 % faults (429 with Retry-After, 500, hangs, malformed content) and
checks every example is answered once with no duplicate paid call.

Run: flock /tmp/ftlab-cpu.lock .venv/bin/python bench/evaluate_concurrency.py [--calls 500 --latency 0.25 --concurrency 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import responses  # noqa: E402
from core.evaluation import runs  # noqa: E402
from core.backends import approach_from_spec  # noqa: E402
from core.store import Store  # noqa: E402
from tests.eval_data import make_dataset  # noqa: E402
from tests.fake_openai import FakeOpenAIProcess, Faults  # noqa: E402


def one_pass(calls: int, latency: float, concurrency: int, faults: Faults | None) -> dict:
    per_label = calls // 4
    ds = make_dataset(train_per_label=5, test_per_label=per_label)
    # The server runs in its own process, as a real endpoint would: in-process it would take the client's GIL.
    with tempfile.TemporaryDirectory() as ws, FakeOpenAIProcess(latency_s=latency, faults=faults) as server:
        store = Store(Path(ws) / "lab.sqlite3")
        approach = approach_from_spec("openai:fake-model:zero-shot", store=store, base_url=server.base_url,
                                      api_key="bench", concurrency=concurrency, max_retries=4,
                                      timeout=max(2.0, latency * 4))
        approach.fit(ds.split("train"), ds.task)
        t0 = time.perf_counter()
        run = runs.execute(store, ds, approach)
        wall = time.perf_counter() - t0
        rows = runs.predictions(store, run.id)
        stats = server.stats()
        return {"wall_s": wall, "n": len(rows), "answered_once": len({r["example_idx"] for r in rows}) == len(rows),
                "errors": sum(r["error"] is not None for r in rows), "stored": responses.count(store),
                "duplicate_paid": stats["duplicate_paid_calls"],
                "faults": {k: sum(r["fault"] == k for r in stats["requests"]) for k in ("429", "500", "timeout", "malformed")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--latency", type=float, default=0.25)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    ideal = args.calls * args.latency / args.concurrency
    clean = one_pass(args.calls, args.latency, args.concurrency, None)
    ratio = clean["wall_s"] / ideal
    print(f"{args.calls} calls × {args.latency * 1000:.0f} ms, concurrency {args.concurrency}")
    print(f"  wall {clean['wall_s']:.2f} s   ideal {ideal:.2f} s   ratio {ratio:.3f}×   "
          f"target ≤ 1.25× {'OK' if ratio <= 1.25 else 'MISSED'}")
    print(f"  answered {clean['n']} (each once: {clean['answered_once']}), responses stored {clean['stored']}, "
          f"duplicate paid calls {clean['duplicate_paid']}")
    faulty = one_pass(args.calls, args.latency, args.concurrency, Faults(rate=0.2, hang_s=max(2.5, args.latency * 5)))
    print(f"with 20 % faults {faulty['faults']}:")
    print(f"  wall {faulty['wall_s']:.2f} s ({faulty['wall_s'] / ideal:.2f}× ideal; retries wait as told), "
          f"answered {faulty['n']} (each once: {faulty['answered_once']}), failed {faulty['errors']}, "
          f"duplicate paid calls {faulty['duplicate_paid']}")


if __name__ == "__main__":
    main()
