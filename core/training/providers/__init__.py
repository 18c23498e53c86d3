"""Hosted fine-tuning providers as plug-ins: one module per provider, behind this tiny registry.

    openai       the OpenAI fine-tuning API — OpenAI, Azure OpenAI and any server that copies it
    together     Together AI, through the official `together` SDK
    fireworks    Fireworks AI, through the official `fireworks-ai` SDK

A provider module builds one `Provider` subclass instance and calls `register()` at import. Every module of
this package is found by name (`importlib.import_module`, as core/backends finds its plug-ins): adding a
provider is adding a file here and its base models to the catalog (`provider = "<name>"` rows) — no shared
file changes. The registry never imports a provider module by statement; provider modules import the
registry.

A provider declares what it can do (`Capabilities`), how its credentials are found (`credentials()`: the
session's entries, then the secrets the page passes down, then the environment — never stored), its
inference base URL (the OpenAI-compatible chat endpoint its fine-tunes answer on), its typed options, and
how to convert, check, upload, create, poll and cancel. `core/training/hosted.py` runs the same flow for
every provider: the jobs registry, resume-after-restart and cost recording do not know which one it is.
Nothing here imports an SDK at import time.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from core.endpoint import Endpoint

# Modules of this package that are helpers, not providers.
_NOT_PROVIDERS = ("files",)


@dataclass(frozen=True)
class Capabilities:
    """What a provider's fine-tuning API offers (shown on the Train page, checked before acting)."""

    sft: bool = True
    dpo: bool = False
    lora: bool = False
    full: bool = True
    validation_file: bool = True
    events: bool = True         # a job's event log over the API
    loss_curve: bool = True     # training loss values over the API
    checkpoints: bool = False
    cancel: bool = True
    pause: bool = False

    def words(self) -> str:
        """'SFT, LoRA, validation file, events, loss curve, cancel' — what it offers, in words."""
        names = {"sft": "SFT", "dpo": "DPO", "lora": "LoRA", "full": "full fine-tuning",
                 "validation_file": "validation file", "loss_curve": "loss curve"}
        return ", ".join(names.get(k, k.replace("_", " ")) for k, v in self.__dict__.items() if v)


@dataclass(frozen=True)
class Progress:
    """What a provider says of a job now, in the lab's words (`status` is a jobs status, or `succeeded`)."""

    status: str
    message: str = ""
    error: str | None = None
    model: str | None = None
    trained_tokens: int | None = None
    cost_usd: float | None = None
    fraction: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Credential:
    """One thing a provider needs to be reached: an environment variable, a secret, a session entry."""

    name: str                  # the Endpoint field it fills: api_key | base_url | account_id
    env: str                   # environment variable (also the st.secrets key the page passes down)
    label: str
    secret: bool = False


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    availability: str
    capabilities: Capabilities
    credentials_needed: tuple[Credential, ...]
    default_base_url: str | None = None
    catalog_provider: str = ""
    help: str = ""
    defaults_note: str = ""
    options: Any = None        # the pydantic class of its hyperparameters (core/training/options.py style)
    extra: dict[str, Any] = field(default_factory=dict)

    # --- credentials: found, never stored ---------------------------------------------------------------

    def credentials(self, *, session: Mapping[str, Any] | None = None, secrets: Mapping[str, Any] | None = None,
                    environ: Mapping[str, str] | None = None, owner: bool = True) -> Endpoint | None:
        """The Endpoint to reach this provider: each credential from the session's entries (keyed by its env
        name), else — for the owner only — the secrets the page passes down (st.secrets), else the
        environment. None when the key is missing. Held in memory only."""
        environ = os.environ if environ is None else environ
        found: dict[str, Any] = {}
        from_session = False
        for cred in self.credentials_needed:
            value = (session or {}).get(cred.env) or None
            if value:
                from_session = from_session or cred.name == "api_key"
            elif owner:
                value = _lookup(secrets, cred.env) or environ.get(cred.env) or None
            found[cred.name] = value
        if not found.get("api_key") and self.name != "openai":
            return None
        return Endpoint(api_key=found.get("api_key"), base_url=found.get("base_url") or self.default_base_url,
                        account_id=found.get("account_id"), provider=self.name, owner=not from_session)

    def ready(self, endpoint: Endpoint | None) -> str | None:
        """Why this endpoint cannot reach the provider (None: it can)."""
        if endpoint is None or not endpoint.configured:
            return f"{self.label} needs an API key ({self.credentials_needed[0].env})."
        return None

    # --- what every provider module implements -------------------------------------------------------

    def client(self, endpoint: Endpoint):  # pragma: no cover - abstract
        """The provider's official SDK client (the openai client comes from core.endpoint)."""
        raise NotImplementedError

    def records(self, dataset, opts, split: str = "train") -> list[dict]:  # pragma: no cover - abstract
        """The training file's records, converted from the Dataset page's chat JSONL."""
        raise NotImplementedError

    def validate(self, records: list[dict], dataset, base_model: str) -> list[str]:  # pragma: no cover
        """Line-numbered problems that would make the provider refuse the file (empty: send it)."""
        raise NotImplementedError

    def estimate(self, dataset, base_model: str, opts):  # pragma: no cover - abstract
        raise NotImplementedError

    def submit(self, store, client, job, dataset, opts) -> Progress:  # pragma: no cover - abstract
        """Upload the file(s) and create the job; record file ids and the provider's job id on `job` the moment
        they exist. Raises the SDK's errors (hosted.launch turns them into a refused or failed job)."""
        raise NotImplementedError

    def upload_splits(self, store, job, dataset, opts, upload) -> dict:
        """The job's params with the uploaded file ids: the train split's file, and the dev split's when
        `opts.use_validation` and the split has examples. `upload(records, split)` sends one ("train" or "dev")
        and returns its id; each id is written to the job the moment it exists (a retry finds it)."""
        from core.training import jobs

        params = dict(job.params)
        params["training_file"] = upload(self.records(dataset, opts), "train")
        jobs.update(store, job.id, params=params)
        dev = self.records(dataset, opts, "dev") if opts.use_validation else []
        if dev:
            params["validation_file"] = upload(dev, "dev")
            jobs.update(store, job.id, params=params)
        return params

    def poll(self, store, client, job) -> Progress:  # pragma: no cover - abstract
        """The job's status now; new events and loss points are stored (once each) on the way."""
        raise NotImplementedError

    def cancel(self, store, client, job) -> Progress:  # pragma: no cover - abstract
        raise NotImplementedError

    def recover(self, store, client, job) -> bool:
        """A launch interrupted before the provider's job id was stored: find the job again (False: not found)."""
        return False

    def inference_endpoint(self, endpoint: Endpoint) -> Endpoint:
        """The OpenAI-compatible endpoint the resulting model answers on (what Evaluate calls)."""
        return replace(endpoint, provider="openai")

    def inference_url(self, endpoint: Endpoint | None = None) -> str:
        ep = self.inference_endpoint(endpoint or Endpoint(provider=self.name, base_url=self.default_base_url))
        return ep.base_url or ep.label


def _lookup(secrets: Mapping[str, Any] | None, key: str) -> str | None:
    try:
        return (secrets or {}).get(key) or None
    except Exception:  # st.secrets without a secrets.toml raises on access
        return None


_REGISTRY: dict[str, Provider] = {}
_LOADED = False


def register(provider: Provider) -> Provider:
    _REGISTRY[provider.name] = provider
    return provider


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_") and mod.name not in _NOT_PROVIDERS:
            importlib.import_module(f"{__name__}.{mod.name}")
    _LOADED = True


def names() -> list[str]:
    """Registered providers, OpenAI-compatible first, then by name."""
    _load()
    return sorted(_REGISTRY, key=lambda n: (n != "openai", n))


def get(name: str) -> Provider:
    _load()
    if name not in _REGISTRY:
        raise KeyError(f"no hosted fine-tuning provider {name!r} (known: {', '.join(names())})")
    return _REGISTRY[name]


def session_key(cred: Credential) -> str:
    """Where a page keeps what this session typed for a credential (st.session_state; never the store)."""
    return f"train_cred_{cred.env}"


REMEMBERED = "provider_credentials"  # the session's typed credentials, kept across pages (session memory only)


def session_credentials(name: str, state: Mapping[str, Any], secrets: Mapping[str, Any] | None, *,
                        public: bool) -> Endpoint | None:
    """A provider's endpoint for a page session: what the session typed (on this page, or remembered from the Train
    page), else the owner's secrets or environment — the owner's only in a private lab, or in public mode once the
    owner unlocked it (`owner_unlocked`)."""
    prov = get(name)
    kept = state.get(REMEMBERED) or {}
    return prov.credentials(session={c.env: state.get(session_key(c)) or kept.get(c.env) for c in prov.credentials_needed},
                            secrets=secrets, owner=not public or bool(state.get("owner_unlocked")))


def remember_credentials(state) -> None:
    """Keep what the session typed into the Train page's credential inputs when it leaves the page (Streamlit drops
    the state of widgets a page does not draw): Evaluate then reaches a provider's fine-tune with the same key."""
    kept = dict(state.get(REMEMBERED) or {})
    for prov in all_providers():
        for cred in prov.credentials_needed:
            if state.get(session_key(cred)):
                kept[cred.env] = state.get(session_key(cred))
    state[REMEMBERED] = kept


def inference_endpoint(name: str, found=None) -> Endpoint:
    """Where a provider's fine-tuned model answers (its OpenAI-compatible inference endpoint) and with which key.

    `found` is what the caller resolved for the provider — an Endpoint, or a callable provider name → Endpoint |
    None (a page's session credentials) — else the provider's credentials from the environment (the CLI's).
    Raises ValueError with what to set when there is no key: an evaluation then fails at once, not after retries."""
    prov = get(name)
    endpoint = found(name) if callable(found) else found
    if endpoint is None or endpoint.provider != name:
        endpoint = prov.credentials()
    if endpoint is None or not endpoint.api_key:  # inference needs the key only (no Fireworks account id)
        needed = " and ".join(f"${c.env}" for c in prov.credentials_needed if c.name == "api_key")
        raise ValueError(f"{prov.label}'s fine-tune answers on {prov.inference_url()} and needs {needed} "
                         "(Train page credentials, the app's secrets or the environment)")
    return prov.inference_endpoint(endpoint)


def all_providers() -> list[Provider]:
    return [get(n) for n in names()]


def is_provider(name: str) -> bool:
    _load()
    return name in _REGISTRY
