"""`python -m core train`: fine-tune on a dataset version, locally or on an OpenAI-compatible API, and wait.

    python -m core train --backend local-setfit --dataset sample --json
    python -m core train --backend openai:gpt-4.1-mini-2025-04-14 --dataset data.csv --budget-usd 5 --json

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
from core import endpoint as endpoints
from core.endpoint import Endpoint

HELP = "fine-tune a model (local-setfit, local-lora or openai:<base-model>) on a dataset and wait for it"


def add_arguments(parser) -> None:
    parser.add_argument("--backend", required=True, metavar="BACKEND",
                        help="local-setfit | local-lora | openai:<base-model> (any OpenAI-compatible fine-tuning API: "
                             "$OPENAI_BASE_URL / $OPENAI_API_KEY, or Azure via $AZURE_OPENAI_ENDPOINT)")
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
        opts["n_epochs" if backend == "openai" else "epochs"] = args.epochs
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
        return Result({"estimate": estimate, "allowed": check.allowed, "reasons": list(check.reasons)}, check.confirm)
    if not check.allowed:
        raise CommandError(" ".join(check.reasons), exit_code=3)
    missing = missing_modules(plan.backend)
    if missing:
        raise CommandError(f"{plan.backend} needs the local tier: pip install -r requirements-local.txt "
                           f"(missing: {', '.join(missing)})")
    endpoint = None
    if not plan.is_local:
        endpoint = Endpoint.from_env()
        if not endpoint.configured:
            raise CommandError("no fine-tuning API configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for another "
                               "server) or AZURE_OPENAI_ENDPOINT / AZURE_OPENAI_API_KEY / OPENAI_API_VERSION")
    print(check.confirm, file=sys.stderr, flush=True)
    try:
        # Trainers print their logs to stdout; stdout is the JSON contract, so they talk to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            job = launch(store, plan, endpoint=endpoint, detach=args.detach)
    except hosted.InvalidTrainingFile as exc:
        raise CommandError(str(exc), exit_code=1) from exc
    if not plan.is_local and job.is_active and not args.detach:
        print(f"{job.id}: {job.status} (provider job {job.provider_id}); polling", file=sys.stderr, flush=True)
        job = hosted.watch(store, endpoints.client(endpoint), job.id)
    data = job.summary()
    text = f"{job.id}: {job.status}" + (f" → {job.model_ref}" if job.model_ref else "") + \
        (f" (${job.cost_usd:.2f})" if job.cost_usd else "") + (f"\n{job.error}" if job.error else "") + \
        (f"\nevaluate it: python -m core evaluate --dataset {ds.hash} --approach {job.approach_spec}"
         if job.approach_spec else "")
    ok = job.status == "succeeded" or (args.detach and job.is_active)
    return Result(data, text, exit_code=0 if ok else 1)
