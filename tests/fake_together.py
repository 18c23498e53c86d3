"""A loopback Together AI server: files + fine-tuning + OpenAI-compatible chat, in Together's wire format.

Tests drive it through the official `together` SDK (`Together(base_url=server.root_url, api_key=...)`;
the SDK's base URL is the host root, its paths carry `/v1`) and the `openai` client
(`OpenAI(base_url=server.base_url)`, i.e. `<root>/v1`). What it plays, as together 3.1.1 sends it
(tests/PROVIDER_WIRE_FORMATS.md has the sources):

    POST /v1/files                       multipart form purpose, file_name, file_type, checksum (no bytes):
                                         302, Location: a presigned URL, X-Together-File-Id: file-…
    PUT  <Location>                      the file's bytes → 200
    POST /v1/files/{id}/preprocess       validates the file → FileResponse (processing_status, validation_report)
    POST /v1/files/upload                the documented one-shot multipart upload (file + purpose + file_name)
    GET  /v1/files, /v1/files/{id}, /v1/files/{id}/content, DELETE /v1/files/{id}
    GET  /v1/fine-tunes/models/limits?model_name=…   (the SDK's create() asks first)
    POST /v1/fine-tunes/estimate-price                (and this)
    POST /v1/fine-tunes                  → FinetuneResponseTruncated, model_output_name assigned at once
    GET  /v1/fine-tunes, /v1/fine-tunes/{id}, …/{id}/events ({"data": [...]}),
         …/{id}/metrics ({"metrics": [{"train/loss", "train/global_step", …}]}), …/{id}/checkpoints
    POST /v1/fine-tunes/{id}/cancel      → cancel_requested, then cancelled
    POST /v1/chat/completions            the shared deterministic classifier (tests/fake_openai.py)

A job's status comes from the clock: pending → queued → running (a step every `step_s`) →
uploading → completed. Scenarios: `succeed`; `quota` (create answers 402 with Together's ErrorData,
and estimate-price says allowed_to_proceed=false); `invalid_file` (preprocess reports INVALID_FORMAT and
create answers 400); `fail` (the job ends in status `error` with a job_error event). Every error body is
`{"error": {"message", "type", "param", "code"}}` (ErrorData in Together's OpenAPI spec).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from datetime import datetime, timezone

from tests.fake_openai import FakeOpenAI, FakeRequest, FakeResponse, route, serve_by_hand

QUOTA_MESSAGE = ("Insufficient balance: this job is estimated to cost more than your remaining credit limit. "
                 "Add credits in Settings -> Billing to continue.")
INVALID_MESSAGE = "Invalid file format: line 1 must be a JSON object with a non-empty 'messages' list"
FAIL_MESSAGE = "Job failed: training data contains samples longer than the maximum sequence length"
TERMINAL = ("completed", "cancelled", "error", "user_error")


def _iso(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def together_error(status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                   param: str | None = None) -> FakeResponse:
    return FakeResponse(status, {"error": {"message": message, "type": type_, "param": param, "code": code}})


def model_limits(model: str) -> dict:
    """A FinetuneModelLimits body (GET /v1/fine-tunes/models/limits)."""
    return {"model_name": model, "default_gradient_accumulation_steps": 1, "max_learning_rate": 1.0,
            "min_learning_rate": 1e-8, "max_num_epochs": 20, "max_num_checkpoints": 10, "max_num_evals": 100,
            "max_seq_length_sft": 8192, "max_seq_length_dpo": 8192, "min_max_seq_length": 512,
            "merge_output_lora": False, "supports_full_training": True, "supports_reasoning": False,
            "supports_tools": True, "supports_vision": False,
            "lora_training": {"default_rank": 8, "max_rank": 64, "min_batch_size": 8, "max_batch_size": 64,
                              "max_batch_size_dpo": 32, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
            "full_training": {"min_batch_size": 8, "max_batch_size": 32, "max_batch_size_dpo": 16}}


class FakeTogether(FakeOpenAI):
    def __init__(self, *, scenario: str = "succeed", phase_s: float = 0.05, step_s: float = 0.02, steps: int = 10,
                 namespace: str = "fake-user", **kw):
        super().__init__(**kw)
        self.scenario, self.phase_s, self.step_s, self.steps, self.namespace = scenario, phase_s, step_s, steps, namespace
        self.fine_tunes: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self._ft_lock = threading.RLock()
        # Of FakeOpenAI's routes only chat completions is Together's as well; files, batches and models differ.
        self.routes = [r for r in self.routes if r[1].pattern == r"/v1/chat/completions"] + [
            r for r in self._own_routes()]

    def _own_routes(self):
        own = []
        for klass in type(self).__mro__:
            if klass is FakeOpenAI:
                break
            for name, fn in vars(klass).items():
                if hasattr(fn, "_route"):
                    method, pattern = fn._route
                    own.append((method, re.compile(pattern), lambda srv, req, _n=name: getattr(srv, _n)(req)))
        return own

    # -- lifecycle: the presigned upload is a PUT, which FakeOpenAI's handler does not take
    def start(self) -> "FakeTogether":
        super().start()
        handler = self._httpd.RequestHandlerClass
        handler.do_PUT = handler.do_POST
        return self

    @property
    def root_url(self) -> str:
        """What `together.Together(base_url=...)` takes: the host root (the SDK's paths start with /v1)."""
        return self.base_url[: -len("/v1")]

    def dispatch(self, req: FakeRequest) -> FakeResponse:
        with self._lock:
            self.calls.append((req.method, req.path))
        return super().dispatch(req)

    # -- chat: base models are served as configured; a fine-tune's output name only once the job completed
    def _unknown_model(self, model: str) -> FakeResponse | None:
        for job in list(self.fine_tunes.values()):
            if job["model_output_name"] == model:
                self._advance(job)
                if job["status"] == "completed":
                    return None
                return together_error(404, f"Unable to access model {model}. The fine-tuned model is not ready yet.",
                                      code="model_not_available")
        if self.models is not None and model not in self.models:
            return together_error(404, f"Unable to access model {model}. Please visit https://api.together.ai/models "
                                       "to view the list of supported models.", code="model_not_available")
        return None

    # -- files
    def _file_meta(self, fid: str) -> dict:
        f = self.files[fid]
        return dict(f["meta"])

    def _validate(self, content: bytes) -> tuple[bool, int, str | None]:
        lines = [x for x in content.decode("utf-8", "replace").splitlines() if x.strip()]
        if self.scenario == "invalid_file":
            return False, len(lines), INVALID_MESSAGE
        for n, line in enumerate(lines, 1):
            try:
                rec = json.loads(line)
            except ValueError:
                return False, len(lines), f"Invalid file format: line {n} is not valid JSON"
            if not isinstance(rec, dict) or not rec.get("messages"):
                return False, len(lines), f"Invalid file format: line {n} must have a non-empty 'messages' list"
        if not lines:
            return False, 0, "Invalid file format: the file is empty"
        return True, len(lines), None

    def _new_file(self, filename: str, purpose: str, file_type: str, content: bytes | None) -> str:
        n = self._next_id("file")
        fid = f"file-{n:08x}-7a2b-4c1d-9e3f-{n:012x}"
        meta = {"id": fid, "object": "file", "created_at": int(time.time()), "filename": filename,
                "bytes": len(content or b""), "purpose": purpose, "FileType": file_type, "Processed": False,
                "processing_status": "PENDING", "LineCount": 0}
        self.files[fid] = {"meta": meta, "content": content}
        return fid

    def _process(self, fid: str) -> dict:
        f = self.files[fid]
        valid, nlines, err = self._validate(f["content"] or b"")
        report = {"valid": valid, "file_id": fid, "nlines": nlines, "dataset_format": "CONVERSATION" if valid else None}
        if not valid:
            report |= {"error": err, "error_type": "INVALID_FORMAT"}
        f["meta"].update(bytes=len(f["content"] or b""), Processed=True, LineCount=nlines,
                         processing_status="COMPLETED" if valid else "INVALID_FORMAT", validation_report=report)
        return self._file_meta(fid)

    def _form_fields(self, req: FakeRequest) -> dict[str, tuple[str | None, bytes]]:
        if "multipart/form-data" in req.headers.get("content-type", ""):
            return req.form()
        from urllib.parse import parse_qs
        return {k: (None, v[0].encode()) for k, v in parse_qs(req.body.decode()).items()}

    @route("POST", r"/v1/files")
    def together_upload_start(self, req: FakeRequest) -> FakeResponse:
        form = self._form_fields(req)
        text = {k: v.decode() for k, (_, v) in form.items() if k != "file"}
        if not text.get("file_name") or not text.get("purpose"):
            return together_error(400, "purpose and file_name are required", param="file_name")
        if text["purpose"] not in ("fine-tune", "eval", "batch-api", "eval-sample", "eval-output"):
            return together_error(400, f"Invalid purpose: {text['purpose']}", param="purpose")
        fid = self._new_file(text["file_name"], text["purpose"], text.get("file_type", "jsonl"), None)
        self.files[fid]["checksum"] = text.get("checksum")
        return FakeResponse(302, b"", {"location": f"{self.root_url}/_presigned/{fid}", "x-together-file-id": fid})

    @route("PUT", r"/_presigned/(?P<id>[^/]+)")
    def together_presigned_put(self, req: FakeRequest) -> FakeResponse:
        f = self.files.get(req.params["id"])
        if f is None:
            return FakeResponse(403, b"<Error><Code>AccessDenied</Code></Error>", {"content-type": "application/xml"})
        f["content"] = req.body
        return FakeResponse(200, b"")

    @route("POST", r"/v1/files/(?P<id>[^/]+)/preprocess")
    def together_preprocess(self, req: FakeRequest) -> FakeResponse:
        f = self.files.get(req.params["id"])
        if f is None or f["content"] is None:
            return together_error(404, f"File {req.params['id']} not found or not uploaded", code="file_not_found")
        return FakeResponse(200, self._process(req.params["id"]))

    @route("POST", r"/v1/files/upload")
    def together_upload_direct(self, req: FakeRequest) -> FakeResponse:
        form = req.form()
        if "file" not in form:
            return together_error(400, "a 'file' part is required", param="file")
        filename, content = form["file"]
        name = form.get("file_name", (None, (filename or "upload.jsonl").encode()))[1].decode()
        purpose = form.get("purpose", (None, b"fine-tune"))[1].decode()
        ftype = form.get("file_type", (None, b"jsonl"))[1].decode()
        fid = self._new_file(name, purpose, ftype, content)
        return FakeResponse(200, self._process(fid))

    @route("GET", r"/v1/files")
    def together_list_files(self, req: FakeRequest) -> FakeResponse:
        return FakeResponse(200, {"data": [self._file_meta(fid) for fid in self.files]})

    @route("GET", r"/v1/files/(?P<id>[^/]+)")
    def together_get_file(self, req: FakeRequest) -> FakeResponse:
        if req.params["id"] not in self.files:
            return together_error(404, f"File {req.params['id']} not found", code="file_not_found")
        return FakeResponse(200, self._file_meta(req.params["id"]))

    @route("GET", r"/v1/files/(?P<id>[^/]+)/content")
    def together_file_content(self, req: FakeRequest) -> FakeResponse:
        f = self.files.get(req.params["id"])
        if f is None:
            return together_error(404, f"File {req.params['id']} not found", code="file_not_found")
        return FakeResponse(200, f["content"] or b"")

    @route("DELETE", r"/v1/files/(?P<id>[^/]+)")
    def together_delete_file(self, req: FakeRequest) -> FakeResponse:
        if self.files.pop(req.params["id"], None) is None:
            return together_error(404, f"File {req.params['id']} not found", code="file_not_found")
        return FakeResponse(200, {"id": req.params["id"], "deleted": True})

    # -- fine-tuning: the job's life, computed from the clock
    def _event(self, job: dict, type_: str, message: str, level: str = "info", **extra) -> None:
        job["_events"].append({"object": "fine-tune-event", "created_at": _iso(), "level": level, "message": message,
                               "type": type_, "hash": f"{job['id'][-6:]}{len(job['_events']):04d}",
                               "param_count": None, "token_count": None, "wandb_url": "", **extra})

    def _losses(self, step: int) -> tuple[float, float]:
        train = round(1.8 * math.exp(-step / (self.steps / 3)) + 0.08, 4)
        valid = round(0.25 + 1.6 * math.exp(-step / (self.steps / 3)) + 0.015 * max(0, step - 0.6 * self.steps), 4)
        return train, valid

    def _advance(self, job: dict) -> None:
        with self._ft_lock:
            if job["status"] in TERMINAL:
                return
            if job["status"] == "cancel_requested":
                job.update(status="cancelled", updated_at=_iso())
                self._event(job, "job_stopped", "Job was stopped by the user")
                return
            t = time.monotonic() - job["_t0"]
            if job["status"] == "pending" and t >= self.phase_s:
                job.update(status="queued", queue_depth=0, updated_at=_iso())
            if job["status"] == "queued" and t >= 2 * self.phase_s:
                job.update(status="running", started_at=_iso(), updated_at=_iso())
                self._event(job, "job_start", "Fine-tuning job started")
                self._event(job, "model_downloading", f"Downloading model data for {job['model']}")
                self._event(job, "model_download_complete", "Model data downloaded")
                self._event(job, "training_data_downloading", "Downloading training data")
                self._event(job, "training_data_download_complete", "Training data downloaded",
                            token_count=job["token_count"])
                self._event(job, "training_start", "Training started", param_count=8_030_261_248,
                            total_steps=self.steps)
            if job["status"] == "running":
                if self.scenario == "fail" and t >= 2 * self.phase_s + self.steps * self.step_s / 2:
                    job.update(status="error", updated_at=_iso())
                    self._event(job, "job_error", FAIL_MESSAGE, level="error")
                    return
                done = min(self.steps, int((t - 2 * self.phase_s) / self.step_s))
                per_epoch = max(1, self.steps // job["n_epochs"])
                evals_every = max(1, self.steps // job["n_evals"]) if job["_evals"] else None
                while job["steps_completed"] < done:
                    job["steps_completed"] += 1
                    s = job["steps_completed"]
                    train, valid = self._losses(s)
                    job["_metrics"].append({"train/loss": train, "train/learning_rate": job["learning_rate"],
                                            "train/global_step": s, "train/epoch": round(s / per_epoch, 3)})
                    if evals_every and s % evals_every == 0:
                        job["_metrics"].append({"eval/loss": valid, "train/global_step": s})
                        job["evals_completed"] += 1  # evaluations show in the metrics; the event enum has no type for them
                    if s % per_epoch == 0:
                        job["epochs_completed"] = s // per_epoch
                        self._event(job, "epoch_complete", f"Epoch completed, at step {s}", step=s,
                                    total_steps=self.steps)
                job["progress"] = {"estimate_available": True,
                                   "seconds_remaining": round((self.steps - job["steps_completed"]) * self.step_s, 3)}
                if job["steps_completed"] >= self.steps:
                    job.update(status="uploading", updated_at=_iso())
                    self._event(job, "checkpoint_save", f"Checkpoint saved at step {self.steps}", step=self.steps,
                                checkpoint_path=f"{job['model_output_name']}:{self.steps}")
                    self._event(job, "training_complete", "Training completed")
                    self._event(job, "model_uploading", f"Uploading model {job['model_output_name']}")
                    job["_done_at"] = t
            if job["status"] == "uploading" and t >= job["_done_at"] + self.phase_s:
                job.update(status="completed", updated_at=_iso(), progress=None)
                self._event(job, "model_upload_complete", f"Model uploaded: {job['model_output_name']}",
                            model_path=f"s3://fake-bucket/{job['model_output_name']}")
                self._event(job, "job_complete", f"Fine-tuning job completed. Model name: {job['model_output_name']}")

    def _public(self, job: dict, *, truncated: bool = False) -> dict:
        out = {k: v for k, v in job.items() if not k.startswith("_")}
        out["events"] = [] if truncated else list(job["_events"])
        return out

    def _job(self, req: FakeRequest) -> dict | None:
        job = self.fine_tunes.get(req.params["id"])
        if job is not None:
            self._advance(job)
        return job

    @route("GET", r"/v1/fine-tunes/models/limits")
    def together_model_limits(self, req: FakeRequest) -> FakeResponse:
        name = (req.query.get("model_name") or [""])[0]
        if self.models is not None and name not in self.models:
            return together_error(404, f"Model {name} is not available for fine-tuning", code="model_not_found")
        return FakeResponse(200, model_limits(name))

    def _train_tokens(self, fid: str) -> int:
        content = (self.files.get(fid) or {}).get("content") or b""
        return max(1, math.ceil(len(content.split()) * 4 / 3))

    @route("POST", r"/v1/fine-tunes/estimate-price")
    def together_estimate_price(self, req: FakeRequest) -> FakeResponse:
        body = req.json
        f = self.files.get(body.get("training_file"))
        if f is None or f["meta"].get("processing_status") != "COMPLETED":
            reason = "train_file_invalid" if f is not None and f["meta"].get("processing_status") == "INVALID_FORMAT" \
                else "train_file_not_validated"
            return FakeResponse(200, {"estimation_available": False, "unavailable_reason": reason})
        tokens = self._train_tokens(body["training_file"]) * int(body.get("n_epochs") or 1)
        price = round(tokens * 0.48 / 1e6 + 0.0, 6)
        return FakeResponse(200, {"estimation_available": True, "allowed_to_proceed": self.scenario != "quota",
                                  "estimated_total_price": price, "estimated_train_token_count": tokens,
                                  "estimated_eval_token_count": 0, "user_limit": 0.0 if self.scenario == "quota" else 25.0})

    @route("POST", r"/v1/fine-tunes")
    def together_create(self, req: FakeRequest) -> FakeResponse:
        body = req.json
        if self.scenario == "quota":
            return together_error(402, QUOTA_MESSAGE, type_="credit_limit", code="insufficient_balance")
        if not body.get("model") and not body.get("from_checkpoint"):
            return together_error(400, "model is required", param="model")
        if self.models is not None and body.get("model") not in self.models:
            return together_error(404, f"Model {body.get('model')} is not available for fine-tuning",
                                  code="model_not_found", param="model")
        for key in ("training_file", "validation_file"):
            fid = body.get(key)
            if not fid and key == "validation_file":
                continue
            f = self.files.get(fid)
            if f is None:
                return together_error(400, f"{key} {fid} not found", param=key)
            if f["meta"].get("processing_status") != "COMPLETED":
                report = f["meta"].get("validation_report") or {}
                return together_error(400, f"{key} {fid} failed validation: {report.get('error', 'not validated')}",
                                      param=key)
        n = self._next_id("ft")
        jid = f"ft-{n:08x}-5e6f-4a7b-8c9d-{n:012x}"
        short = body["model"].split("/")[-1] if body.get("model") else "checkpoint"
        suffix = f"-{body['suffix']}" if body.get("suffix") else ""
        output = f"{self.namespace}/{short}{suffix}-{jid[3:11]}"
        n_epochs = int(body.get("n_epochs") or 1)
        ttype = body.get("training_type") or {"type": "Lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
                                              "lora_trainable_modules": "all-linear"}
        job = {"id": jid, "status": "pending", "created_at": _iso(), "updated_at": _iso(), "started_at": None,
               "user_id": "user-fake", "owner_address": "fake@example.com", "model": body.get("model"),
               "model_output_name": output, "adapter_output_name": f"{output}-adapter" if ttype["type"] == "Lora" else None,
               "suffix": body.get("suffix"), "training_file": body["training_file"],
               "validation_file": body.get("validation_file") or "", "n_epochs": n_epochs,
               "n_checkpoints": body.get("n_checkpoints", 1), "n_evals": int(body.get("n_evals") or 0),
               "batch_size": body.get("batch_size", "max"), "learning_rate": body.get("learning_rate", 1e-5),
               "lr_scheduler": body.get("lr_scheduler"), "warmup_ratio": body.get("warmup_ratio", 0.0),
               "max_grad_norm": body.get("max_grad_norm", 1.0), "weight_decay": body.get("weight_decay", 0.0),
               "packing": body.get("packing", True), "random_seed": body.get("random_seed"),
               "training_type": ttype, "training_method": body.get("training_method") or {"method": "sft",
                                                                                          "train_on_inputs": "auto"},
               "train_on_inputs": (body.get("training_method") or {}).get("train_on_inputs", "auto"),
               "token_count": self._train_tokens(body["training_file"]), "param_count": None,
               "total_price": 0, "total_steps": self.steps, "steps_completed": 0, "epochs_completed": 0,
               "evals_completed": 0, "queue_depth": 1, "wandb_project_name": body.get("wandb_project_name"),
               "wandb_url": None, "progress": None,
               "_t0": time.monotonic(), "_events": [], "_metrics": [], "_done_at": None,
               "_evals": bool(body.get("validation_file")) and int(body.get("n_evals") or 0) > 0}
        job["total_price"] = int(job["token_count"] * n_epochs * 0.48 / 1e6 * 1e9)  # nano-dollars, as Together bills
        self.fine_tunes[jid] = job
        self._event(job, "job_pending", f"Fine-tune request created: {jid}")
        return FakeResponse(200, self._public(job, truncated=True))

    @route("GET", r"/v1/fine-tunes")
    def together_list(self, req: FakeRequest) -> FakeResponse:
        for job in self.fine_tunes.values():
            self._advance(job)
        return FakeResponse(200, {"data": [self._public(j, truncated=True) for j in reversed(self.fine_tunes.values())]})

    @route("GET", r"/v1/fine-tunes/(?P<id>[^/]+)")
    def together_retrieve(self, req: FakeRequest) -> FakeResponse:
        job = self._job(req)
        if job is None:
            return together_error(404, f"Fine-tune job {req.params['id']} not found", code="not_found")
        return FakeResponse(200, self._public(job))

    @route("GET", r"/v1/fine-tunes/(?P<id>[^/]+)/events")
    def together_events(self, req: FakeRequest) -> FakeResponse:
        job = self._job(req)
        if job is None:
            return together_error(404, f"Fine-tune job {req.params['id']} not found", code="not_found")
        return FakeResponse(200, {"data": list(job["_events"])})  # oldest first

    @route("GET", r"/v1/fine-tunes/(?P<id>[^/]+)/metrics")
    def together_metrics(self, req: FakeRequest) -> FakeResponse:
        job = self._job(req)
        if job is None:
            return together_error(404, f"Fine-tune job {req.params['id']} not found", code="not_found")
        lo = int((req.query.get("global_step_from") or [0])[0])
        hi = int((req.query.get("global_step_to") or [10 ** 9])[0])
        return FakeResponse(200, {"metrics": [m for m in job["_metrics"] if lo <= m["train/global_step"] <= hi]})

    @route("GET", r"/v1/fine-tunes/(?P<id>[^/]+)/checkpoints")
    def together_checkpoints(self, req: FakeRequest) -> FakeResponse:
        job = self._job(req)
        if job is None:
            return together_error(404, f"Fine-tune job {req.params['id']} not found", code="not_found")
        data = [] if job["status"] != "completed" else [
            {"type": "Final", "step": self.steps, "path": f"{job['model_output_name']}", "created_at": job["updated_at"]}]
        return FakeResponse(200, {"data": data})

    @route("POST", r"/v1/fine-tunes/(?P<id>[^/]+)/cancel")
    def together_cancel(self, req: FakeRequest) -> FakeResponse:
        job = self._job(req)
        if job is None:
            return together_error(404, f"Fine-tune job {req.params['id']} not found", code="not_found")
        with self._ft_lock:
            if job["status"] in TERMINAL:
                return together_error(400, f"Fine-tune job {job['id']} is already {job['status']} and cannot be cancelled")
            job.update(status="cancel_requested", updated_at=_iso())
            self._event(job, "cancel_requested", "Cancel requested by the user")
        return FakeResponse(200, self._public(job, truncated=True))


def main() -> None:  # pragma: no cover - for trying a provider by hand
    """`python -m tests.fake_together`: serve on a free port until Ctrl-C, printing the base URLs."""
    server = FakeTogether(phase_s=2, step_s=1, steps=30).start()
    serve_by_hand(server, f"TOGETHER_BASE_URL={server.root_url}  (OpenAI-compatible: {server.base_url})")


if __name__ == "__main__":  # pragma: no cover
    main()
