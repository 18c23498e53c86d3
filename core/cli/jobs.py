"""`python -m core jobs`: the job registry — every training, its status, model, cost — and its upkeep.

    python -m core jobs --json              list (local jobs whose worker died are marked interrupted first)
    python -m core jobs --resume --json     poll every unfinished hosted job until it ends (after a restart)
    python -m core jobs --show JOB --json   one job with its events and metric points
    python -m core jobs --cancel JOB | --restart JOB
"""

from __future__ import annotations

import sys

from core.training import jobs
from core.cli import CommandError, Result
from core.store import open_store
from core import endpoint as endpoints
from core.endpoint import Endpoint

HELP = "list fine-tuning jobs and their models; resume polling, cancel or restart one"


def add_arguments(parser) -> None:
    parser.add_argument("--status", action="append", choices=jobs.STATUSES, help="only jobs in this status (repeatable)")
    parser.add_argument("--resume", action="store_true", help="poll unfinished hosted jobs until they end")
    parser.add_argument("--show", metavar="JOB", help="one job with its events and metrics")
    parser.add_argument("--cancel", metavar="JOB", help="cancel a job (local: stops at its next step)")
    parser.add_argument("--restart", metavar="JOB", help="re-run an interrupted/failed local job as a new job")


def _client():
    endpoint = Endpoint.from_env()
    if not endpoint.configured:
        raise CommandError("no fine-tuning API configured: set OPENAI_API_KEY (and OPENAI_BASE_URL) to reach hosted jobs")
    return endpoints.client(endpoint)


def run(args) -> Result:
    store = open_store(args.workspace)
    jobs.reconcile_local(store)
    try:
        if args.show:
            job = jobs.get(store, args.show)
            data = {**job.summary(), "params": job.params, "provider_id": job.provider_id,
                    "events": [e.__dict__ for e in jobs.events(store, job.id) if e.kind != "metrics"],
                    "metrics": jobs.metrics(store, job.id)}
            return Result(data, "\n".join(f"{e['at']}  {e['kind']:<7} {e['message']}" for e in data["events"]))
        if args.cancel:
            job = jobs.get(store, args.cancel)
            if job.is_local:
                job = jobs.request_cancel(store, job.id)
            else:
                from core.training import hosted

                job = hosted.cancel(store, _client(), job.id)
            return Result(job.summary(), f"{job.id}: {job.status}" + (" (stopping)" if job.cancel_requested else ""))
        if args.restart:
            from core.training.worker import restart

            job = restart(store, args.restart)
            return Result(job.summary(), f"{args.restart} restarted as {job.id}")
    except KeyError as exc:
        raise CommandError(str(exc).strip('"')) from exc
    except (ValueError, RuntimeError) as exc:
        raise CommandError(str(exc)) from exc
    if args.resume:
        from core.training import hosted

        unfinished = jobs.list_jobs(store, jobs.ACTIVE, backend="openai")
        if unfinished:
            client = _client()
            for job in unfinished:
                print(f"{job.id}: {job.status}, polling", file=sys.stderr, flush=True)
                hosted.watch(store, client, job.id)
    listed = jobs.list_jobs(store, args.status)
    rows = [j.summary() for j in listed]
    text = "\n".join(
        f"{j.id:<16} {j.status:<12} {j.backend:<13} {j.base_model:<26} {j.dataset_hash or '':<16} "
        f"{(j.model_name or j.model_ref or ''):<40} {'' if j.cost_usd is None else f'${j.cost_usd:.2f}'}"
        for j in listed) or "no jobs yet: python -m core train --backend local-setfit --dataset sample"
    return Result(rows, text)
