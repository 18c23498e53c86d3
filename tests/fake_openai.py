"""A loopback OpenAI-compatible HTTP server for tests and benchmarks — the only stand-in the lab allows.

It speaks the real wire format on 127.0.0.1 (a free port) so tests drive the
real `openai` client through it:

- `POST /v1/chat/completions` — a deterministic "model" (below) with `usage`,
  `response_format` json_schema support, configurable latency and injected faults
- `GET  /v1/models`, `GET /v1/models/{id}`
- `POST /v1/files` (multipart), `GET /v1/files`, `GET /v1/files/{id}`,
  `GET /v1/files/{id}/content`, `DELETE /v1/files/{id}` — a file store shared by batches and fine-tuning
- `POST /v1/batches`, `GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel` — the Batch API
  over chat completions (processed in a background thread, billed at half price)

The model: it reads the label set from the `response_format` enum or the
system prompt's "Categories:" list, scores each label by word overlap of the
input with the label's name and guideline and with the few-shot / retrieved
exemplars in the conversation, and answers the best one — so accuracy is not
trivial and exemplars genuinely help. A seeded share of inputs (`noise`) gets a
wrong label (at temperature > 0 which ones also depends on the server's seed,
so two servers with different seeds behave like two samples of one model). Other prompts go to `general_answer` (override per test).

Faults (`Faults(rate=0.2)`): each chat request draws from a seeded generator:
429 with Retry-After, 500, a hang (the connection is dropped after `hang_s`, so
the client times out) or malformed content (a billed 200 whose content is not
a label). One request body gets at most `max_per_request` faults, so a client
with enough retries always finishes. Counters: `requests` (every request, with
status, fault and the hash of the chat body) and `billed` (chat bodies answered
with a 200 — what a provider charges for), so tests can assert "no duplicate
paid calls".

Extending (the Train page adds fine-tuning jobs without editing this file):

    class FakeWithJobs(FakeOpenAI):
        @route("POST", r"/v1/fine_tuning/jobs")
        def create_job(self, req: FakeRequest) -> FakeResponse:
            file = self.files[req.json["training_file"]]          # the shared file store
            return FakeResponse(200, {...})

or, ad hoc on an instance: `server.add_route("GET", r"/v1/x/(?P<id>[^/]+)", fn)` with
`fn(server, req)`. Path patterns are full-match regexes; named groups land in
`req.params`. Use `error_response(status, message, code)` for OpenAI-shaped errors.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import math
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

# --- requests, responses, routes ---------------------------------------------------


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, tuple[str | None, bytes]]:
        """multipart/form-data fields: name -> (filename, bytes)."""
        head = f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body)
        out = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            out[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
        return out


@dataclass
class FakeResponse:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes/str -> as is
    headers: dict[str, str] = field(default_factory=dict)
    hang_s: float | None = None  # sleep, then drop the connection without answering


def error_response(status: int, message: str, code: str | None = None, type_: str = "invalid_request_error",
                   headers: dict[str, str] | None = None) -> FakeResponse:
    return FakeResponse(status, {"error": {"message": message, "type": type_, "param": None, "code": code}},
                        headers or {})


Handler = Callable[["FakeOpenAI", FakeRequest], FakeResponse]


def route(method: str, pattern: str) -> Callable[[Callable], Callable]:
    """Mark a FakeOpenAI (subclass) method as the handler of `method pattern`."""

    def deco(fn: Callable) -> Callable:
        fn._route = (method.upper(), pattern)
        return fn

    return deco


@dataclass
class Faults:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "timeout", "malformed")
    max_per_request: int = 2
    retry_after_s: float = 0.05
    hang_s: float = 2.0  # longer than the client's timeout in tests


def chat_key(body: dict) -> str:
    """Identity of a chat request for counting (model + messages + options)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


# --- the deterministic "model" --------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_STOP = set("the a an and or of to in on for with my i is it be this that was are me at by from not no have has "
            "can you your we our please any but do did does so if as about just".split())


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def _labels_from(body: dict) -> dict[str, str]:
    """label -> guideline, from the json_schema enum or the system prompt's Categories list."""
    system = next((m["content"] for m in body.get("messages", []) if m.get("role") == "system"), "") or ""
    listed: dict[str, str] = {}
    if "Categories:" in system:
        for line in system.split("Categories:", 1)[1].splitlines():
            if line.startswith("- "):
                name, _, desc = line[2:].partition(": ")
                listed[name.strip()] = desc.strip()
    rf = body.get("response_format") or {}
    try:
        enum = rf["json_schema"]["schema"]["properties"]["label"]["enum"]
        return {lab: listed.get(lab, "") for lab in enum}
    except (KeyError, TypeError):
        return listed


def classify(body: dict, noise: float = 0.1, seed: int = 0) -> str | None:
    labels = _labels_from(body)
    if not labels:
        return None
    msgs = [m for m in body["messages"] if m.get("role") != "system"]
    text = _words(msgs[-1].get("content") or "")
    names = list(labels)
    score = {lab: 2.0 * len(text & _words(lab.replace("_", " "))) + len(text & _words(labels[lab])) for lab in names}
    # Exemplars: (user, assistant) turns before the input vote for their label by overlap,
    # counting only words that appear in one label's exemplars (the discriminative ones).
    shots = []
    for user, assistant in zip(msgs[:-1:2], msgs[1:-1:2]):
        said = assistant.get("content") or ""
        try:
            said = json.loads(said).get("label", said)
        except (ValueError, AttributeError):
            pass
        if said in score:
            shots.append((said, _words(user.get("content") or "")))
    seen_in: dict[str, set] = {}
    for said, words in shots:
        for w in words:
            seen_in.setdefault(w, set()).add(said)
    for said, words in shots:
        score[said] += 1.5 * len({w for w in text & words if len(seen_in[w]) == 1})
    best = max(names, key=lambda lab: (score[lab], -names.index(lab)))
    # A fixed share of inputs is answered wrongly. At temperature 0 the same inputs every time; when
    # sampling, which inputs depends on the server's seed too (run-to-run variation, reproducible).
    salt = f"{seed}:" if body.get("temperature") else ""
    digest = int(hashlib.md5((salt + (msgs[-1].get("content") or "")).encode()).hexdigest(), 16)
    if (digest % 1000) / 1000 < noise:
        best = names[(names.index(best) + 1 + digest % (len(names) - 1)) % len(names)]
    return best


def default_general_answer(body: dict) -> str:
    return "I am a classifier."


# --- the server -----------------------------------------------------------------------


class FakeOpenAI:
    def __init__(self, latency_s: float = 0.0, faults: Faults | None = None, seed: int = 0,
                 models: set[str] | None = None, noise: float = 0.1,
                 general_answer: Callable[[dict], str] = default_general_answer, batch_delay_s: float = 0.05):
        self.latency_s = latency_s
        self.faults = faults or Faults()
        self.noise = noise
        self.models = set(models) if models is not None else None  # None: any model id is served
        self.general_answer = general_answer
        self.batch_delay_s = batch_delay_s
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.requests: list[dict] = []
        self.billed: Counter = Counter()  # chat key -> answered 200s
        self._faulted: Counter = Counter()
        self.files: dict[str, dict] = {}  # id -> {"meta": {...}, "content": bytes}
        self.batches: dict[str, dict] = {}
        self._ids = Counter()
        self.routes: list[tuple[str, re.Pattern, Handler]] = []
        for klass in reversed(type(self).__mro__):
            for name, fn in vars(klass).items():
                if hasattr(fn, "_route"):
                    method, pattern = fn._route
                    self.add_route(method, pattern, lambda srv, req, _n=name: getattr(srv, _n)(req))
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle
    def start(self) -> "FakeOpenAI":
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the client's connection pool is exercised as in production
            disable_nagle_algorithm = True  # headers and body go out in two writes: Nagle would add ~40 ms each

            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                parts = urlsplit(self.path)
                n = int(self.headers.get("content-length") or 0)
                req = FakeRequest(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(n) if n else b"")
                resp = server.dispatch(req)
                if resp.hang_s is not None:
                    time.sleep(resp.hang_s)
                    self.close_connection = True
                    return
                body = resp.body
                if isinstance(body, (dict, list)):
                    data, ctype = json.dumps(body).encode(), "application/json"
                elif isinstance(body, str):
                    data, ctype = body.encode(), "text/plain; charset=utf-8"
                else:
                    data, ctype = body or b"", "application/octet-stream"
                try:
                    self.send_response(resp.status)
                    self.send_header("content-type", resp.headers.pop("content-type", ctype))
                    self.send_header("content-length", str(len(data)))
                    self.send_header("x-request-id", f"req_{server._next_id('req')}")
                    for k, v in resp.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_DELETE = _serve

        class _Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default backlog of 5 drops bursts of concurrent connects (1 s SYN retry)
            daemon_threads = True

        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True, name="fake-openai").start()
        return self

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- routing and counters
    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        # Later routes win, so a subclass or a test can override a built-in one.
        self.routes.insert(0, (method.upper(), re.compile(pattern), handler))

    def dispatch(self, req: FakeRequest) -> FakeResponse:
        for method, pattern, handler in self.routes:
            m = pattern.fullmatch(req.path)
            if m and method == req.method:
                req.params = m.groupdict()
                try:
                    return handler(self, req)
                except Exception as exc:  # a bug in a test route shows up as a 500 with its reason
                    return error_response(500, f"fake server error: {exc!r}", type_="server_error")
        return error_response(404, f"no route {req.method} {req.path}", "not_found")

    def _next_id(self, kind: str) -> int:
        with self._lock:
            self._ids[kind] += 1
            return self._ids[kind]

    def _log(self, **entry: Any) -> None:
        with self._lock:
            self.requests.append({"t": time.monotonic(), **entry})

    def count(self, **where: Any) -> int:
        """Requests whose log entries match all of `where` (e.g. status=429, path='/v1/chat/completions')."""
        with self._lock:
            return sum(all(r.get(k) == v for k, v in where.items()) for r in self.requests)

    def duplicate_paid_calls(self) -> int:
        return sum(n - 1 for n in self.billed.values() if n > 1)

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.billed.clear()

    # -- chat completions
    def _fault_for(self, key: str) -> str | None:
        f = self.faults
        with self._lock:
            if f.rate <= 0 or self._faulted[key] >= f.max_per_request or self._rng.random() >= f.rate:
                return None
            self._faulted[key] += 1
            return self._rng.choice(f.kinds)

    def answer(self, body: dict) -> str:
        """The assistant's content for a chat body (no faults, no latency)."""
        label = classify(body, self.noise, self.seed)
        if label is None:
            return self.general_answer(body)
        rf = (body.get("response_format") or {}).get("type")
        system = next((m["content"] for m in body["messages"] if m.get("role") == "system"), "")
        return json.dumps({"label": label}) if rf in ("json_schema", "json_object") or "JSON" in system else label

    def completion(self, body: dict, content: str) -> dict:
        prompt_tokens = sum(math.ceil(len((m.get("content") or "").split()) * 4 / 3) + 4 for m in body["messages"])
        completion_tokens = max(1, math.ceil(len(content) / 4))
        return {
            "id": f"chatcmpl-{self._next_id('chat')}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
            "system_fingerprint": "fp_fake",
        }

    def _unknown_model(self, model: str) -> FakeResponse | None:
        if self.models is not None and model not in self.models:
            return error_response(404, f"The model `{model}` does not exist or you do not have access to it.",
                                  "model_not_found")
        return None

    @route("POST", r"/v1/chat/completions")
    def chat_completions(self, req: FakeRequest) -> FakeResponse:
        body = req.json
        key = chat_key(body)
        common = {"path": req.path, "key": key, "idempotency_key": req.headers.get("idempotency-key")}
        if not body.get("messages") or not body.get("model"):
            self._log(status=400, fault=None, **common)
            return error_response(400, "'model' and 'messages' are required")
        missing = self._unknown_model(body["model"])
        if missing:
            self._log(status=404, fault=None, **common)
            return missing
        fault = self._fault_for(key)
        if self.latency_s:
            time.sleep(self.latency_s)
        if fault == "429":
            self._log(status=429, fault=fault, **common)
            ms = int(self.faults.retry_after_s * 1000)
            return error_response(429, "Rate limit reached for requests", "rate_limit_exceeded", "requests",
                                  {"retry-after": str(max(1, math.ceil(ms / 1000))), "retry-after-ms": str(ms)})
        if fault == "500":
            self._log(status=500, fault=fault, **common)
            return error_response(500, "The server had an error while processing your request.", None, "server_error")
        if fault == "timeout":
            self._log(status=None, fault=fault, **common)
            return FakeResponse(hang_s=self.faults.hang_s)
        content = '{"label": ' if fault == "malformed" else self.answer(body)
        with self._lock:
            self.billed[key] += 1
        self._log(status=200, fault=fault, **common)
        return FakeResponse(200, self.completion(body, content))

    # -- models
    @route("GET", r"/v1/models")
    def list_models(self, req: FakeRequest) -> FakeResponse:
        ids = sorted(self.models) if self.models is not None else ["fake-model"]
        return FakeResponse(200, {"object": "list", "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in ids]})

    @route("GET", r"/v1/models/(?P<id>.+)")
    def get_model(self, req: FakeRequest) -> FakeResponse:
        return self._unknown_model(req.params["id"]) or FakeResponse(
            200, {"id": req.params["id"], "object": "model", "created": 0, "owned_by": "fake"})

    # -- files (shared by the Batch API and fine-tuning)
    def add_file(self, content: bytes, filename: str, purpose: str) -> dict:
        fid = f"file-{self._next_id('file')}"
        meta = {"id": fid, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                "filename": filename, "purpose": purpose, "status": "processed", "expires_at": None,
                "status_details": None}
        self.files[fid] = {"meta": meta, "content": content}
        return meta

    @route("POST", r"/v1/files")
    def upload_file(self, req: FakeRequest) -> FakeResponse:
        form = req.form()
        if "file" not in form:
            return error_response(400, "a 'file' part is required")
        filename, content = form["file"]
        purpose = form.get("purpose", (None, b""))[1].decode()
        return FakeResponse(200, self.add_file(content, filename or "upload", purpose))

    @route("GET", r"/v1/files")
    def list_files(self, req: FakeRequest) -> FakeResponse:
        return FakeResponse(200, {"object": "list", "data": [f["meta"] for f in self.files.values()],
                                  "has_more": False})

    @route("GET", r"/v1/files/(?P<id>[^/]+)")
    def get_file(self, req: FakeRequest) -> FakeResponse:
        f = self.files.get(req.params["id"])
        return FakeResponse(200, f["meta"]) if f else error_response(404, "No such File object", "not_found")

    @route("GET", r"/v1/files/(?P<id>[^/]+)/content")
    def file_content(self, req: FakeRequest) -> FakeResponse:
        f = self.files.get(req.params["id"])
        return FakeResponse(200, f["content"]) if f else error_response(404, "No such File object", "not_found")

    @route("DELETE", r"/v1/files/(?P<id>[^/]+)")
    def delete_file(self, req: FakeRequest) -> FakeResponse:
        if self.files.pop(req.params["id"], None) is None:
            return error_response(404, "No such File object", "not_found")
        return FakeResponse(200, {"id": req.params["id"], "object": "file", "deleted": True})

    # -- the Batch API
    @route("POST", r"/v1/batches")
    def create_batch(self, req: FakeRequest) -> FakeResponse:
        body = req.json
        f = self.files.get(body.get("input_file_id"))
        if f is None:
            return error_response(400, "input_file_id not found", "invalid_request")
        if body.get("endpoint") != "/v1/chat/completions":
            return error_response(400, "only /v1/chat/completions batches are served here", "invalid_request")
        bid = f"batch_{self._next_id('batch')}"
        batch = {"id": bid, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                 "input_file_id": f["meta"]["id"], "completion_window": body.get("completion_window", "24h"),
                 "status": "validating", "output_file_id": None, "error_file_id": None,
                 "created_at": int(time.time()), "in_progress_at": None, "completed_at": None,
                 "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": body.get("metadata")}
        self.batches[bid] = batch
        threading.Thread(target=self._run_batch, args=(bid,), daemon=True).start()
        return FakeResponse(200, dict(batch))

    def _run_batch(self, bid: str) -> None:
        batch = self.batches[bid]
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]]["content"].splitlines() if x.strip()]
        time.sleep(self.batch_delay_s)
        batch.update(status="in_progress", in_progress_at=int(time.time()))
        batch["request_counts"]["total"] = len(lines)
        out = []
        for line in lines:
            if batch["status"] == "cancelling":
                break
            body = line["body"]
            resp = {"status_code": 200, "request_id": f"req_{self._next_id('req')}",
                    "body": self.completion(body, self.answer(body))}
            out.append({"id": f"batch_req_{self._next_id('bri')}", "custom_id": line["custom_id"],
                        "response": resp, "error": None})
            with self._lock:
                self.billed[chat_key(body)] += 1
            self._log(path="batch", key=chat_key(body), status=200, fault=None, idempotency_key=None)
            batch["request_counts"]["completed"] += 1
        time.sleep(self.batch_delay_s)
        if batch["status"] == "cancelling":
            batch.update(status="cancelled")
            return
        meta = self.add_file("\n".join(json.dumps(o) for o in out).encode(), f"{bid}_output.jsonl", "batch_output")
        batch.update(status="completed", output_file_id=meta["id"], completed_at=int(time.time()))

    @route("GET", r"/v1/batches/(?P<id>[^/]+)")
    def get_batch(self, req: FakeRequest) -> FakeResponse:
        b = self.batches.get(req.params["id"])
        return FakeResponse(200, dict(b)) if b else error_response(404, "No such batch", "not_found")

    @route("POST", r"/v1/batches/(?P<id>[^/]+)/cancel")
    def cancel_batch(self, req: FakeRequest) -> FakeResponse:
        b = self.batches.get(req.params["id"])
        if not b:
            return error_response(404, "No such batch", "not_found")
        if b["status"] in ("validating", "in_progress"):
            b["status"] = "cancelling"
        return FakeResponse(200, dict(b))


# --- in another process ------------------------------------------------------------------


def serve_by_hand(server, *lines: str) -> None:  # pragma: no cover - for trying a provider or a page by hand
    """Keep a started fake server running until Ctrl-C, after printing the lines that point the lab at it."""
    print(*lines, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def _serve_forever(conn, kwargs: dict) -> None:
    with FakeOpenAI(**kwargs) as server:
        conn.send(server.base_url)
        while True:
            msg = conn.recv()
            if msg == "stats":
                conn.send({"billed": dict(server.billed), "requests": list(server.requests),
                           "duplicate_paid_calls": server.duplicate_paid_calls()})
            elif msg == "stop":
                return


class FakeOpenAIProcess:
    """The same server in a child process, for benchmarks: an in-process server would compete with the
    client for the GIL and measure itself, while a real endpoint runs elsewhere.

        with FakeOpenAIProcess(latency_s=0.25) as fake:
            ... base_url=fake.base_url ...
            fake.stats()["duplicate_paid_calls"]
    """

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def __enter__(self) -> "FakeOpenAIProcess":
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_forever, args=(child, self.kwargs), daemon=True)
        self._proc.start()
        self.base_url = self._conn.recv()
        return self

    def stats(self) -> dict:
        self._conn.send("stats")
        return self._conn.recv()

    def __exit__(self, *exc) -> None:
        self._conn.send("stop")
        self._proc.join(timeout=10)
