"""Together AI through the official `together` SDK (tests/PROVIDER_WIRE_FORMATS.md has the wire format).

Upload the chat JSONL (and the dev split as validation file; the SDK checks the file locally first), ask
`estimate-price` whether the account may proceed (Together's `allowed_to_proceed`: a refusal is recorded
before any job exists), create the fine-tune (LoRA by default), then poll its status, events and loss
metrics; cancel. The output model (`model_output_name`, known at create) answers on Together's
OpenAI-compatible chat endpoint, `<base>/v1`. The SDK is imported only when a client is built.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.endpoint import Endpoint
from core.training import jobs
from core.training.providers import Capabilities, Credential, Progress, Provider, register
from core.training.providers import files

DEFAULT_BASE_URL = "https://api.together.ai"
LIMITS = files.Limits(min_examples=1, max_bytes=int(50.1 * 2 ** 30),
                      source="together 3.1.1 SDK check_file: MIN_SAMPLES = 1, MAX_FILE_SIZE_GB = 50.1; per-example "
                             "tokens: the model's max_seq_length (catalog max_example_tokens)")
ACTIVE = {"pending": "queued", "queued": "queued", "running": "running", "compressing": "running",
          "uploading": "running", "cancel_requested": "running"}


class TogetherOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    n_epochs: int = Field(1, ge=1, le=20, description="Passes over the training file (Together's default: 1).")
    learning_rate: float = Field(1e-5, gt=0, le=1, description="Learning rate (Together's default: 1e-5).")
    batch_size: int | Literal["max"] = Field(
        "max", description="Examples per batch; max: the largest the model allows (Together's default).")
    lora: bool = Field(True, description="Train a LoRA adapter (Together's default, served serverless); "
                                         "off: full fine-tuning.")
    lora_r: int | None = Field(None, ge=1, le=256, description="LoRA rank. Empty: the model's default rank.")
    n_evals: int = Field(2, ge=0, le=100, description="Validation-loss evaluations during training "
                                                      "(needs the validation file).")
    suffix: str = Field("ftlab", max_length=40, description="Added to the fine-tuned model's name.")
    seed: int | None = Field(42, description="Together's random seed for reproducibility.")
    use_validation: bool = Field(True, description="Upload the dev split as the validation file (validation loss).")


def _raw(obj) -> dict:
    """The JSON the server sent (field names differ between the SDK's models: output_name, x_model_output_name)."""
    try:
        return obj.to_dict(warnings=False)
    except (AttributeError, TypeError):
        return obj.model_dump(by_alias=True, warnings=False)


class Together(Provider):
    def client(self, endpoint: Endpoint):
        import together

        return together.Together(api_key=endpoint.api_key, base_url=endpoint.base_url or DEFAULT_BASE_URL,
                                 max_retries=3, timeout=120)

    def inference_endpoint(self, endpoint: Endpoint) -> Endpoint:
        return replace(endpoint, base_url=(endpoint.base_url or DEFAULT_BASE_URL).rstrip("/") + "/v1",
                       provider="openai", account_id=None)

    def records(self, dataset, opts, split: str = "train") -> list[dict]:
        return files.training_records(dataset, "supervised", split)  # Together's SFT format is the chat JSONL

    def validate(self, records, dataset, base_model):
        return files.validate(records, dataset, base_model, LIMITS, provider=self.label)

    def estimate(self, dataset, base_model, opts: TogetherOptions):
        return files.estimate(dataset, base_model, self.records(dataset, opts), opts.n_epochs,
                              notes=("LoRA adapter" if opts.lora else "full fine-tuning",))

    def _upload(self, store, client, job, records: list[dict], which: str) -> str:
        with tempfile.TemporaryDirectory() as tmp:  # the SDK uploads a path (.jsonl)
            path = Path(tmp) / f"ftlab-{job.dataset_hash}-{which}.jsonl"
            path.write_bytes(files.to_bytes(records))
            uploaded = client.files.upload(path, purpose="fine-tune", check=True)
        status = (uploaded.processing_status or "COMPLETED").upper()
        if status in ("FAILED", "INVALID_FORMAT"):
            report = getattr(client.files.retrieve(uploaded.id), "validation_report", None)
            reason = getattr(report, "error", None) or status
            raise InvalidFile(f"Together rejected the {which} file {uploaded.id}: {reason}")
        jobs.add_event(store, job.id, "message", f"uploaded the {which} file ({len(records)} examples): {uploaded.id}")
        return uploaded.id

    def submit(self, store, client, job, dataset, opts: TogetherOptions) -> Progress:
        which = {"train": "training", "dev": "validation"}
        params = self.upload_splits(store, job, dataset, opts,
                                    lambda records, split: self._upload(store, client, job, records, which[split]))
        extra = {"validation_file": params["validation_file"]} if params.get("validation_file") else {}
        price = client.fine_tuning.estimate_price(training_file=params["training_file"], model=job.base_model,
                                                  n_epochs=opts.n_epochs, **extra)
        if price.estimation_available:
            jobs.add_event(store, job.id, "message",
                           f"Together's estimate: ${price.estimated_total_price or 0:.2f} for "
                           f"{price.estimated_train_token_count or 0:,} training tokens",
                           {"estimated_total_price": price.estimated_total_price, "user_limit": price.user_limit})
            if price.allowed_to_proceed is False:
                message = (f"Together will not start this job: its estimated price "
                           f"${price.estimated_total_price or 0:.2f} is above the account's remaining limit "
                           f"${price.user_limit or 0:.2f} (estimate-price: allowed_to_proceed = false). "
                           "Add credit in Together's billing settings, or train here for free.")
                return Progress("refused", message, error=message)
        created = client.fine_tuning.create(
            training_file=params["training_file"], validation_file=params.get("validation_file") or "",
            model=job.base_model, n_epochs=opts.n_epochs, learning_rate=opts.learning_rate,
            batch_size=opts.batch_size, lora=opts.lora, lora_r=opts.lora_r if opts.lora else None,
            n_evals=opts.n_evals if params.get("validation_file") else 0, suffix=opts.suffix or None,
            random_seed=opts.seed, train_on_inputs="auto")
        raw = _raw(created)
        model = raw.get("model_output_name") or raw.get("output_name")
        jobs.update(store, job.id, provider_id=created.id)
        jobs.add_event(store, job.id, "message", f"provider job {created.id} created; its model will be {model}",
                       {"model_output_name": model})
        return self._progress(raw, [])

    def _progress(self, raw: dict, events: list) -> Progress:
        status = str(raw.get("status") or "pending")
        total, done = raw.get("total_steps"), raw.get("steps_completed")
        fraction = (done / total) if total and done is not None else None
        note = f"step {done}/{total}" if fraction is not None else ""
        if status in ACTIVE:
            words = f"{ACTIVE[status]} (Together: {status.replace('_', ' ')})"
            return Progress(ACTIVE[status], words, fraction=fraction, note=note)
        if status == "completed":
            tokens = raw.get("token_count")
            epochs = raw.get("n_epochs") or 1
            return Progress("succeeded", model=raw.get("model_output_name") or raw.get("output_name"),
                            trained_tokens=int(tokens) * int(epochs) if tokens else None, fraction=1.0, note=note)
        if status == "cancelled":
            return Progress("cancelled", "cancelled", error="cancelled on Together")
        # error, user_error: the reason is in the job's error events
        reason = next((e.message for e in reversed(events) if getattr(e, "level", "") == "error"), None) \
            or f"the job ended with status {status}"
        return Progress("failed", f"failed: {reason}", error=f"Together: {reason}")

    def _sync(self, store, client, job) -> list:
        evs = client.fine_tuning.list_events(job.provider_id).data
        for ev in evs:  # oldest first; Together's events have no id: their time, type and text make one
            key = getattr(ev, "hash", None) or hashlib.sha1(
                f"{ev.created_at}|{ev.type}|{ev.message}".encode()).hexdigest()[:16]
            jobs.add_event(store, job.id, "message", ev.message or str(ev.type),
                           {"level": ev.level, "type": ev.type}, provider_event_id=f"together:{key}",
                           at=str(ev.created_at) if ev.created_at else None)
        try:
            points = client.fine_tuning.list_metrics(job.provider_id).metrics or []
        except Exception as exc:  # the model is still good without its curves
            jobs.add_event(store, job.id, "message", f"loss values not available: {exc}",
                           provider_event_id="together:metrics-unavailable")
            points = []
        for p in points:
            p = p if isinstance(p, dict) else _raw(p)
            step = p.get("train/global_step") or p.get("eval/global_step") or p.get("global_step")
            if step is None:
                continue
            values = {"train_loss": p.get("train/loss"), "valid_loss": p.get("eval/loss")}
            kind = "eval" if p.get("eval/loss") is not None else "train"
            jobs.record_metrics(store, job.id, int(step), provider_event_id=f"together:{kind}:{int(step)}", **values)
        return evs

    def poll(self, store, client, job) -> Progress:
        raw = _raw(client.fine_tuning.retrieve(job.provider_id))
        return self._progress(raw, self._sync(store, client, job))

    def cancel(self, store, client, job) -> Progress:
        return self._progress(_raw(client.fine_tuning.cancel(job.provider_id)), [])


class InvalidFile(ValueError):
    """The provider's own check rejected an uploaded file (the message says why)."""


PROVIDER = register(Together(
    name="together",
    label="Together AI",
    availability="Together AI: open to new fine-tuning jobs (checked 2026-11); LoRA fine-tunes of supported base "
                 "models are served serverless on its OpenAI-compatible endpoint.",
    capabilities=Capabilities(sft=True, dpo=True, lora=True, full=True, validation_file=True, events=True,
                              loss_curve=True, checkpoints=True, cancel=True, pause=False),
    credentials_needed=(Credential("api_key", "TOGETHER_API_KEY", "Together API key", secret=True),
                        Credential("base_url", "TOGETHER_BASE_URL", "Together base URL (host root)")),
    default_base_url=DEFAULT_BASE_URL,
    catalog_provider="together",
    help="Together AI: files + fine-tunes through the official `together` SDK; LoRA by default.",
    defaults_note="Together's defaults: 1 epoch, learning rate 1e-5, the largest batch, a LoRA adapter.",
    options=TogetherOptions,
))
