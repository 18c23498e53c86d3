"""Loss curves from a job's metric points: the long table altair draws, and the overfitting point.

Pure functions over `jobs.metrics(store, job_id)` — the page draws, this decides.
"""

from __future__ import annotations

from dataclasses import dataclass

SERIES = {"train_loss": "train", "valid_loss": "validation", "full_valid_loss": "validation (full)"}


def loss_rows(points: list[dict[str, float]]) -> list[dict]:
    """Long form: one row per (step, series, loss) — what an altair line chart with a colour channel wants."""
    return [{"step": int(p["step"]), "series": name, "loss": float(p[key])}
            for p in points for key, name in SERIES.items() if p.get(key) is not None]


@dataclass(frozen=True)
class Overfitting:
    step: int            # where validation loss was lowest
    best_loss: float
    last_loss: float     # validation loss at the last point

    @property
    def rise(self) -> float:
        return self.last_loss / self.best_loss - 1

    @property
    def advice(self) -> str:
        return (f"Validation loss was lowest at step {self.step} ({self.best_loss:.3f}) and ended {self.rise:.0%} "
                "higher: later steps overfit. Fewer epochs would likely do as well.")


def overfitting_point(points: list[dict[str, float]], key: str = "valid_loss", min_rise: float = 0.05,
                      min_after: int = 2) -> Overfitting | None:
    """The step after which validation loss turned up: its minimum, if at least `min_after` later points
    exist and the curve ends `min_rise` (5 %) above it. None while validation loss is still falling
    or flat (noise on a few points is not overfitting)."""
    series = [(int(p["step"]), float(p[key])) for p in points if p.get(key) is not None]
    if len(series) < 3:
        return None
    i_best = min(range(len(series)), key=lambda i: series[i][1])
    step, best = series[i_best]
    after = series[i_best + 1:]
    if len(after) < min_after or best <= 0:
        return None
    # The tail's mean, not its last point: one noisy step should neither hide nor fake the turn.
    tail = sum(v for _, v in after[-min_after:]) / min_after
    if tail < best * (1 + min_rise):
        return None
    return Overfitting(step=step, best_loss=best, last_loss=series[-1][1])
