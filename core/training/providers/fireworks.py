"""Fireworks AI through the official `fireworks-ai` SDK (tests/PROVIDER_WIRE_FORMATS.md has the wire format).

Create a dataset and upload the chat JSONL to it (≤ 150 MB in one upload), wait until it is READY, create a
supervised fine-tuning job whose id is the lab's job id (so a retried or interrupted launch finds the same
job: 409 ALREADY_EXISTS / get by id), poll its state and progress, cancel. Fireworks serves no SFT loss
values over its API (only `jobProgress`): the Train page shows progress, not a loss curve. The output model
(`outputModel`, `accounts/<a>/models/<id>`) answers on the OpenAI-compatible endpoint
`https://api.fireworks.ai/inference/v1` — per Fireworks' docs a LoRA model may need a deployment first.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace

from pydantic import BaseModel, ConfigDict, Field

from core.endpoint import Endpoint
from core.training import jobs
from core.training.providers import Capabilities, Credential, Progress, Provider, register
from core.training.providers import files

DEFAULT_BASE_URL = "https://api.fireworks.ai"
LIMITS = files.Limits(min_examples=3, max_bytes=150 * 10 ** 6,
                      source="docs.fireworks.ai fine-tuning-via-api: one-shot :upload up to 150 MB; "
                             "at least 3 examples (assumed, as firectl's check)")
STATES = {"CREATING": "validating_files", "VALIDATING": "validating_files", "CREATING_INPUT_DATASET": "validating_files",
          "PENDING": "queued", "RE_QUEUEING": "queued", "IDLE": "queued", "JOB_STATE_UNSPECIFIED": "queued",
          "RUNNING": "running", "WRITING_RESULTS": "running", "CANCELLING": "running", "PAUSED": "paused"}
READY_WAIT_S = 120.0


class FireworksOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(1, ge=1, le=20, description="Passes over the dataset (Fireworks' default: 1).")
    learning_rate: float = Field(1e-4, gt=0, le=1, description="Learning rate (Fireworks' default: 1e-4).")
    lora_rank: int = Field(8, ge=1, le=64, description="LoRA rank (Fireworks trains LoRA adapters; default 8).")
    batch_size: int | None = Field(None, ge=1, description="Tokens per batch. Empty: Fireworks' default.")
    max_context_length: int | None = Field(None, ge=256, description="Longest example in tokens. Empty: the model's.")
    use_validation: bool = Field(True, description="Upload the dev split as the evaluation dataset.")


def _job_id(job_id: str) -> str:
    """Fireworks resource ids: lower-case letters, digits and hyphens."""
    return re.sub(r"[^a-z0-9-]", "-", job_id.lower())[:60]


class Fireworks(Provider):
    def client(self, endpoint: Endpoint):
        import fireworks

        return fireworks.Fireworks(api_key=endpoint.api_key, account_id=endpoint.account_id,
                                   base_url=endpoint.base_url or DEFAULT_BASE_URL, max_retries=3, timeout=120)

    def ready(self, endpoint):
        return super().ready(endpoint) or (None if endpoint.account_id else
                                           "Fireworks AI needs its account id (FIREWORKS_ACCOUNT_ID).")

    def inference_endpoint(self, endpoint: Endpoint) -> Endpoint:
        return replace(endpoint, base_url=(endpoint.base_url or DEFAULT_BASE_URL).rstrip("/") + "/inference/v1",
                       provider="openai", account_id=None)

    def records(self, dataset, opts, split: str = "train") -> list[dict]:
        return files.training_records(dataset, "supervised", split)  # Fireworks' CHAT format is the chat JSONL

    def validate(self, records, dataset, base_model):
        return files.validate(records, dataset, base_model, LIMITS, provider=self.label)

    def estimate(self, dataset, base_model, opts: FireworksOptions):
        return files.estimate(dataset, base_model, self.records(dataset, opts), opts.epochs,
                              notes=(f"LoRA rank {opts.lora_rank}; serving a LoRA fine-tune may need a deployment "
                                     "(billed per GPU hour, not in this estimate)",))

    def _dataset(self, store, client, job, records: list[dict], which: str) -> str:
        dataset_id = f"{_job_id(job.id)}-{which}"
        ds = client.datasets.create(dataset_id=dataset_id,
                                    dataset={"user_uploaded": {}, "example_count": str(len(records))})
        client.datasets.upload(dataset_id, file=(f"{dataset_id}.jsonl", files.to_bytes(records), "application/jsonl"))
        deadline = time.monotonic() + READY_WAIT_S
        while (got := client.datasets.get(dataset_id)).state != "READY":
            if time.monotonic() > deadline:
                raise TimeoutError(f"Fireworks dataset {ds.name} is still {got.state} after {READY_WAIT_S:.0f} s")
            time.sleep(0.5)
        jobs.add_event(store, job.id, "message", f"uploaded the {which} dataset ({len(records)} examples): {ds.name}")
        return ds.name

    def submit(self, store, client, job, dataset, opts: FireworksOptions) -> Progress:
        params = self.upload_splits(store, job, dataset, opts,
                                    lambda records, split: self._dataset(store, client, job, records, split))
        optional = {k: v for k, v in (("batch_size", opts.batch_size), ("max_context_length", opts.max_context_length),
                                      ("evaluation_dataset", params.get("validation_file"))) if v}
        created = client.supervised_fine_tuning_jobs.create(
            dataset=params["training_file"], base_model=job.base_model, epochs=opts.epochs,
            learning_rate=opts.learning_rate, lora_rank=opts.lora_rank, display_name=f"ftlab {job.id}",
            supervised_fine_tuning_job_id=_job_id(job.id), **optional)
        jobs.update(store, job.id, provider_id=_job_id(job.id))
        jobs.add_event(store, job.id, "message", f"provider job {created.name} created; its model will be "
                                                 f"{created.output_model}", {"output_model": created.output_model})
        return self._progress(created)

    def _progress(self, ft) -> Progress:
        state = (ft.state or "JOB_STATE_UNSPECIFIED").removeprefix("JOB_STATE_")
        percent = getattr(ft.job_progress, "percent", None) if ft.job_progress else None
        fraction = percent / 100 if percent is not None else None
        note = f"{percent}%" + (f", epoch {ft.job_progress.epoch + 1}" if ft.job_progress.epoch is not None else "") \
            if percent is not None else ""
        if state in STATES:
            return Progress(STATES[state], state.lower().replace("_", " "), fraction=fraction, note=note)
        if state in ("COMPLETED", "EARLY_STOPPED"):
            tokens = getattr(ft.job_progress, "input_tokens", None) if ft.job_progress else None
            return Progress("succeeded", model=ft.output_model, trained_tokens=tokens, fraction=1.0, note=note)
        if state == "CANCELLED":
            return Progress("cancelled", "cancelled", error="cancelled on Fireworks")
        status = ft.status
        reason = (status.message if status is not None and status.message else None) or f"the job ended {state.lower()}"
        code = status.code if status is not None and status.code else ""
        return Progress("failed", f"failed: {reason}", error=f"Fireworks: {reason}" + (f" ({code})" if code else ""))

    def poll(self, store, client, job) -> Progress:
        ft = client.supervised_fine_tuning_jobs.get(job.provider_id)
        return self._progress(ft)  # state changes become status events in hosted.apply; no events API for SFT

    def cancel(self, store, client, job) -> Progress:
        client.supervised_fine_tuning_jobs.cancel(job.provider_id, body={})
        return self._progress(client.supervised_fine_tuning_jobs.get(job.provider_id))

    def recover(self, store, client, job) -> bool:
        """The job id is the lab's: ask for it."""
        try:
            client.supervised_fine_tuning_jobs.get(_job_id(job.id))
        except Exception:
            return False
        jobs.update(store, job.id, provider_id=_job_id(job.id))
        jobs.add_event(store, job.id, "message", f"found the provider's job {_job_id(job.id)} again")
        return True


PROVIDER = register(Fireworks(
    name="fireworks",
    label="Fireworks AI",
    availability="Fireworks AI: open to new supervised fine-tuning jobs (checked 2026-11); fine-tunes answer on its "
                 "OpenAI-compatible endpoint (a LoRA model may need a deployment).",
    capabilities=Capabilities(sft=True, dpo=True, lora=True, full=False, validation_file=True, events=False,
                              loss_curve=False, checkpoints=False, cancel=True, pause=False),
    credentials_needed=(Credential("api_key", "FIREWORKS_API_KEY", "Fireworks API key", secret=True),
                        Credential("account_id", "FIREWORKS_ACCOUNT_ID", "Fireworks account id"),
                        Credential("base_url", "FIREWORKS_BASE_URL", "Fireworks base URL (host root)")),
    default_base_url=DEFAULT_BASE_URL,
    catalog_provider="fireworks",
    help="Fireworks AI: datasets + supervised fine-tuning jobs through the official `fireworks-ai` SDK.",
    defaults_note="Fireworks' defaults: 1 epoch, learning rate 1e-4, LoRA rank 8. No loss curve over the API.",
    options=FireworksOptions,
))
