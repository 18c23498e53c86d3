"""Per-call latency of the embedded local classifier's encoder (MiniLM), one ticket at a time.

The catalog's `local-minilm` row quotes this figure. A SetFit/prototype head on
top of the embedding adds microseconds, so one encode is the per-call cost.
Run: flock /tmp/ftlab-cpu.lock .venv/bin/python bench/local_latency.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.encoder import prepare_torch_env  # noqa: E402

prepare_torch_env()

from core.encoder import get_encoder  # noqa: E402

TEXTS = [
    "My invoice for March shows a double charge, please refund the second payment.",
    "The app crashes every time I open the settings page on Android 14.",
    "How do I add a second user to our team account?",
    "I can't log in since the password reset email never arrived, tried three times already",
    "Please cancel my subscription at the end of this billing period.",
]


def main(calls: int = 200) -> None:
    enc = get_encoder()
    enc.encode(TEXTS, show_progress_bar=False)  # warm-up: first call allocates
    times = []
    for i in range(calls):
        t = time.perf_counter()
        enc.encode([TEXTS[i % len(TEXTS)]], normalize_embeddings=True, show_progress_bar=False)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p50 = statistics.median(times)
    p95 = times[int(0.95 * len(times)) - 1]
    print(f"MiniLM single-text encode over {calls} calls: p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
