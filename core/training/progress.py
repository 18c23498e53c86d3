"""How a local training reports to the store: progress, loss points, messages, heartbeat, cancellation.

The page never talks to the worker; it reads the job's row and events. The
worker's heartbeat thread keeps `heartbeat_at` fresh even during long silent
phases (loading a model), so a dead worker is told from a busy one.
"""

from __future__ import annotations

import threading
import time

from core.training import jobs
from core.store import Store
from core.training import JobCancelled

# Log keys of the two trainers → the registry's metric names.
_TRAIN_KEYS = ("loss", "embedding_loss")
_VALID_KEYS = ("eval_loss", "eval_embedding_loss")


class Reporter:
    def __init__(self, store: Store, job_id: str, heartbeat_s: float = 5.0):
        self.store, self.job_id = store, job_id
        self._span = (0.0, 1.0)
        self._last_cancel_check = 0.0
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, args=(heartbeat_s,), daemon=True)
        self._beat.start()

    def _heartbeat(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                jobs.heartbeat(self.store, self.job_id)
            except Exception:  # a locked database for a moment must not kill the training
                pass

    def close(self) -> None:
        self._stop.set()

    def phase(self, start: float, end: float, note: str = "") -> None:
        """The next `progress(fraction)` calls map into [start, end] of the whole job."""
        self._span = (start, end)
        self.progress(0.0, note)

    def progress(self, fraction: float, note: str = "") -> None:
        lo, hi = self._span
        jobs.set_progress(self.store, self.job_id, lo + (hi - lo) * max(0.0, min(1.0, fraction)), note)

    def message(self, text: str, data: dict | None = None) -> None:
        jobs.add_event(self.store, self.job_id, "message", text, data)

    def metrics(self, step: int, **values: float | None) -> None:
        jobs.record_metrics(self.store, self.job_id, step, **values)

    def check_cancel(self, every_s: float = 1.0) -> None:
        """Raise JobCancelled if the user asked to stop (reads the store at most once per `every_s`)."""
        now = time.monotonic()
        if now - self._last_cancel_check < every_s:
            return
        self._last_cancel_check = now
        if jobs.cancel_requested(self.store, self.job_id):
            raise JobCancelled("cancelled by the user")


def hf_callback(reporter: Reporter, step_offset: int = 0):
    """A transformers TrainerCallback (SetFit's trainer takes the same) streaming steps and losses to the store."""
    from transformers import TrainerCallback

    class StoreCallback(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            total = state.max_steps or 1
            reporter.progress(state.global_step / total, f"step {state.global_step}/{total}")
            reporter.check_cancel()

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "train_runtime" in logs:  # the closing summary, not a curve point
                return
            train = next((logs[k] for k in _TRAIN_KEYS if k in logs), None)
            valid = next((logs[k] for k in _VALID_KEYS if k in logs), None)
            if train is not None or valid is not None:
                reporter.metrics(step_offset + state.global_step, train_loss=train, valid_loss=valid,
                                 epoch=logs.get("epoch"))

    return StoreCallback()
