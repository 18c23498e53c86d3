"""A launch plan: backend + base model + dataset version + typed options + the estimate — then the launch.

The page and the CLI both go through here, so what is estimated is what is launched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from core.training import jobs
from core.data.dataset import Dataset
from core.store import Store
from core.tiers import missing_modules
from core.training import HOSTED, LOCAL_LORA, LOCAL_SETFIT, guards, parse_backend
from core.training.chat import short_system_text, system_text, training_examples
from core.training.options import Estimate, estimate_lora, estimate_setfit, options_for
from core.endpoint import Endpoint
from core.public_mode import PublicMode


@dataclass(frozen=True)
class Plan:
    backend: str
    base_model: str
    dataset: Dataset
    options: object          # SetFitOptions | LoraOptions | HostedOptions
    estimate: Estimate
    price_known: bool = True

    @property
    def is_local(self) -> bool:
        return self.backend in (LOCAL_SETFIT, LOCAL_LORA)


def make_plan(backend_spec: str, dataset: Dataset, options: dict | None = None,
              models_dir: Path | None = None) -> Plan:
    """Validate the options for the backend and estimate time and cost. Raises ValueError on bad input."""
    backend, base_model = parse_backend(backend_spec)
    opts = options_for(backend, options)
    dev = [e for e in dataset.split("dev") if e.label is not None]
    if backend == LOCAL_SETFIT:
        est = estimate_setfit(training_examples(dataset, opts.max_examples_per_class, opts.seed), dev, opts)
    elif backend == LOCAL_LORA:
        from core.training.lora_local import base_ready

        system = (short_system_text if opts.prompt == "short" else system_text)(dataset.task)
        est = estimate_lora(training_examples(dataset, opts.max_examples_per_class, opts.seed), dev, system, opts,
                            base_ready(models_dir) if models_dir else True)
    else:
        from core.training import hosted

        est = hosted.estimate(dataset, base_model, opts, provider=backend)
        return Plan(backend, base_model, dataset, opts, est, price_known=hosted.cost_of(base_model, 0) is not None)
    if est.examples < 2 or len({e.label for e in training_examples(dataset)}) < 2:
        raise ValueError("training needs labelled train examples of at least two labels")
    return Plan(backend, base_model, dataset, opts, est)


def preflight(store: Store, plan: Plan, *, budget_usd: float | None = None, mode: PublicMode = PublicMode(),
              endpoint_ok: bool = True) -> guards.LaunchCheck:
    """Whether this plan may launch now: the guards (budget, public mode, endpoint) with the local jobs the
    store has running, and the local tier this machine must have installed for a local backend."""
    running_local = sum(j.is_local for j in jobs.list_jobs(store, jobs.ACTIVE))
    check = guards.check_launch(plan.backend, plan.estimate, budget_usd=budget_usd, price_known=plan.price_known,
                                mode=mode, endpoint_ok=endpoint_ok, running_local_jobs=running_local)
    missing = missing_modules(plan.backend)
    if not missing:
        return check
    return replace(check, allowed=False, reasons=check.reasons + (
        "Local training needs the local tier (`pip install -r requirements-local.txt`); "
        f"missing here: {', '.join(missing)}.",))


def launch(store: Store, plan: Plan, *, endpoint=None, client=None, detach: bool = True) -> jobs.Job:
    """Start the planned job. Local: a detached worker (or here, detach=False). Hosted: upload and create
    (refusals come back as a `refused` job); the caller polls (`hosted.watch` / `hosted.ensure_polling`)."""
    if plan.is_local:
        from core.training.worker import launch_local

        return launch_local(store, plan.backend, plan.dataset, plan.options, estimate=plan.estimate.to_dict(),
                            detach=detach)
    from core.training import hosted

    endpoint = endpoint or default_endpoint(plan.backend)
    client = client or hosted.client_factory(endpoint)()
    return hosted.launch(store, client, plan.dataset, plan.base_model, plan.options, endpoint_label=endpoint.label,
                         estimate_=plan.estimate.to_dict(), provider=plan.backend)


def default_endpoint(provider: str) -> Endpoint:
    """The owner's endpoint for a provider from the environment (the CLI's): OpenAI's (or Azure's) variables, or
    the provider's own (TOGETHER_API_KEY, FIREWORKS_API_KEY + FIREWORKS_ACCOUNT_ID, …)."""
    if provider == HOSTED:
        return Endpoint.from_env()
    from core.training import providers

    return providers.get(provider).credentials() or Endpoint(provider=provider)


def launch_here(store: Store, plan: Plan, endpoint: Endpoint | None = None) -> jobs.Job:
    """Launch from the app: as `launch`, and a hosted job the provider took is polled at once by a thread of
    this process (its progress lands in the store). Raises hosted.InvalidTrainingFile before sending anything."""
    job = launch(store, plan, endpoint=endpoint)
    if not job.is_local and job.status not in ("refused", "failed"):
        from core.training import hosted

        hosted.ensure_polling(str(store.path), job.id, hosted.client_factory(endpoint or default_endpoint(plan.backend)))
    return job
