"""OpenAI-compatible fine-tuning: OpenAI, Azure OpenAI and any server implementing `/v1/files` and
`/v1/fine_tuning/jobs` (Nebius Token Factory, a self-hosted server), through the openai client.

Upload the chat JSONL (purpose fine-tune), create the job with metadata naming the lab's job (so an
interrupted launch is found again), then: status, events (metrics events carry the loss), at the end the
result-file metrics CSV and checkpoints; pause and resume.
"""

from __future__ import annotations

import base64
import binascii
import io
import time

from core.endpoint import Endpoint, client as make_client, explain
from core.training import jobs
from core.training.options import HostedOptions
from core.training.providers import Capabilities, Credential, Progress, Provider, register
from core.training.providers import files

def parse_metrics_csv(content: bytes | str) -> list[dict[str, float]]:
    """The result file's step metrics: plain CSV, or base64 of it (as OpenAI serves it)."""
    import pandas as pd

    raw = content.encode() if isinstance(content, str) else content
    if not raw.lstrip().startswith(b"step"):
        try:
            raw = base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("the result file is neither CSV nor base64-encoded CSV") from exc
    frame = pd.read_csv(io.BytesIO(raw))
    if "step" not in frame.columns:
        raise ValueError(f"the result file has no 'step' column (columns: {', '.join(frame.columns)})")
    rows = []
    for rec in frame.to_dict("records"):
        rows.append({k: (int(v) if k == "step" else float(v)) for k, v in rec.items()
                     if v == v and v is not None and str(v) != ""})  # v == v drops NaN
    return rows


class OpenAICompatible(Provider):
    def client(self, endpoint: Endpoint):
        return make_client(endpoint)

    def inference_endpoint(self, endpoint: Endpoint) -> Endpoint:
        return endpoint

    def records(self, dataset, opts: HostedOptions, split: str = "train") -> list[dict]:
        return files.training_records(dataset, opts.method, split, seed=opts.seed or 7)

    def validate(self, records, dataset, base_model):
        return files.validate(records, dataset, base_model, files.Limits(), provider=self.label)

    def estimate(self, dataset, base_model, opts: HostedOptions):
        return files.estimate(dataset, base_model, self.records(dataset, opts),
                              opts.n_epochs if isinstance(opts.n_epochs, int) else None)

    def _upload(self, store, client, job, dataset, records: list[dict], split: str) -> str:
        uploaded = client.files.create(file=(f"ftlab-{dataset.hash}-{split}.jsonl", files.to_bytes(records)),
                                       purpose="fine-tune")
        which = {"train": "training", "dev": "validation"}[split]
        jobs.add_event(store, job.id, "message", f"uploaded the {which} file ({len(records)} examples): {uploaded.id}")
        return uploaded.id

    def submit(self, store, client, job, dataset, opts: HostedOptions) -> Progress:
        params = self.upload_splits(store, job, dataset, opts,
                                    lambda records, split: self._upload(store, client, job, dataset, records, split))
        created = client.fine_tuning.jobs.create(
            model=job.base_model, training_file=params["training_file"], validation_file=params.get("validation_file"),
            method=opts.method_payload(), suffix=opts.suffix or None, seed=opts.seed,
            # Found again by this metadata if the app dies before it records the provider's job id.
            metadata={"ftlab_job": job.id, "ftlab_dataset": dataset.hash},
        )
        jobs.update(store, job.id, provider_id=created.id)
        jobs.add_event(store, job.id, "message", f"provider job {created.id} created")
        return self._progress(created)

    def _progress(self, ft) -> Progress:
        status = ft.status
        if status in ("validating_files", "queued", "running", "paused"):
            return Progress(status, status.replace("_", " "))
        if status == "failed":
            err = ft.error
            message = explain(err.code, err.message) if err is not None else "the provider reports the job failed"
            return Progress("failed", f"failed: {message}", error=message)
        if status == "cancelled":
            return Progress("cancelled", "cancelled", error="cancelled on the provider")
        if status == "succeeded":
            return Progress("succeeded", model=ft.fine_tuned_model, trained_tokens=ft.trained_tokens)
        return Progress(status if status in jobs.ACTIVE else "running", str(status))

    def _sync_events(self, store, client, job) -> None:
        """Store the provider's new events (newest first from the API; stop at the first one already stored)."""
        known = {e.provider_event_id for e in jobs.events(store, job.id) if e.provider_event_id}
        fresh = []
        page = client.fine_tuning.jobs.list_events(job.provider_id, limit=100)
        while True:
            batch = [ev for ev in page.data if ev.id not in known]
            fresh += batch
            if len(batch) < len(page.data) or not page.has_next_page():
                break
            page = page.get_next_page()
        last_step = None
        for ev in reversed(fresh):  # oldest first
            at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ev.created_at))
            data = ev.data if isinstance(ev.data, dict) else None
            if ev.type == "metrics" and data and "step" in data:
                values = {k: data.get(k) for k in ("train_loss", "valid_loss", "full_valid_loss",
                                                   "train_mean_token_accuracy", "valid_mean_token_accuracy")}
                jobs.record_metrics(store, job.id, int(data["step"]), provider_event_id=ev.id, at=at, **values)
                if data.get("total_steps"):
                    last_step = (int(data["step"]), int(data["total_steps"]))
            else:
                jobs.add_event(store, job.id, "message", ev.message, {"level": ev.level}, provider_event_id=ev.id, at=at)
        if last_step:
            step, total = last_step
            jobs.set_progress(store, job.id, step / total, f"step {step}/{total}")

    def _results(self, store, client, job, ft) -> None:
        """Result metrics and checkpoints, before the model is registered."""
        for file_id in ft.result_files or []:
            try:
                rows = parse_metrics_csv(client.files.content(file_id).content)
            except Exception as exc:  # the model is still good without its curves
                jobs.add_event(store, job.id, "message", f"could not read the result file {file_id}: {exc}")
                continue
            for row in rows:
                step = row.pop("step")
                if "train_accuracy" in row:
                    row["train_mean_token_accuracy"] = row.pop("train_accuracy")
                jobs.record_metrics(store, job.id, step, provider_event_id=f"{file_id}:{step}", **row)
        try:
            for ck in client.fine_tuning.jobs.checkpoints.list(job.provider_id).data:
                m = ck.metrics
                jobs.add_event(store, job.id, "message",
                               f"checkpoint at step {ck.step_number}: {ck.fine_tuned_model_checkpoint}",
                               {"checkpoint": ck.fine_tuned_model_checkpoint, "step": ck.step_number,
                                "valid_loss": m.valid_loss, "train_loss": m.train_loss}, provider_event_id=ck.id)
        except Exception as exc:  # servers without checkpoints still give a model
            jobs.add_event(store, job.id, "message", f"checkpoints not available: {exc}",
                           provider_event_id="checkpoints-unavailable")

    def poll(self, store, client, job) -> Progress:
        ft = client.fine_tuning.jobs.retrieve(job.provider_id)
        self._sync_events(store, client, job)
        progress = self._progress(ft)
        if progress.status == "succeeded":
            self._results(store, client, job, ft)
            return Progress("succeeded", model=ft.fine_tuned_model, trained_tokens=ft.trained_tokens,
                            cost_usd=files.cost_of(job.base_model, ft.trained_tokens))
        return progress

    def act(self, store, client, job, action: str) -> Progress:
        """cancel, pause or resume on the provider."""
        return self._progress(getattr(client.fine_tuning.jobs, action)(job.provider_id))

    def cancel(self, store, client, job) -> Progress:
        return self.act(store, client, job, "cancel")

    def recover(self, store, client, job) -> bool:
        for ft in client.fine_tuning.jobs.list(metadata={"ftlab_job": job.id}, limit=10).data:
            jobs.update(store, job.id, provider_id=ft.id)
            jobs.add_event(store, job.id, "message", f"found the provider's job {ft.id} again")
            return True
        return False


PROVIDER = register(OpenAICompatible(
    name="openai",
    label="OpenAI-compatible API",
    availability="OpenAI: organisations that never fine-tuned are refused since 2026-05-07; no new jobs after "
                 "2027-01-06. Azure OpenAI (gpt-4o/4.1 families) closes to new customers. Any other server "
                 "implementing the OpenAI fine-tuning API (Nebius Token Factory, self-hosted) works the same.",
    capabilities=Capabilities(sft=True, dpo=True, lora=False, full=True, validation_file=True, events=True,
                              loss_curve=True, checkpoints=True, cancel=True, pause=True),
    credentials_needed=(Credential("api_key", "OPENAI_API_KEY", "API key", secret=True),
                        Credential("base_url", "OPENAI_BASE_URL", "Base URL")),
    default_base_url=None,
    catalog_provider="openai",
    help="OpenAI, Azure OpenAI or any server implementing the fine-tuning API; costs money, runs on the provider.",
    defaults_note="'auto' lets the provider choose from the file size.",
    options=HostedOptions,
))
