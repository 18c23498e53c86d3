"""The loopback OpenAI-compatible server, extended with the fine-tuning API (tests drive the real openai client).

    POST /v1/fine_tuning/jobs                  create (or refuse, per scenario)
    GET  /v1/fine_tuning/jobs                  list (metadata[k]=v filter)
    GET  /v1/fine_tuning/jobs/{id}             the job, advanced by the clock
    GET  /v1/fine_tuning/jobs/{id}/events      newest first, `after`/`limit` cursor pagination
    GET  /v1/fine_tuning/jobs/{id}/checkpoints
    POST /v1/fine_tuning/jobs/{id}/cancel|pause|resume

A job moves validating_files → queued → running (a `metrics` event per step,
train loss falling, validation loss U-shaped so that overfitting shows) →
succeeded, with a result file holding the metrics CSV (base64-encoded by
default, as OpenAI serves it) and checkpoints. Time is the wall clock: each
phase takes `phase_s`, each step `step_s`, so a job keeps going while a
client is killed and restarted, as a real provider's does. Scenarios:
`succeed`, `fail` (the file fails validation), `refuse` (403: fine-tuning not
available to this organisation, as OpenAI answers since 2026-05-07).
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time

from tests.fake_openai import FakeOpenAI, FakeRequest, FakeResponse, error_response, route, serve_by_hand

REFUSAL = ("Fine-tuning is not available for your organization. OpenAI is winding down self-serve fine-tuning; "
           "new organizations can no longer create fine-tuning jobs.")


class FakeFineTuning(FakeOpenAI):
    def __init__(self, *, scenario: str = "succeed", phase_s: float = 0.1, step_s: float = 0.03, steps: int = 12,
                 base64_results: bool = True, **kw):
        super().__init__(**kw)
        self.scenario = scenario
        self.phase_s, self.step_s, self.steps = phase_s, step_s, steps
        self.base64_results = base64_results
        self.ft_jobs: dict[str, dict] = {}
        self._ft_lock = threading.RLock()

    # -- the job's life, computed from the clock
    def _tokens(self, file_id: str) -> int:
        lines = [json.loads(x) for x in self.files[file_id]["content"].splitlines() if x.strip()]
        words = sum(len((m.get("content") or "").split()) for rec in lines for m in rec.get("messages", []))
        return math.ceil(words * 4 / 3) + 4 * len(lines)

    def _emit(self, job: dict, message: str, kind: str = "message", data: dict | None = None, level: str = "info"):
        n = len(job["_events"]) + 1
        job["_events"].append({"object": "fine_tuning.job.event", "id": f"ftevent-{job['id'][-6:]}-{n:04d}",
                               "created_at": int(time.time()), "level": level, "message": message,
                               "type": kind, "data": data})

    def _losses(self, step: int) -> tuple[float, float]:
        train = 2.0 * math.exp(-step / (self.steps / 4)) + 0.05
        best = self.steps * 0.6  # validation loss turns up after 60 % of the steps
        valid = 0.3 + 1.7 * math.exp(-step / (self.steps / 4)) + 0.02 * max(0.0, step - best) ** 1.2
        return round(train, 4), round(valid, 4)

    def _advance(self, job: dict) -> None:
        with self._ft_lock:
            if job["status"] in ("succeeded", "failed", "cancelled") or job["status"] == "paused":
                return
            t = time.monotonic() - job["_t0"] - job["_paused_s"]
            if job["status"] == "validating_files" and t >= self.phase_s:
                if self.scenario == "fail":
                    job["error"] = {"code": "invalid_training_file", "param": "training_file",
                                    "message": "The job failed due to an invalid training file. Expected file to "
                                               "have JSONL format with prompt/completion keys."}
                    job.update(status="failed", finished_at=int(time.time()))
                    self._emit(job, job["error"]["message"], level="error")
                    return
                job["status"] = "queued"
                self._emit(job, "Files validated, moving job to queued state")
            if job["status"] == "queued" and t >= 2 * self.phase_s:
                job["status"] = "running"
                job["estimated_finish"] = int(time.time() + self.steps * self.step_s)
                self._emit(job, "Fine-tuning job started")
            if job["status"] == "running":
                done = min(self.steps, int((t - 2 * self.phase_s) / self.step_s))
                while job["_step"] < done:
                    job["_step"] += 1
                    s = job["_step"]
                    train, valid = self._losses(s)
                    data = {"step": s, "train_loss": train, "total_steps": self.steps,
                            "train_mean_token_accuracy": round(1 - train / 3, 4)}
                    if job["validation_file"]:
                        data |= {"valid_loss": valid, "valid_mean_token_accuracy": round(1 - valid / 3, 4)}
                    self._emit(job, f"Step {s}/{self.steps}: training loss={train}", "metrics", data)
                    if s % max(1, self.steps // 3) == 0:
                        job["_checkpoints"].append((s, train, valid))
                if job["_step"] >= self.steps:
                    self._finish(job)

    def _finish(self, job: dict) -> None:
        model = f"ft:{job['model']}:fake-org:{job.get('suffix') or 'ft'}:{job['id'][-8:]}"
        rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
        for s in range(1, self.steps + 1):
            train, valid = self._losses(s)
            v = (f"{valid},{round(1 - valid / 3, 4)}" if job["validation_file"] else ",")
            rows.append(f"{s},{train},{round(1 - train / 3, 4)},{v}")
        csv = ("\n".join(rows) + "\n").encode()
        meta = self.add_file(base64.b64encode(csv) if self.base64_results else csv, "step_metrics.csv",
                             "fine-tune-results")
        epochs = job["hyperparameters"]["n_epochs"]
        job.update(status="succeeded", fine_tuned_model=model, finished_at=int(time.time()), result_files=[meta["id"]],
                   trained_tokens=self._tokens(job["training_file"]) * (epochs if isinstance(epochs, int) else 3),
                   estimated_finish=None)
        self._emit(job, f"New fine-tuned model created: {model}")
        self._emit(job, "The job has successfully completed")

    def _public(self, job: dict) -> dict:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _job(self, req: FakeRequest) -> dict | None:
        job = self.ft_jobs.get(req.params["id"])
        if job is not None:
            self._advance(job)
        return job

    # -- routes
    @route("POST", r"/v1/fine_tuning/jobs")
    def create_ft_job(self, req: FakeRequest) -> FakeResponse:
        body = req.json
        self._log(path=req.path, status=None, fault=None, key=None, idempotency_key=None, kind="create_ft_job")
        if self.scenario == "refuse":
            return error_response(403, REFUSAL, "fine_tuning_unavailable", "permission_error")
        f = self.files.get(body.get("training_file"))
        if f is None or f["meta"]["purpose"] != "fine-tune":
            return error_response(400, f"invalid training_file: {body.get('training_file')}", "invalid_request",
                                  headers={})
        if self.models is not None and body.get("model") not in self.models:
            return error_response(404, f"Model {body.get('model')} is not available for fine-tuning.",
                                  "model_not_available")
        method = body.get("method") or {"type": "supervised", "supervised": {"hyperparameters": {}}}
        hp = dict((method.get(method["type"]) or {}).get("hyperparameters") or {})
        hp = {"n_epochs": hp.get("n_epochs", "auto"), "batch_size": hp.get("batch_size", "auto"),
              "learning_rate_multiplier": hp.get("learning_rate_multiplier", "auto"),
              **({"beta": hp.get("beta", "auto")} if method["type"] == "dpo" else {})}
        if hp["n_epochs"] == "auto":
            hp["n_epochs"] = 3
        jid = f"ftjob-{self._next_id('ftjob'):06d}abcdef"
        job = {"id": jid, "object": "fine_tuning.job", "created_at": int(time.time()), "error": None,
               "fine_tuned_model": None, "finished_at": None, "hyperparameters": hp, "model": body["model"],
               "organization_id": "org-fake", "result_files": [], "seed": body.get("seed") or 0,
               "status": "validating_files", "trained_tokens": None, "training_file": body["training_file"],
               "validation_file": body.get("validation_file"), "estimated_finish": None, "integrations": [],
               "metadata": body.get("metadata"), "suffix": body.get("suffix"),
               "method": {"type": method["type"], method["type"]: {"hyperparameters": hp}},
               "_t0": time.monotonic(), "_paused_s": 0.0, "_paused_at": None, "_step": 0, "_events": [],
               "_checkpoints": []}
        self.ft_jobs[jid] = job
        self._emit(job, f"Created fine-tuning job: {jid}")
        self._emit(job, "Validating training file: " + body["training_file"])
        return FakeResponse(200, self._public(job))

    @route("GET", r"/v1/fine_tuning/jobs")
    def list_ft_jobs(self, req: FakeRequest) -> FakeResponse:
        wanted = {k[len("metadata["):-1]: v[0] for k, v in req.query.items() if k.startswith("metadata[")}
        data = []
        for job in reversed(list(self.ft_jobs.values())):
            self._advance(job)
            if all((job.get("metadata") or {}).get(k) == v for k, v in wanted.items()):
                data.append(self._public(job))
        return FakeResponse(200, {"object": "list", "data": data, "has_more": False})

    @route("GET", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)")
    def get_ft_job(self, req: FakeRequest) -> FakeResponse:
        job = self._job(req)
        return FakeResponse(200, self._public(job)) if job else error_response(404, "No such job", "not_found")

    @route("GET", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)/events")
    def ft_events(self, req: FakeRequest) -> FakeResponse:
        job = self._job(req)
        if job is None:
            return error_response(404, "No such job", "not_found")
        newest_first = list(reversed(job["_events"]))
        after = (req.query.get("after") or [None])[0]
        if after:
            ids = [e["id"] for e in newest_first]
            newest_first = newest_first[ids.index(after) + 1:] if after in ids else []
        limit = int((req.query.get("limit") or [20])[0])
        return FakeResponse(200, {"object": "list", "data": newest_first[:limit], "has_more": len(newest_first) > limit})

    @route("GET", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)/checkpoints")
    def ft_checkpoints(self, req: FakeRequest) -> FakeResponse:
        job = self._job(req)
        if job is None:
            return error_response(404, "No such job", "not_found")
        data = [{"object": "fine_tuning.job.checkpoint", "id": f"ftckpt-{job['id'][-6:]}-{s}",
                 "created_at": int(time.time()), "fine_tuning_job_id": job["id"], "step_number": s,
                 "fine_tuned_model_checkpoint": f"ft:{job['model']}:fake-org:{job.get('suffix') or 'ft'}:"
                                                f"{job['id'][-8:]}:ckpt-step-{s}",
                 "metrics": {"step": s, "train_loss": tr, "valid_loss": va}}
                for s, tr, va in reversed(job["_checkpoints"])]
        return FakeResponse(200, {"object": "list", "data": data, "has_more": False})

    @route("POST", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)/(?P<action>cancel|pause|resume)")
    def ft_action(self, req: FakeRequest) -> FakeResponse:
        job = self._job(req)
        if job is None:
            return error_response(404, "No such job", "not_found")
        action = req.params["action"]
        with self._ft_lock:
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return error_response(400, f"Job has already completed: {job['status']}", "invalid_request")
            if action == "cancel":
                job.update(status="cancelled", finished_at=int(time.time()))
                self._emit(job, "Fine-tuning job cancelled")
            elif action == "pause" and job["status"] == "running":
                job.update(status="paused", _paused_at=time.monotonic())
                self._emit(job, "Fine-tuning job paused")
            elif action == "resume" and job["status"] == "paused":
                job["_paused_s"] += time.monotonic() - job["_paused_at"]
                job.update(status="running", _paused_at=None)
                self._emit(job, "Fine-tuning job resumed")
            elif action in ("pause", "resume"):
                return error_response(400, f"Cannot {action} a job that is {job['status']}", "invalid_request")
        return FakeResponse(200, self._public(job))


def main() -> None:  # pragma: no cover - for trying the Train page by hand
    """`python -m tests.fake_openai_ft`: serve on a free port until Ctrl-C, printing the base URL."""
    server = FakeFineTuning(phase_s=2, step_s=1, steps=30).start()
    serve_by_hand(server, f"OPENAI_BASE_URL={server.base_url}")


if __name__ == "__main__":  # pragma: no cover
    main()
