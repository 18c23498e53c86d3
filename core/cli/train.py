"""`python -m core train`: fine-tune on a dataset version, locally or on a hosted provider, and wait.

    python -m core train --backend local-setfit --dataset sample --json
    python -m core train --backend openai:gpt-4.1-mini-2025-04-14 --dataset data.csv --budget-usd 5 --json
    python -m core train --backend together:meta-llama/Meta-Llama-3.1-8B-Instruct-Reference --dataset sample --json
    python -m core train --backend fireworks:accounts/fireworks/models/llama-v3p1-8b-instruct --dataset sample \
        --estimate-only --json

Providers come from the registry (core/training/providers/); each finds its credentials in the environment
(OPENAI_API_KEY / OPENAI_BASE_URL or Azure's; TOGETHER_API_KEY; FIREWORKS_API_KEY + FIREWORKS_ACCOUNT_ID).

Prints `job_id`, `status`, `model` (id or path), `cost_usd`, `seconds` (plus the
estimate, the approach spec for `python -m core evaluate`, and the error if any).
Exit status: 0 succeeded; 1 the job failed, was refused or cancelled; 2 bad
input; 3 refused by the budget before anything started.
"""

from __future__ import annotations

import contextlib
import json
import sys

from core.data import sources
from core.cli import CommandError, Result
from core.store import open_store

HELP = "fine-tune a model (local-setfit, local-lora or PROVIDER:<base-model>) on a dataset and wait for it"


def _providers_help() -> str:
    from core.training import providers

    return "; ".join(f"{p.name}:<base-model> — {p.label} "
                     f"(${' + $'.join(c.env for c in p.credentials_needed if c.name != 'base_url')})"
                     for p in providers.all_providers())


def add_arguments(parser) -> None:
    parser.add_argument("--backend", required=True, metavar="BACKEND",
                        help="local-setfit | local-lora | " + _providers_help()
                             + " (OpenAI-compatible: $OPENAI_BASE_URL for another server, or Azure via "
                               "$AZURE_OPENAI_ENDPOINT)")
    parser.add_argument("--dataset", required=True, metavar="PATH|HASH", help="'sample', a CSV file or a stored version hash")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the backend's)")
    parser.add_argument("--budget-usd", type=float, help="refuse to start when the estimated cost is above this")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any other option of the backend, e.g. --set learning_rate=1e-3 --set max_steps=200")
    parser.add_argument("--detach", action="store_true",
                        help="return once started (local: a background worker; hosted: polling resumes with "
                             "`python -m core jobs --resume`)")
    parser.add_argument("--estimate-only", action="store_true", help="print the estimate and start nothing")


def _options(args, backend: str) -> dict:
    opts: dict = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"--set {item!r}: write KEY=VALUE")
        try:
            opts[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            opts[key.strip()] = value
    if args.epochs is not None:
        from core.training.options import options_class

        opts["n_epochs" if "n_epochs" in options_class(backend).model_fields else "epochs"] = args.epochs
    return opts


def run(args) -> Result:
    from pydantic import ValidationError

    from core.tiers import missing_modules
    from core.training import guards, hosted, parse_backend
    from core.training.plan import launch, make_plan
    from core.training.worker import models_dir

    store = open_store(args.workspace)
    try:
        backend, _ = parse_backend(args.backend)
        ds = sources.resolve(store, args.dataset)
        plan = make_plan(args.backend, ds, _options(args, backend), models_dir(store))
    except ValidationError as exc:
        raise CommandError("bad option: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                                       for e in exc.errors())) from exc
    except (KeyError, ValueError, OSError) as exc:
        raise CommandError(str(exc).strip('"')) from exc
    check = guards.check_launch(plan.backend, plan.estimate, budget_usd=args.budget_usd, price_known=plan.price_known)
    estimate = plan.estimate.to_dict()
    if args.estimate_only:
        from core.training.providers.files import price_source

        data = {"estimate": estimate, "allowed": check.allowed, "reasons": list(check.reasons)}
        if not plan.is_local:
            data |= {"provider": plan.backend, "base_model": plan.base_model, "price": price_source(plan.base_model)}
        return Result(data, check.confirm + "".join(f"\n• {n}" for n in plan.estimate.notes))
    if not check.allowed:
        raise CommandError(" ".join(check.reasons), exit_code=3)
    missing = missing_modules(plan.backend)
    if missing:
        raise CommandError(f"{plan.backend} needs the local tier: pip install -r requirements-local.txt "
                           f"(missing: {', '.join(missing)})")
    endpoint = None
    if not plan.is_local:
        from core.training import providers
        from core.training.plan import default_endpoint

        endpoint = default_endpoint(plan.backend)
        if plan.backend == "openai" and not endpoint.configured:
            raise CommandError("no fine-tuning API configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for another "
                               "server) or AZURE_OPENAI_ENDPOINT / AZURE_OPENAI_API_KEY / OPENAI_API_VERSION")
        if (why := providers.get(plan.backend).ready(endpoint)) is not None:
            raise CommandError(why)
    print(check.confirm, file=sys.stderr, flush=True)
    try:
        # Trainers print their logs to stdout; stdout is the JSON contract, so they talk to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            job = launch(store, plan, endpoint=endpoint, detach=args.detach)
    except hosted.InvalidTrainingFile as exc:
        raise CommandError(str(exc), exit_code=1) from exc
    if not plan.is_local and job.is_active and not args.detach:
        print(f"{job.id}: {job.status} (provider job {job.provider_id}); polling", file=sys.stderr, flush=True)
        job = hosted.watch(store, hosted.client_factory(endpoint)(), job.id)
    data = job.summary()
    where = ""
    if endpoint is not None and endpoint.provider != "openai":
        from core.training import providers

        data["inference_base_url"] = where = providers.get(plan.backend).inference_endpoint(endpoint).base_url
    text = f"{job.id}: {job.status}" + (f" → {job.model_ref}" if job.model_ref else "") + \
        (f" (${job.cost_usd:.2f})" if job.cost_usd else "") + (f"\n{job.error}" if job.error else "") + \
        (f"\nevaluate it: {'OPENAI_API_KEY=<the provider key> ' if where else ''}python -m core evaluate "
         f"--dataset {ds.hash}{f' --base-url {where}' if where else ''} --approach {job.approach_spec}"
         if job.approach_spec else "")
    ok = job.status == "succeeded" or (args.detach and job.is_active)
    return Result(data, text, exit_code=0 if ok else 1)
