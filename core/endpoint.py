"""The one Endpoint: where OpenAI-compatible calls go, whose key pays, and who may spend.

Everything that talks to an OpenAI-compatible server — prompted approaches, the
Batch API, the prompt search's meta-prompt, hosted fine-tuning, the capability
check — takes an `Endpoint` and gets its client here: this is the only module
that constructs openai clients, and the only one that turns their errors into
words (`describe_error` for one line, `explain` for what a user can do).

Who may spend is decided here too (`resolve_endpoint`), from what a browser
session typed, what the owner configured and whether public mode is on: the
pages pass their inputs and draw the answer. The key lives in memory only: it
is never in a repr, a log, the store or an export.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from core.public_mode import PublicMode

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
AZURE_DEFAULT_API_VERSION = "2025-04-01-preview"


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible server (OpenAI, Azure OpenAI, Ollama, vLLM, …) and the key that pays for it."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    azure_endpoint: str | None = None  # https://<resource>.openai.azure.com — selects the Azure client
    api_version: str | None = None     # Azure only
    owner: bool = True                 # the owner's configured endpoint (not a visitor's own key)
    provider: str = "openai"           # whose API this is: openai (any compatible server), together, fireworks, …
    account_id: str | None = None      # providers that scope calls by account (Fireworks)

    @classmethod
    def from_env(cls) -> "Endpoint":
        """The owner's endpoint from the environment (the CLI's and the job resumer's)."""
        azure = os.environ.get("AZURE_OPENAI_ENDPOINT") or None
        return cls(api_key=os.environ.get("AZURE_OPENAI_API_KEY") if azure else os.environ.get("OPENAI_API_KEY"),
                   base_url=os.environ.get("OPENAI_BASE_URL") or None,
                   azure_endpoint=azure,
                   api_version=os.environ.get("OPENAI_API_VERSION") or None)

    @property
    def configured(self) -> bool:
        """A key, or a server that needs none (Ollama, vLLM, LM Studio), or an Azure resource."""
        return bool(self.api_key or self.base_url or self.azure_endpoint)

    @property
    def label(self) -> str:
        """Where calls go, for records and messages (no secret in it)."""
        return self.azure_endpoint or self.base_url or OPENAI_DEFAULT_URL

    def __repr__(self) -> str:  # keep keys out of logs and tracebacks
        return (f"Endpoint(url={self.label!r}, key={'set' if self.api_key else 'none'}, owner={self.owner}"
                + (f", provider={self.provider!r}" if self.provider != "openai" else "") + ")")


# --- who may spend ------------------------------------------------------------------------


def resolve_endpoint(
    mode: PublicMode,
    *,
    visitor_key: str | None,
    visitor_base_url: str | None,
    owner_key: str | None,
    owner_base_url: str | None,
    owner_unlocked: bool,
) -> Endpoint | None:
    """The endpoint paid actions may use now, or None when they must stay disabled.

    Private lab: the session's entries override the owner's configuration.
    Public mode: the visitor's own key (with their own base URL, default OpenAI), or
    the owner's endpoint once unlocked with the password — nothing else. The owner's
    endpoint (key *and* base URL, which may point at a private server) is never used
    for a visitor.
    """
    if not mode.enabled:
        key, url = visitor_key or owner_key, visitor_base_url or owner_base_url
        return Endpoint(key, url, owner=not visitor_key) if (key or url) else None
    if visitor_key:
        return Endpoint(visitor_key, visitor_base_url, owner=False)
    if owner_unlocked and (owner_key or owner_base_url):
        return Endpoint(owner_key, visitor_base_url or owner_base_url, owner=True)
    return None


def with_azure(endpoint: Endpoint | None, *, session_azure_endpoint: str | None, owner_azure_endpoint: str | None,
               owner_azure_key: str | None, api_version: str | None) -> Endpoint | None:
    """The fine-tuning endpoint: Azure OpenAI when this session typed a resource, or the owner configured one —
    the owner's resource and key only ever for the owner's endpoint."""
    if endpoint is None:
        return None
    azure = session_azure_endpoint or (owner_azure_endpoint if endpoint.owner else None)
    if not azure:
        return endpoint
    key = endpoint.api_key or (owner_azure_key if endpoint.owner else None)
    return replace(endpoint, api_key=key, base_url=None, azure_endpoint=azure, api_version=api_version)


def paid_actions_note(mode: PublicMode, endpoint: Endpoint | None) -> str:
    """One sentence for the banner: what a visitor can do here."""
    if not mode.enabled:
        return ""
    if endpoint is None:
        return ("Public demo: explore every page and run the local models for free. Hosted models and "
                "hosted fine-tuning need your own API key (kept in this browser session only) or the owner's password.")
    who = "the owner's endpoint" if endpoint.owner else "your own API key"
    return f"Public demo: paid actions use {who}."


# --- clients: the only place they are built -------------------------------------------------


def client(endpoint: Endpoint, *, max_retries: int = 3, timeout: float = 120.0):
    """A synchronous openai client (Azure's when the endpoint names an Azure resource)."""
    import openai

    if endpoint.azure_endpoint:
        return openai.AzureOpenAI(api_key=endpoint.api_key, azure_endpoint=endpoint.azure_endpoint,
                                  api_version=endpoint.api_version or AZURE_DEFAULT_API_VERSION,
                                  max_retries=max_retries, timeout=timeout)
    # A server that needs no key (Ollama, vLLM) still gets a placeholder: the client refuses to start without one.
    return openai.OpenAI(api_key=endpoint.api_key or "not-needed", base_url=endpoint.base_url,
                         max_retries=max_retries, timeout=timeout)


def async_client(endpoint: Endpoint, *, max_retries: int = 3, timeout: float = 60.0):
    """An asyncio openai client, for concurrent evaluation and the Batch API."""
    import openai

    if endpoint.azure_endpoint:
        return openai.AsyncAzureOpenAI(api_key=endpoint.api_key, azure_endpoint=endpoint.azure_endpoint,
                                       api_version=endpoint.api_version or AZURE_DEFAULT_API_VERSION,
                                       max_retries=max_retries, timeout=timeout)
    return openai.AsyncOpenAI(api_key=endpoint.api_key or "not-needed", base_url=endpoint.base_url,
                              max_retries=max_retries, timeout=timeout)


# --- errors, in words a user can act on -------------------------------------------------------

FINETUNING_CLOSING = (
    "OpenAI is winding down self-serve fine-tuning: organisations that never fine-tuned are refused since "
    "2026-05-07 and no new jobs are accepted after 2027-01-06."
)
LOCAL_ALTERNATIVE = "You can train on this machine with the same data: local SetFit (MiniLM) or local LoRA (Gemma 3 270M)."

_ADVICE = {
    "invalid_api_key": "The API key was rejected: check it in the sidebar.",
    "insufficient_quota": "The account has no credit or quota left for this.",
    "model_not_available": "This base model cannot be fine-tuned on this account or server.",
    "model_not_found": "This base model cannot be fine-tuned on this account or server.",
    "invalid_training_file": "The provider rejected the training file.",
    "exceeded_quota": "The account's fine-tuning quota is used up.",
    "insufficient_balance": "The account has no credit left for this job: add credit with the provider.",
    "RESOURCE_EXHAUSTED": "The account's quota is used up.",
    "INVALID_ARGUMENT": "The provider rejected the request or the training file.",
    "FAILED_PRECONDITION": "The provider could not use the uploaded file.",
    "UNAUTHENTICATED": "The API key was rejected: check it.",
}
# What a refusal means, per provider (the OpenAI wind-down is OpenAI's alone).
REFUSAL_CONTEXT = {"openai": FINETUNING_CLOSING}
QUOTA_WORDS = ("insufficient balance", "insufficient_balance", "insufficient credit", "credit limit",
               "insufficient_quota", "no credit")


# google.rpc.Code numbers (Fireworks' control plane answers `{"code": 7, "message", "details"}`).
RPC_CODES = {3: "INVALID_ARGUMENT", 5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED",
             8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 16: "UNAUTHENTICATED"}


def _is_status_error(exc: BaseException) -> bool:
    """An HTTP status error of the openai client or of another provider's official SDK (together, fireworks-ai:
    generated by the same tool, they carry `.status_code` and `.body`)."""
    return isinstance(getattr(exc, "status_code", None), int) and hasattr(exc, "body")


def error_parts(exc: BaseException) -> tuple[int | None, str | None, str]:
    """(HTTP status, provider error code, provider message) of an openai — or together / fireworks-ai — exception.
    Bodies: OpenAI's and Together's `{"error": {"message", "code", …}}`, Fireworks' google.rpc.Status
    `{"code": 7, "message": …}` (the number named: PERMISSION_DENIED)."""
    if _is_status_error(exc):
        body = exc.body
        err = body.get("error", body) if isinstance(body, dict) else {}
        err = err if isinstance(err, dict) else {"message": str(err)}
        code = err.get("code")
        if isinstance(code, int):
            code = RPC_CODES.get(code, str(code))
        message = err.get("message") or getattr(exc, "message", "") or str(exc)
        return exc.status_code, code, message
    return None, None, str(exc)


def describe_error(exc: BaseException) -> str:
    """A one-line reason from an openai exception (status, code and the provider's message)."""
    import openai

    if _is_status_error(exc):
        status, code, message = error_parts(exc)
        return f"HTTP {status}{f' {code}' if code else ''}: {message}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out (after retries)"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection failed (after retries): {exc.__cause__ or exc}"
    return f"{type(exc).__name__}: {exc}"


def is_quota(code: str | None, message: str, status: int | None) -> bool:
    """The provider will not start the job because the account has no credit or quota left."""
    text = f"{code or ''} {message}".lower()
    return status == 402 or code == "RESOURCE_EXHAUSTED" or any(w in text for w in QUOTA_WORDS)


def is_refusal(code: str | None, message: str, status: int | None) -> bool:
    """The provider will not fine-tune for this account (OpenAI's wind-down, a closed model family, no credit)."""
    text = f"{code or ''} {message}".lower()
    return status == 403 or is_quota(code, message, status) or any(w in text for w in ("not available for your organization", "not available to your",
                                                    "fine_tuning_unavailable", "fine-tuning is not available",
                                                    "no longer", "not allowed to create"))


def explain(code: str | None, message: str, status: int | None = None, provider: str = "openai") -> str:
    """The provider's reason first (verbatim), then what it means for the user."""
    reason = f"{message.strip()}" + (f" ({code})" if code else "") + (f" [HTTP {status}]" if status else "")
    if is_quota(code, message, status):
        return (f"The provider refused to start the job for lack of credit or quota: {reason}. "
                f"Add credit with the provider, or train here for free. {LOCAL_ALTERNATIVE}")
    if is_refusal(code, message, status):
        context = REFUSAL_CONTEXT.get(provider, "")
        return f"The provider refused to fine-tune: {reason}. {context + ' ' if context else ''}{LOCAL_ALTERNATIVE}"
    advice = _ADVICE.get(code or "") or ("The API key was rejected: check it in the sidebar." if status == 401 else "")
    return f"{reason}. {advice}".strip()


def explain_exception(exc: BaseException, provider: str = "openai") -> tuple[str, bool]:
    """(clear message, whether retrying cannot help: a refusal, a bad key, an unknown model) for an error of the
    openai client or of a provider's official SDK (together, fireworks-ai)."""
    if _is_status_error(exc):
        status, code, message = error_parts(exc)
        return (explain(code, message, status, provider),
                is_refusal(code, message, status) or status in (401, 403, 404))
    if "Connection" in type(exc).__name__ or "Timeout" in type(exc).__name__:  # APIConnectionError of every SDK
        return f"could not reach the API: {exc.__cause__ or exc}", False
    return f"{type(exc).__name__}: {exc}", False
