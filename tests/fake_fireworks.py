"""A loopback Fireworks AI server: datasets + supervised fine-tuning jobs + OpenAI-compatible chat.

Tests drive it through the official `fireworks-ai` SDK
(`Fireworks(base_url=server.root_url, api_key=..., account_id=server.account)`: with base_url given, the
SDK sends every path relative to it, inference included as `/v1/chat/completions`) and the `openai` client
at `server.inference_url` (`<root>/inference/v1`, as Fireworks serves it). What it plays, as fireworks-ai
1.2.30 sends it and docs.fireworks.ai documents it (tests/PROVIDER_WIRE_FORMATS.md has the sources):

    POST   /v1/accounts/{a}/datasets                 {"datasetId", "dataset": {"userUploaded": {}, "exampleCount"}}
                                                     → Dataset, state UPLOADING
    POST   /v1/accounts/{a}/datasets/{id}:upload     multipart `file` → {"id", "bytes", "filename", …}; state READY
    GET    /v1/accounts/{a}/datasets/{id}            Dataset (name accounts/{a}/datasets/{id}, state, exampleCount)
    DELETE /v1/accounts/{a}/datasets/{id}
    POST   /v1/accounts/{a}/supervisedFineTuningJobs[?supervisedFineTuningJobId=…]
                                                     camelCase body: dataset, baseModel, epochs, learningRate,
                                                     loraRank, outputModel, evaluationDataset, displayName…
    GET    /v1/accounts/{a}/supervisedFineTuningJobs[/{id}]
    POST   /v1/accounts/{a}/supervisedFineTuningJobs/{id}:cancel   body {} → {}
    DELETE /v1/accounts/{a}/supervisedFineTuningJobs/{id}          → {}
    POST   /inference/v1/chat/completions and /v1/chat/completions   the shared deterministic classifier

A job's `state` follows the clock: JOB_STATE_VALIDATING → JOB_STATE_PENDING → JOB_STATE_RUNNING
(`jobProgress.percent`/`epoch` rising) → JOB_STATE_WRITING_RESULTS → JOB_STATE_COMPLETED, and its
`outputModel` (accounts/{a}/models/{outputModel or job id}) then answers chat. Fireworks documents no
per-step loss for SFT jobs over REST (loss goes to Weights & Biases or the dashboard), so the fake gives
none; `loss_curve(job_id)` is there for tests that want to script one on the side.

Scenarios: `succeed`; `quota` (create answers 403 PERMISSION_DENIED, as seen for accounts without
credit); `invalid_file` (the upload answers 400 INVALID_ARGUMENT); `fail` (the job ends in
JOB_STATE_FAILED with `status.code`/`status.message`). Control-plane errors are google.rpc.Status
bodies: `{"code": <int>, "message": str, "details": []}`; inference errors are OpenAI-shaped.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from datetime import datetime, timezone

from tests.fake_openai import FakeOpenAI, FakeRequest, FakeResponse, route, serve_by_hand

# google.rpc.Code numbers, as the Fireworks gateway (grpc-gateway) puts them in error bodies
RPC = {"INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7,
       "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "UNAUTHENTICATED": 16}
QUOTA_MESSAGE = ("Account fake-account has insufficient credits to create a fine-tuning job. "
                 "Add a payment method or credits in the billing settings.")
INVALID_MESSAGE = "invalid dataset: line 1: expected a JSON object with a non-empty \"messages\" array"
FAIL_MESSAGE = "training failed: sample 3 exceeds the maximum context length"
TERMINAL = ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
            "JOB_STATE_EARLY_STOPPED")

A = r"/v1/accounts/(?P<account>[^/]+)"


def _ts(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, timezone.utc).isoformat(
        timespec="microseconds").replace("+00:00", "Z")


def rpc_error(status: int, code: str, message: str) -> FakeResponse:
    return FakeResponse(status, {"code": RPC[code], "message": message, "details": []})


class FakeFireworks(FakeOpenAI):
    def __init__(self, *, scenario: str = "succeed", account: str = "fake-account", phase_s: float = 0.05,
                 step_s: float = 0.02, steps: int = 10, **kw):
        super().__init__(**kw)
        self.scenario, self.account, self.phase_s, self.step_s, self.steps = scenario, account, phase_s, step_s, steps
        self.datasets: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self._ft_lock = threading.RLock()
        chat = [r for r in self.routes if r[1].pattern == r"/v1/chat/completions"]
        own = []
        for klass in type(self).__mro__:
            if klass is FakeOpenAI:
                break
            for name, fn in vars(klass).items():
                if hasattr(fn, "_route"):
                    method, pattern = fn._route
                    own.append((method, re.compile(pattern), lambda srv, req, _n=name: getattr(srv, _n)(req)))
        self.routes = own + chat  # FakeOpenAI's files, batches and models are not Fireworks'

    @property
    def root_url(self) -> str:
        """What `fireworks.Fireworks(base_url=...)` takes: the host root."""
        return self.base_url[: -len("/v1")]

    @property
    def inference_url(self) -> str:
        """The OpenAI-compatible base URL, as https://api.fireworks.ai/inference/v1 is for the real service."""
        return self.root_url + "/inference/v1"

    def dispatch(self, req: FakeRequest) -> FakeResponse:
        with self._lock:
            self.calls.append((req.method, req.path))
        if not req.headers.get("authorization", "").startswith("Bearer "):
            return rpc_error(401, "UNAUTHENTICATED", "unauthenticated: missing or invalid API key")
        return super().dispatch(req)

    def _check_account(self, req: FakeRequest) -> FakeResponse | None:
        if req.params.get("account") != self.account:
            return rpc_error(403, "PERMISSION_DENIED", f"permission denied on account {req.params.get('account')}")
        return None

    # -- chat: base models as configured; a job's output model once the job completed
    def _unknown_model(self, model: str) -> FakeResponse | None:
        for job in list(self.jobs.values()):
            if job["outputModel"] == model:
                self._advance(job)
                if job["state"] == "JOB_STATE_COMPLETED":
                    return None
                return FakeResponse(404, {"error": {"object": "error", "type": "invalid_request_error",
                                                    "code": "NOT_FOUND", "message": f"Model not found, inaccessible, "
                                                    f"and/or not deployed: {model}"}})
        if self.models is not None and model not in self.models:
            return FakeResponse(404, {"error": {"object": "error", "type": "invalid_request_error", "code": "NOT_FOUND",
                                                "message": f"Model not found, inaccessible, and/or not deployed: {model}"}})
        return None

    @route("POST", r"/inference/v1/chat/completions")
    def fireworks_inference_chat(self, req: FakeRequest) -> FakeResponse:
        return self.chat_completions(req)

    # -- datasets
    def _dataset_name(self, did: str) -> str:
        return f"accounts/{self.account}/datasets/{did}"

    def _dataset_id(self, name_or_id: str) -> str:
        return name_or_id.rsplit("/", 1)[-1]

    @route("POST", A + r"/datasets")
    def fireworks_create_dataset(self, req: FakeRequest) -> FakeResponse:
        if (denied := self._check_account(req)):
            return denied
        body = req.json
        did, spec = body.get("datasetId"), body.get("dataset") or {}
        if not did or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", did):
            return rpc_error(400, "INVALID_ARGUMENT", f"invalid dataset id {did!r}: must match [a-z0-9-]{{1,63}}")
        if did in self.datasets:
            return rpc_error(409, "ALREADY_EXISTS", f"dataset {self._dataset_name(did)} already exists")
        ds = {"name": self._dataset_name(did), "displayName": spec.get("displayName", ""), "createTime": _ts(),
              "updateTime": _ts(), "state": "UPLOADING", "status": {"code": "OK", "message": ""},
              "exampleCount": str(spec.get("exampleCount", "0")), "userUploaded": spec.get("userUploaded", {}),
              "format": spec.get("format", "CHAT"), "createdBy": "fake@example.com", "estimatedTokenCount": "0",
              "_content": None}
        self.datasets[did] = ds
        return FakeResponse(200, {k: v for k, v in ds.items() if not k.startswith("_")})

    @route("POST", A + r"/datasets/(?P<id>[^/:]+):upload")
    def fireworks_upload_dataset(self, req: FakeRequest) -> FakeResponse:
        if (denied := self._check_account(req)):
            return denied
        ds = self.datasets.get(req.params["id"])
        if ds is None:
            return rpc_error(404, "NOT_FOUND", f"dataset {self._dataset_name(req.params['id'])} not found")
        form = req.form()
        if "file" not in form:
            return rpc_error(400, "INVALID_ARGUMENT", "missing multipart field \"file\"")
        filename, content = form["file"]
        error = INVALID_MESSAGE if self.scenario == "invalid_file" else None
        lines = [x for x in content.decode("utf-8", "replace").splitlines() if x.strip()]
        for n, line in enumerate(lines, 1):
            if error:
                break
            try:
                rec = json.loads(line)
            except ValueError:
                error = f"invalid dataset: line {n}: not valid JSON"
                break
            if not isinstance(rec, dict) or not rec.get("messages"):
                error = f"invalid dataset: line {n}: expected a JSON object with a non-empty \"messages\" array"
        if error:
            return rpc_error(400, "INVALID_ARGUMENT", error)
        words = sum(len(line.split()) for line in lines)
        ds.update(_content=content, state="READY", exampleCount=str(len(lines)),
                  estimatedTokenCount=str(math.ceil(words * 4 / 3)), updateTime=_ts())
        return FakeResponse(200, {"id": req.params["id"], "object": "file", "bytes": len(content),
                                  "created_at": int(time.time()), "filename": filename or "dataset.jsonl",
                                  "purpose": "fine-tune"})

    @route("GET", A + r"/datasets/(?P<id>[^/:]+)")
    def fireworks_get_dataset(self, req: FakeRequest) -> FakeResponse:
        if (denied := self._check_account(req)):
            return denied
        ds = self.datasets.get(req.params["id"])
        if ds is None:
            return rpc_error(404, "NOT_FOUND", f"dataset {self._dataset_name(req.params['id'])} not found")
        return FakeResponse(200, {k: v for k, v in ds.items() if not k.startswith("_")})

    @route("DELETE", A + r"/datasets/(?P<id>[^/:]+)")
    def fireworks_delete_dataset(self, req: FakeRequest) -> FakeResponse:
        if (denied := self._check_account(req)):
            return denied
        if self.datasets.pop(req.params["id"], None) is None:
            return rpc_error(404, "NOT_FOUND", f"dataset {self._dataset_name(req.params['id'])} not found")
        return FakeResponse(200, {})

    # -- supervised fine-tuning jobs: the job's life, computed from the clock
    def _advance(self, job: dict) -> None:
        with self._ft_lock:
            if job["state"] in TERMINAL or job["state"] == "JOB_STATE_CANCELLING":
                if job["state"] == "JOB_STATE_CANCELLING":
                    job.update(state="JOB_STATE_CANCELLED", updateTime=_ts(), completedTime=_ts(),
                               status={"code": "CANCELLED", "message": "cancelled by the user"})
                return
            t = time.monotonic() - job["_t0"]
            if job["state"] == "JOB_STATE_VALIDATING" and t >= self.phase_s:
                job.update(state="JOB_STATE_PENDING", updateTime=_ts())
            if job["state"] == "JOB_STATE_PENDING" and t >= 2 * self.phase_s:
                job.update(state="JOB_STATE_RUNNING", updateTime=_ts())
            if job["state"] == "JOB_STATE_RUNNING":
                if self.scenario == "fail" and t >= 2 * self.phase_s + self.steps * self.step_s / 2:
                    job.update(state="JOB_STATE_FAILED", updateTime=_ts(), completedTime=_ts(),
                               status={"code": "INVALID_ARGUMENT", "message": FAIL_MESSAGE})
                    return
                done = min(self.steps, int((t - 2 * self.phase_s) / self.step_s))
                job["_step"] = done
                job["jobProgress"] = {"percent": int(100 * done / self.steps),
                                      "epoch": min(job["epochs"] - 1, done * job["epochs"] // self.steps),
                                      "inputTokens": job["_tokens"] * done // self.steps}
                if done >= self.steps:
                    job.update(state="JOB_STATE_WRITING_RESULTS", updateTime=_ts())
                    job["_done_at"] = t
            if job["state"] == "JOB_STATE_WRITING_RESULTS" and t >= job["_done_at"] + self.phase_s:
                job.update(state="JOB_STATE_COMPLETED", updateTime=_ts(), completedTime=_ts(),
                           status={"code": "OK", "message": ""})

    def loss_curve(self, job_id: str) -> list[dict]:
        """Train loss per finished step (test-side only: Fireworks serves no SFT loss over REST)."""
        job = self.jobs[job_id]
        self._advance(job)
        return [{"step": s, "train_loss": round(1.9 * math.exp(-s / (self.steps / 3)) + 0.1, 4)}
                for s in range(1, job["_step"] + 1)]

    def _public(self, job: dict) -> dict:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _get_job(self, req: FakeRequest) -> tuple[dict | None, FakeResponse | None]:
        if (denied := self._check_account(req)):
            return None, denied
        job = self.jobs.get(req.params["id"])
        if job is None:
            return None, rpc_error(404, "NOT_FOUND", f"supervised fine-tuning job accounts/{self.account}/"
                                                     f"supervisedFineTuningJobs/{req.params['id']} not found")
        self._advance(job)
        return job, None

    @route("POST", A + r"/supervisedFineTuningJobs")
    def fireworks_create_job(self, req: FakeRequest) -> FakeResponse:
        if (denied := self._check_account(req)):
            return denied
        if self.scenario == "quota":
            return rpc_error(403, "PERMISSION_DENIED", QUOTA_MESSAGE)
        body = req.json
        if not body.get("dataset"):
            return rpc_error(400, "INVALID_ARGUMENT", "dataset is required")
        if bool(body.get("baseModel")) == bool(body.get("warmStartFrom")):
            return rpc_error(400, "INVALID_ARGUMENT", "exactly one of base_model or warm_start_from must be specified")
        if self.models is not None and body.get("baseModel") not in self.models:
            return rpc_error(404, "NOT_FOUND", f"model {body.get('baseModel')} not found or not tunable")
        for key in ("dataset", "evaluationDataset"):
            if not body.get(key):
                continue
            ds = self.datasets.get(self._dataset_id(body[key]))
            if ds is None:
                return rpc_error(404, "NOT_FOUND", f"dataset {body[key]} not found")
            if ds["state"] != "READY":
                return rpc_error(400, "FAILED_PRECONDITION", f"dataset {ds['name']} is not ready (state {ds['state']})")
        jid = (req.query.get("supervisedFineTuningJobId") or [None])[0] or f"{self._next_id('sftj'):08x}sftjfake"
        if jid in self.jobs:
            return rpc_error(409, "ALREADY_EXISTS", f"supervised fine-tuning job {jid} already exists")
        out = body.get("outputModel") or jid
        out = out if out.startswith("accounts/") else f"accounts/{self.account}/models/{out}"
        ds = self.datasets[self._dataset_id(body["dataset"])]
        job = {"name": f"accounts/{self.account}/supervisedFineTuningJobs/{jid}",
               "displayName": body.get("displayName", ""), "createTime": _ts(), "updateTime": _ts(),
               "completedTime": None, "state": "JOB_STATE_VALIDATING", "status": {"code": "OK", "message": ""},
               "createdBy": "fake@example.com", "dataset": ds["name"], "baseModel": body.get("baseModel"),
               "warmStartFrom": body.get("warmStartFrom"), "outputModel": out,
               "evaluationDataset": body.get("evaluationDataset"), "evalAutoCarveout": body.get("evalAutoCarveout", False),
               "epochs": int(body.get("epochs") or 1), "learningRate": body.get("learningRate", 0.0001),
               "loraRank": int(body.get("loraRank") or 8), "batchSize": int(body.get("batchSize") or 32768),
               "maxContextLength": int(body.get("maxContextLength") or 8192), "earlyStop": body.get("earlyStop", False),
               "isTurbo": body.get("isTurbo", False), "region": body.get("region", "US_VIRGINIA_1"),
               "jobProgress": {"percent": 0, "epoch": 0},
               "_t0": time.monotonic(), "_step": 0, "_done_at": None,
               "_tokens": int(ds["estimatedTokenCount"]) * int(body.get("epochs") or 1)}
        self.jobs[jid] = job
        return FakeResponse(200, self._public(job))

    @route("GET", A + r"/supervisedFineTuningJobs")
    def fireworks_list_jobs(self, req: FakeRequest) -> FakeResponse:
        if (denied := self._check_account(req)):
            return denied
        for job in self.jobs.values():
            self._advance(job)
        data = [self._public(j) for j in self.jobs.values()]
        return FakeResponse(200, {"supervisedFineTuningJobs": data, "nextPageToken": "", "totalSize": len(data)})

    @route("GET", A + r"/supervisedFineTuningJobs/(?P<id>[^/:]+)")
    def fireworks_get_job(self, req: FakeRequest) -> FakeResponse:
        job, err = self._get_job(req)
        return err or FakeResponse(200, self._public(job))

    @route("POST", A + r"/supervisedFineTuningJobs/(?P<id>[^/:]+):cancel")
    def fireworks_cancel_job(self, req: FakeRequest) -> FakeResponse:
        job, err = self._get_job(req)
        if err:
            return err
        with self._ft_lock:
            if job["state"] in TERMINAL:
                return rpc_error(400, "FAILED_PRECONDITION", f"job {job['name']} is already in state {job['state']}")
            job.update(state="JOB_STATE_CANCELLING", updateTime=_ts())
        return FakeResponse(200, {})

    @route("DELETE", A + r"/supervisedFineTuningJobs/(?P<id>[^/:]+)")
    def fireworks_delete_job(self, req: FakeRequest) -> FakeResponse:
        job, err = self._get_job(req)
        if err:
            return err
        self.jobs.pop(req.params["id"])
        return FakeResponse(200, {})


def main() -> None:  # pragma: no cover - for trying a provider by hand
    """`python -m tests.fake_fireworks`: serve on a free port until Ctrl-C, printing the base URLs."""
    server = FakeFireworks(phase_s=2, step_s=1, steps=30).start()
    serve_by_hand(server, f"FIREWORKS_BASE_URL={server.root_url} FIREWORKS_ACCOUNT_ID={server.account} "
                          f"(OpenAI-compatible: {server.inference_url})")


if __name__ == "__main__":  # pragma: no cover
    main()
