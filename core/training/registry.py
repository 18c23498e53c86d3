"""What the Train page shows of jobs and models, as plain values: names, figures, table rows.

Pure functions over `jobs.Job` and `jobs.ModelVersion`; the page draws them.
"""

from __future__ import annotations

from core.training import HOSTED, LOCAL_LORA, LOCAL_SETFIT, providers
from core.training.guards import duration
from core.training.jobs import Event, Job, ModelVersion
from core.training.options import Estimate

# The local backends, then every hosted provider of the registry (core/training/providers/).
BACKEND_NAMES = {
    LOCAL_SETFIT: "Local · SetFit (MiniLM)",
    LOCAL_LORA: "Local · LoRA (Gemma 3 270M)",
    **{p.name: f"Hosted · {p.label}" for p in providers.all_providers()},
}
BACKEND_HELP = (
    "**SetFit**: contrastive fine-tuning of the embedded MiniLM sentence encoder plus a classification head — "
    "minutes on this CPU. **LoRA**: a small generative model trained on the very chat JSONL a hosted provider "
    "takes — the portable twin of hosted fine-tuning (~4 GB of memory). **Hosted**: OpenAI, Azure OpenAI or any "
    "server implementing the fine-tuning API; costs money, runs on the provider. " + " ".join(
        f"**{p.label}**: {p.help}" for p in providers.all_providers() if p.name != HOSTED)
)
DEFAULTS_NOTE = {
    LOCAL_SETFIT: "Defaults suit two CPU cores: steps are capped so that training takes minutes.",
    LOCAL_LORA: "Defaults from a measured sweep on this machine: r=8, learning rate 2e-3, 3 epochs.",
    **{p.name: p.defaults_note for p in providers.all_providers()},
}
STATUS_ICON = {"pending": ":material/hourglass_empty:", "validating_files": ":material/fact_check:",
               "queued": ":material/schedule:", "running": ":material/autorenew:", "paused": ":material/pause:",
               "succeeded": ":material/check_circle:", "failed": ":material/error:",
               "cancelled": ":material/cancel:", "refused": ":material/block:", "interrupted": ":material/report:"}

# Job parameters that are not hyperparameters: where the job ran and which files it read.
NOT_HYPERPARAMETERS = ("endpoint", "training_file", "validation_file")

MIN_PROGRESS_FOR_ETA = 0.02  # below it, the first steps' speed says little about the rest


def backend_name(backend: str) -> str:
    return BACKEND_NAMES.get(backend, backend)


def estimate_figures(estimate: Estimate, price_known: bool = True) -> list[tuple[str, str]]:
    """(label, value) of a launch's estimate: time, cost ("unknown" when the catalog has no price: never a
    made-up $0), examples, and steps (local) or billed tokens (hosted) when known."""
    figures = [("Estimated time", duration(estimate.seconds)),
               ("Estimated cost", f"${estimate.cost_usd:,.2f}" if price_known else "unknown"),
               ("Training examples", f"{estimate.examples:,}")]
    if estimate.steps is not None:
        figures.append(("Steps", f"{estimate.steps:,}"))
    elif estimate.tokens is not None:
        figures.append(("Billed tokens", f"{estimate.tokens:,}"))
    return figures


def default_watch(all_jobs: list[Job]) -> str:
    """The job to watch when none is chosen: the first live one, else the newest."""
    return next((j.id for j in all_jobs if j.is_active), all_jobs[0].id)


def event_rows(events: list[Event]) -> list[dict]:
    """A job's events, newest first, without the metric points (the loss chart draws those)."""
    return [{"at": e.at, "kind": e.kind, "message": e.message} for e in reversed(events) if e.kind != "metrics"]


def evaluate_specs(versions: list[ModelVersion], all_jobs: list[Job], spec: str) -> list[str]:
    """What "Send to Evaluate" selects: the trained model and the baseline it would replace."""
    job_id = next(v.job_id for v in versions if v.approach_spec == spec)
    return [spec, next(j for j in all_jobs if j.id == job_id).rollback_spec]


def job_label(job: Job) -> str:
    """One line per job for a picker: id · status · backend · base model · created."""
    return f"{job.id} · {job.status} · {backend_name(job.backend)} · {job.base_model} · {job.created_at[:16].replace('T', ' ')}"


def time_left_s(job: Job) -> float | None:
    """Seconds a running local job still needs, extrapolated from its progress so far (None: no estimate yet)."""
    elapsed = job.seconds
    if not (job.is_local and job.is_active and elapsed and job.progress > MIN_PROGRESS_FOR_ETA):
        return None
    return elapsed * (1 - job.progress) / job.progress


def cost(job: Job) -> tuple[float | None, bool]:
    """(US$, estimated?): what the provider billed, or else the estimate stored at launch."""
    if job.cost_usd is not None:
        return job.cost_usd, False
    return (job.estimate or {}).get("cost_usd"), True


STATUS_HELP = "pending → (validating files → queued →) running → succeeded | failed | cancelled | refused | interrupted"


def job_figures(job: Job) -> list[tuple[str, str, str | None] | None]:
    """The four figures above a watched job, as (label, value, help): status, elapsed, time left (or the
    launch estimate; None when there is neither), cost (billed, or else the launch estimate, marked so)."""
    left = time_left_s(job)
    timing = (("Time left (est.)", duration(left), None) if left is not None
              else ("Estimated", duration(job.estimate.get("seconds")), None) if job.estimate else None)
    usd, estimated = cost(job)
    return [("Status", job.status.replace("_", " "), STATUS_HELP),
            ("Elapsed", duration(job.seconds) if job.seconds is not None else "—", None),
            timing,
            ("Cost (estimated)" if estimated else "Cost", f"${usd:,.2f}" if usd is not None else "—", None)]


def hyperparameters(job: Job) -> str:
    """The job's hyperparameters as `name=value, …`, without the endpoint or file ids."""
    return ", ".join(f"{k}={v}" for k, v in sorted(job.params.items()) if k not in NOT_HYPERPARAMETERS)


def registry_rows(all_jobs: list[Job]) -> list[dict]:
    """The job registry table (and its CSV download): one row per job."""
    return [{
        "job": j.id, "status": j.status, "backend": backend_name(j.backend), "base model": j.base_model,
        "dataset": (j.dataset_hash or "")[:8], "model": j.model_name or "", "cost $": j.cost_usd,
        "minutes": round(j.seconds / 60, 1) if j.seconds is not None else None,
        "created": j.created_at[:19].replace("T", " "), "hyperparameters": hyperparameters(j),
    } for j in all_jobs]


def spent_usd(all_jobs: list[Job]) -> float:
    return sum(j.cost_usd or 0 for j in all_jobs)


def model_rows(versions: list[ModelVersion]) -> list[dict]:
    """The model table: every version, the baseline marked as the one to roll back to."""
    return [{
        "model": v.name, "approach spec": v.approach_spec, "version": v.version,
        "dataset": (v.dataset_hash or "")[:8], "job": v.job_id or "", "rollback": "baseline" if v.baseline else "",
    } for v in versions]


def provider_caption(name: str) -> str:
    """A hosted provider in one line: its availability and what its API offers."""
    p = providers.get(name)
    return f"{p.availability} Offers: {p.capabilities.words()}."


def model_note(job: Job) -> str | None:
    """Where a provider's fine-tune answers (None for local models and OpenAI-compatible servers)."""
    if job.is_local or job.backend == HOSTED or not providers.is_provider(job.backend):
        return None
    from core.endpoint import Endpoint

    p = providers.get(job.backend)
    url = p.inference_endpoint(Endpoint(base_url=job.params.get("endpoint") or None, provider=p.name)).base_url
    return (f"It answers on {p.label}'s OpenAI-compatible endpoint `{url}`: Evaluate calls it there with this "
            f"session's {p.label} key (or ${p.credentials_needed[0].env}), never the sidebar's endpoint.")
