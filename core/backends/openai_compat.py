"""The OpenAI-compatible chat backend: OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio … through the openai client.

Approaches: `openai:<model>:zero-shot`, `openai:<model>:few-shot:k=N`,
`openai:<model>:rag:k=N` (any model id, `ft:` ones included). All render their
prompt from the Task through a `PromptConfig` (core/prompting.py).

How calls are made, and why:
- asyncio with a semaphore (`concurrency`) — the calls are I/O-bound;
- the client's own retries (`max_retries`), which honour `Retry-After` /
  `retry-after-ms` up to 2 minutes and back off exponentially otherwise
  (openai/_base_client.py: `_calculate_retry_timeout`);
- structured output (`response_format` json_schema with the label enum) where
  the server accepts it; a server that refuses it gets plain prompts for the
  rest of the run; outputs are parsed leniently and invalid ones counted;
- the raw response body is written to the store's `responses` table the moment
  it arrives — before parsing, before anything else can fail — keyed by
  hash(endpoint, model, messages, parameters): a re-run or resume never pays twice;
- usage tokens from the response; an estimate (tiktoken) only when the server omits usage;
- `batch=true`: the OpenAI Batch API (half price, results within 24 h), see core/backends/openai_batch.py.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from typing import Any, AsyncIterator, Iterator, Sequence

from core import responses
from core.endpoint import Endpoint, async_client, describe_error
from core.approach import Approach, Prediction, Spec
from core.backends import per_k, register
from core.data.dataset import Example
from core.prompting import (PromptConfig, PromptedExemplars, messages as render_messages, parse_label, response_format,
                            spec_params)

DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_RETRIES = 6
DEFAULT_TIMEOUT_S = 60.0


# --- prices and token estimates ---------------------------------------------------


def price_call(model: str, input_tokens: int | None, output_tokens: int | None, batch: bool = False,
               prices: tuple[float, float] | None = None, cached_input_tokens: int = 0, catalog=None) -> float | None:
    """$ for one call from the catalog (core.catalog); None when the price is unknown (an unlisted or self-hosted model).

    `prices` = (input, output) $ per 1M tokens overrides the catalog (e.g. (0, 0) for your own vLLM).
    """
    if input_tokens is None or output_tokens is None:
        return None
    if prices is not None:
        return (0.5 if batch else 1.0) * (input_tokens * prices[0] + output_tokens * prices[1]) / 1e6
    from core.catalog import load_catalog
    from core.economics import inference_cost_usd

    try:
        info = (catalog or load_catalog()).get(model)
        return inference_cost_usd(info, input_tokens, output_tokens, fine_tuned=model.startswith("ft:"), batch=batch,
                                  cached_input_tokens=cached_input_tokens)
    except (KeyError, ValueError):  # unknown model, or no (fine-tuned) price in its row
        return None


def estimate_tokens(model: str, msgs: list[dict], output: str) -> tuple[int, int]:
    """Tokens when the server reports no usage: tiktoken (core.tokens), an estimate for non-OpenAI models."""
    from core.tokens import count_chat_tokens, count_tokens

    return count_chat_tokens(msgs, model), count_tokens(output, model)


# --- the approach -----------------------------------------------------------------


class ChatApproach(PromptedExemplars, Approach):
    """A prompted chat model. scikit-learn feel: configure, fit (choose exemplars / index the train split), predict."""

    backend = "openai"
    backend_options = ("store", "api_key", "base_url", "concurrency", "max_retries", "timeout", "prices",
                       "poll_interval", "provider_endpoint")

    def __init__(self, model: str, method: str = "zero-shot", *, k: int = 0, seed: int = 0,
                 descriptions: bool = True, output: str = "json", structured: str | bool = "auto",
                 temperature: float = 0.0, retriever: str | None = None, batch: bool = False,
                 prompt: PromptConfig | None = None, provider: str | None = None, tuned_from: str | None = None,
                 store=None, api_key: str | None = None, base_url: str | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY, max_retries: int = DEFAULT_MAX_RETRIES,
                 timeout: float = DEFAULT_TIMEOUT_S, prices: tuple[float, float] | None = None,
                 poll_interval: float | None = None, provider_endpoint=None):
        if not model:
            raise ValueError("an openai approach needs a model id: openai:<model>:zero-shot")
        self.model, self.method = model, method
        selection = {"zero-shot": "balanced", "few-shot": "balanced", "rag": "retrieved"}.get(method, "balanced")
        if method == "zero-shot" and k:
            raise ValueError("zero-shot takes no k; use openai:<model>:few-shot:k=N")
        if method in ("few-shot", "rag") and not k:
            k = 4 if method == "few-shot" else 8
        self.prompt = prompt or PromptConfig(k=int(k), selection=selection, seed=int(seed),
                                             descriptions=bool(descriptions), output=output)
        if structured not in ("auto", True, False):
            raise ValueError("structured must be auto, true or false")
        self.structured = structured if self.prompt.output == "json" else False
        self.temperature = float(temperature)
        if self.prompt.selection == "retrieved" and retriever is None:
            from core.retrieval import default_retriever

            retriever = default_retriever()
        self.retriever = retriever if self.prompt.selection == "retrieved" else None
        self.batch = bool(batch)
        if int(concurrency) < 1:
            raise ValueError("concurrency must be ≥ 1")
        self.store, self.api_key, self.base_url = store, api_key, base_url
        # A hosted provider's fine-tune (provider=together, …) answers on that provider's inference endpoint with
        # that provider's key — resolved here, never written in the spec or the store (core/training/providers).
        self.provider = provider if provider and provider != "openai" else None
        # A provider's fine-tune id carries no `ft:` prefix (Together: `user/…-abc123`, Fireworks:
        # `accounts/…/models/…`): the base model it was tuned from is named so that it is filed as fine-tuned.
        self.tuned_from = tuned_from or None
        if self.provider:
            from core.training.providers import inference_endpoint

            found = inference_endpoint(self.provider, provider_endpoint)
            self.api_key, self.base_url = found.api_key, found.base_url
        self.concurrency, self.max_retries, self.timeout = int(concurrency), int(max_retries), float(timeout)
        self.prices = tuple(prices) if prices is not None else None
        self.poll_interval = poll_interval  # Batch API status polls (None: core.backends.openai_batch's default)
        self._structured_ok: bool | None = None if self.structured == "auto" else bool(self.structured)

    # -- configuration
    def params(self) -> dict[str, Any]:
        return {
            "endpoint": responses.endpoint_id(self.base_url),
            "prompt": self.prompt.to_dict(),
            "structured": self.structured,
            "temperature": self.temperature,
            "retriever": self.retriever,
            "batch": self.batch,
            **({"provider": self.provider} if self.provider else {}),
            **({"tuned_from": self.tuned_from} if self.tuned_from else {}),
            **({"prices": list(self.prices)} if self.prices is not None else {}),
        }

    @property
    def spec(self) -> str:
        p = self.prompt
        shown: dict[str, Any] = spec_params(p, self.method, "json")
        if self.batch:
            shown["batch"] = True
        if self.provider:
            shown["provider"] = self.provider
        if self.tuned_from:
            shown["tuned_from"] = self.tuned_from
        return str(Spec(self.backend, self.method, self.model, shown, arg=self.arg))

    def request(self, text: str, exemplars: Sequence[Example], structured: bool) -> dict[str, Any]:
        """The chat request body for one input (what is hashed into the response key)."""
        task = self._require_fit()
        body: dict[str, Any] = {
            "model": self.model,
            "messages": render_messages(task, self.prompt, text, exemplars),
            "temperature": self.temperature,
        }
        if structured:
            body["response_format"] = response_format(task)
        return body

    # -- turning a stored response into a Prediction
    def to_prediction(self, body: dict[str, Any], latency_ms: float | None, request: dict) -> Prediction:
        labels = self._require_fit().label_names
        try:
            message = body["choices"][0]["message"]
            raw = message.get("content") or message.get("refusal") or ""
        except (KeyError, IndexError, TypeError):
            raw = json.dumps(body)[:2000]
            return Prediction(None, raw_output=raw, latency_ms=latency_ms)
        usage = body.get("usage") or {}
        tin, tout = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if tin is None or tout is None:
            tin, tout = estimate_tokens(self.model, request["messages"], raw)
        cached = ((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0
        cost = price_call(self.model, tin, tout, batch=self.batch, prices=self.prices, cached_input_tokens=cached,
                          catalog=self._catalog())
        return Prediction(parse_label(raw, labels), raw_output=raw, latency_ms=latency_ms,
                          input_tokens=tin, output_tokens=tout, cost_usd=cost)

    def _catalog(self):
        """The catalog as this workspace sees it (its overrides and custom rows), loaded once."""
        if getattr(self, "_catalog_cache", None) is None:
            from core.catalog import load_catalog

            ws = self.store.path.parent if self.store is not None and str(self.store.path) != ":memory:" else None
            self._catalog_cache = load_catalog(ws, self.store)
        return self._catalog_cache

    # -- predicting
    def _predict_batch(self, texts: list[str]) -> list[Prediction]:  # pragma: no cover - predict_stream is used
        return self.predict([Example(id=str(i), text=t, label=None) for i, t in enumerate(texts)])

    async def _one(self, calls: "ChatCaller", text: str, exemplars: list[Example]) -> Prediction | None:
        structured = self._structured_ok is not False
        req = self.request(text, exemplars, structured)
        t0 = time.perf_counter()
        try:
            body, latency = await calls.fetch(req)
        except _Stopped:
            return None
        except Exception as exc:  # noqa: BLE001 — every failure becomes a recorded error, not a crash
            if structured and self.structured == "auto" and _refuses_response_format(exc):
                self._structured_ok = False  # this server has no structured output: plain prompts from now on
                return await self._one(calls, text, exemplars)
            return Prediction(None, latency_ms=(time.perf_counter() - t0) * 1000, error=describe_error(exc))
        if structured and self._structured_ok is None:
            self._structured_ok = True
        return self.to_prediction(body, latency, req)

    async def apredict_stream(self, examples: Sequence[Example],
                              stop: threading.Event | None = None) -> AsyncIterator[tuple[int, Prediction]]:
        """(position, prediction) as calls complete, at most `concurrency` in flight."""
        if self.store is None:
            raise ValueError("the openai backend needs a store (every paid response is recorded)")
        stop = stop or threading.Event()
        texts = [e.text for e in examples]
        shots = self.exemplars_for(texts)
        if self.batch:
            from core.backends.openai_batch import run_batch

            async for item in run_batch(self, texts, shots, stop, self.poll_interval):
                yield item
            return
        calls = ChatCaller(self.store, self.base_url, self.api_key, self.concurrency, self.max_retries,
                           self.timeout, stop)

        async def job(i: int) -> tuple[int, Prediction | None]:
            return i, await self._one(calls, texts[i], shots[i])

        tasks = [asyncio.ensure_future(job(i)) for i in range(len(texts))]
        try:
            for fut in asyncio.as_completed(tasks):
                i, pred = await fut
                if pred is not None:
                    yield i, pred
        finally:
            stop.set()
            # Calls already on the wire finish (and are stored): cancelling them would throw away paid answers.
            pending = [t for t in tasks if not t.done()]
            if pending:
                await asyncio.wait(pending, timeout=self.timeout)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await calls.aclose()

    def predict_stream(self, examples: Sequence[Example]) -> Iterator[tuple[int, Prediction]]:
        """Sync face of apredict_stream: an event loop in a worker thread feeds a queue.

        Closing the generator (a stop button, an exception in the consumer) stops new calls;
        calls in flight finish and are stored, so nothing paid is lost.
        """
        self._require_fit()
        out: queue.Queue = queue.Queue()
        stop = threading.Event()
        done = object()

        async def produce():
            try:
                async for item in self.apredict_stream(examples, stop):
                    out.put(item)
            except BaseException as exc:  # noqa: BLE001 — re-raised in the consumer's thread
                out.put(exc)
            finally:
                out.put(done)

        worker = threading.Thread(target=lambda: asyncio.run(produce()), daemon=True, name="openai-calls")
        worker.start()
        try:
            while True:
                item = out.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            worker.join()


class _Stopped(Exception):
    """The run was stopped before this call was sent."""


class EndpointUnavailable(RuntimeError):
    """No endpoint is configured, or it did not answer: the remaining calls are not tried."""


def _is_unreachable(exc: BaseException) -> bool:
    import openai

    return isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError)


class ChatCaller:
    """Chat calls through the paid-response cache: stored answers are free, identical calls in flight are
    made once, at most `concurrency` at a time, each answer stored before it is used. Reusable by any
    feature that calls a chat model (evaluation, capability checks, prompt search)."""

    def __init__(self, store, base_url: str | None, api_key: str | None, concurrency: int = DEFAULT_CONCURRENCY,
                 max_retries: int = DEFAULT_MAX_RETRIES, timeout: float = DEFAULT_TIMEOUT_S,
                 stop: threading.Event | None = None):
        self.store, self.base_url = store, base_url
        self.client = async_client(Endpoint(api_key, base_url), max_retries=max_retries, timeout=timeout)
        self.sem = asyncio.Semaphore(concurrency)
        self.stop = stop or threading.Event()
        self.inflight: dict[str, asyncio.Future] = {}
        # Fail fast: with no endpoint at all, or once the server proved unreachable (after the client's retries),
        # every further call fails at once with the reason instead of retrying for minutes.
        self.unreachable: str | None = None if (api_key or base_url) else (
            "no OpenAI-compatible endpoint configured: set an API key and/or base URL (sidebar, or OPENAI_API_KEY / "
            "OPENAI_BASE_URL); a hosted provider's fine-tune needs provider=<name> in its spec and that provider's key")

    async def fetch(self, req: dict[str, Any]) -> tuple[dict[str, Any], float | None]:
        """The response body for a request: from the store, from an identical call in flight, or paid for now."""
        key = responses.response_key(self.base_url, req)
        hit = responses.get(self.store, key)
        if hit is not None:
            return hit.body, hit.latency_ms
        if key in self.inflight:  # the same input twice in one run: one call, two answers
            return await asyncio.shield(self.inflight[key])
        if self.unreachable:
            raise EndpointUnavailable(self.unreachable)
        fut = asyncio.get_running_loop().create_future()
        self.inflight[key] = fut
        try:
            async with self.sem:
                if self.stop.is_set():
                    raise _Stopped
                if self.unreachable:
                    raise EndpointUnavailable(self.unreachable)
                t0 = time.perf_counter()
                raw = await self.client.chat.completions.with_raw_response.create(**req)
                latency = (time.perf_counter() - t0) * 1000
                body = _body_of(raw.text)
                responses.put(self.store, key, self.base_url, req, body, latency)  # paid: keep it before anything else
            fut.set_result((body, latency))
            return body, latency
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except BaseException as exc:
            if _is_unreachable(exc):
                self.unreachable = f"{self.base_url or 'https://api.openai.com/v1'} unreachable: {describe_error(exc)}"
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self.inflight.pop(key, None)

    async def aclose(self) -> None:
        await self.client.close()


def chat_many(requests: Sequence[dict[str, Any]], *, store, base_url: str | None = None, api_key: str | None = None,
              concurrency: int = DEFAULT_CONCURRENCY, max_retries: int = DEFAULT_MAX_RETRIES,
              timeout: float = DEFAULT_TIMEOUT_S) -> list[tuple[dict | None, float | None, str | None]]:
    """(response body, latency ms, error) per chat request, in order — the sync convenience over ChatCaller."""

    async def main():
        caller = ChatCaller(store, base_url, api_key, concurrency, max_retries, timeout)

        async def one(req):
            try:
                body, latency = await caller.fetch(req)
                return body, latency, None
            except Exception as exc:  # noqa: BLE001
                return None, None, describe_error(exc)

        try:
            return await asyncio.gather(*(one(r) for r in requests))
        finally:
            await caller.aclose()

    result: list = []
    # A worker thread owns the event loop, so this works under Streamlit or inside a running loop alike.
    worker = threading.Thread(target=lambda: result.extend(asyncio.run(main())), daemon=True)
    worker.start()
    worker.join()
    return result


def _body_of(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        return {"unparseable_body": text[:10000]}
    return body if isinstance(body, dict) else {"unparseable_body": text[:10000]}


def _refuses_response_format(exc: BaseException) -> bool:
    import openai

    return isinstance(exc, openai.BadRequestError) and "response_format" in str(exc).lower()


def _factory(method: str):
    def build(spec: Spec, **options: Any) -> ChatApproach:
        allowed = {"zero-shot": {"seed", "descriptions", "output", "structured", "temperature", "batch"},
                   "few-shot": {"k", "seed", "descriptions", "output", "structured", "temperature", "batch"},
                   "rag": {"k", "retriever", "descriptions", "output", "structured", "temperature", "batch"}}[method] | {"provider", "tuned_from"}
        unknown = set(spec.params) - allowed
        if unknown:
            raise ValueError(f"openai:<model>:{method} does not take {', '.join(sorted(unknown))}; "
                             f"it takes {', '.join(sorted(allowed))}")
        if spec.arg:
            raise ValueError(f"openai:<model>:{method} takes no argument after the method (got {spec.arg!r})")
        opts = {k: v for k, v in options.items() if k in ChatApproach.backend_options}
        return ChatApproach(spec.model, method, **spec.params, **opts)

    return build


def chat_family(spec: Spec) -> str:
    """A fine-tuned model stays fine-tuned however it is asked; otherwise RAG or prompting by method."""
    if spec.model.startswith("ft:") or spec.params.get("tuned_from"):
        return "fine-tuned"
    return "rag" if spec.method == "rag" else "prompting"


def chat_model_words(model: str, params: dict | None = None) -> str:
    """`ft:gpt-4o-mini-2024-07-18:org::abc` → `gpt-4o-mini-2024-07-18 fine-tuned (abc)`; a provider's fine-tune
    (`tuned_from=<base>`) → `<base> fine-tuned on together (<model id>)`."""
    params = params or {}
    if params.get("tuned_from"):
        where = f" on {params['provider']}" if params.get("provider") else ""
        return f"{params['tuned_from']} fine-tuned{where} ({model})"
    if model.startswith("ft:"):
        parts = model.split(":")
        return f"{parts[1]} fine-tuned ({parts[-1]})" if len(parts) > 2 else model
    return model


_CHAT_WORDS = {"zero-shot": lambda s: "zero-shot prompt",
               "few-shot": lambda s: "few-shot prompt" + per_k(s, "examples"),
               "rag": lambda s: "RAG" + per_k(s, "retrieved examples")}

for _method in ("zero-shot", "few-shot", "rag"):
    register("openai", _method, family=chat_family,
             words=lambda s, m=_method: f"{chat_model_words(s.model, s.params)} · {_CHAT_WORDS[m](s)}")(_factory(_method))
