"""Validation: every problem of a fine-tuning file as a Finding with its line number, code and message.

Rules follow OpenAI's chat fine-tuning format and the checks of OpenAI's
"data preparation and analysis for chat model fine-tuning" cookbook; the
dataset-level rules add OpenAI's minimum of 10 examples and per-class advice.

Severity: an *error* means a fine-tuning API would refuse the file as it is (or
the row cannot be used); a *warning* means the row is usable but likely hurts.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Literal

Severity = Literal["error", "warning"]

ROLES = ("system", "developer", "user", "assistant", "tool")
MESSAGE_KEYS = ("role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal")
MIN_EXAMPLES = 10          # OpenAI refuses fewer training examples
ADVISED_EXAMPLES = 50      # OpenAI: "clear improvements from 50 to 100 examples"
MIN_PER_CLASS = 10         # below this a class is rarely predicted by a tuned model
IMBALANCE_RATIO = 10       # largest / smallest class

# One place for every code a user can see, so the CLI contract, the page and the docs agree.
CODES: dict[str, tuple[Severity, str]] = {
    "unreadable": ("error", "the file cannot be read at all"),
    "invalid_json": ("error", "the line is not valid JSON"),
    "not_object": ("error", "the line is JSON but not an object"),
    "missing_messages": ("error", "no 'messages' list"),
    "empty_messages": ("error", "'messages' is empty"),
    "message_not_object": ("error", "a message is not an object"),
    "missing_role": ("error", "a message has no role"),
    "missing_content": ("error", "a message has no content"),
    "unknown_role": ("error", "a message has a role fine-tuning does not know"),
    "unknown_key": ("error", "a message has a key fine-tuning does not know"),
    "empty_content": ("error", "a message's content is empty"),
    "content_not_string": ("error", "a message's content is not a string"),
    "no_assistant": ("error", "no assistant message to learn from"),
    "label_not_in_set": ("error", "the answer is not one of the task's labels"),
    "too_many_tokens": ("error", "the example is longer than the model's per-example limit"),
    "not_utf8": ("error", "the line is not UTF-8"),
    "invalid_preference": ("error", "a preference pair misses its input or one of its answers"),
    "missing_text": ("error", "the text column is missing or empty"),
    "malformed_row": ("error", "a CSV row the parser cannot read"),
    "empty_line": ("warning", "an empty line"),
    "bom": ("warning", "the file starts with a byte-order mark"),
    "encoding": ("warning", "the file is not UTF-8 and was decoded with another encoding"),
    "field_count": ("warning", "the row has a different number of fields than the header"),
    "no_system_message": ("warning", "no system message (the export adds the task's)"),
    "no_user_message": ("warning", "no user message"),
    "label_variant": ("warning", "a label that differs from another only by case or spaces"),
    "unlabelled": ("warning", "rows without a label"),
    "leakage": ("warning", "the same text is in the test split and another split"),
    "too_few_examples": ("error", f"fewer than {MIN_EXAMPLES} examples (OpenAI's minimum)"),
    "few_examples": ("warning", f"fewer than {ADVISED_EXAMPLES} examples"),
    "small_class": ("warning", f"a class with fewer than {MIN_PER_CLASS} examples"),
    "empty_class": ("warning", "a label of the task has no examples"),
    "class_imbalance": ("warning", f"the largest class is over {IMBALANCE_RATIO}x the smallest"),
}


@dataclass(frozen=True)
class Finding:
    line: int | None       # 1-based line of the file (spreadsheet row for XLSX); None: the whole dataset
    code: str
    message: str

    @property
    def severity(self) -> Severity:
        return CODES[self.code][0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


def warnings(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "warning"]


def _clip(value: Any, n: int = 40) -> str:
    """A value quoted for a message, cut short: a 5 MB line must not give a 5 MB message."""
    s = repr(value)
    return s if len(s) <= n else s[: n - 2] + "…" + s[0]


# --- one chat example ------------------------------------------------------------


def check_messages(messages: Any, line: int) -> list[Finding]:
    """Structure of one `messages` list, as OpenAI's fine-tuning file check sees it."""
    if messages is None:
        return [Finding(line, "missing_messages", "no 'messages' key: each line must be {\"messages\": [...]}")]
    if not isinstance(messages, list):
        return [Finding(line, "missing_messages", f"'messages' is a {type(messages).__name__}, not a list")]
    if not messages:
        return [Finding(line, "empty_messages", "'messages' is an empty list")]
    found: list[Finding] = []
    roles = []
    for i, msg in enumerate(messages, 1):
        if not isinstance(msg, dict):
            found.append(Finding(line, "message_not_object", f"message {i} is a {type(msg).__name__}, not an object"))
            continue
        role = msg.get("role")
        roles.append(role)
        if "role" not in msg:
            found.append(Finding(line, "missing_role", f"message {i} has no 'role'"))
        elif role not in ROLES:
            found.append(Finding(line, "unknown_role", f"message {i} has role {_clip(role)}; expected one of {', '.join(ROLES)}"))
        extra = [k for k in msg if k not in MESSAGE_KEYS]
        if extra:
            found.append(Finding(line, "unknown_key", f"message {i} has unknown key(s) {', '.join(map(repr, extra))}"))
        if "content" not in msg:
            if not (role == "assistant" and (msg.get("tool_calls") or msg.get("function_call"))):
                found.append(Finding(line, "missing_content", f"message {i} ({role if role in ROLES else _clip(role)}) has no 'content'"))
            continue
        content = msg["content"]
        if isinstance(content, list):  # content parts: text parts must carry strings
            texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
            if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
                found.append(Finding(line, "content_not_string", f"message {i} ({role if role in ROLES else _clip(role)}) has content parts without text"))
        elif not isinstance(content, str):
            found.append(Finding(line, "content_not_string", f"message {i} ({role if role in ROLES else _clip(role)}) content is {type(content).__name__}, not a string"))
        elif not content.strip():
            found.append(Finding(line, "empty_content", f"message {i} ({role if role in ROLES else _clip(role)}) has empty content"))
    if "assistant" not in roles:
        found.append(Finding(line, "no_assistant", "no assistant message: there is nothing to learn"))
    if "user" not in roles:
        found.append(Finding(line, "no_user_message", "no user message"))
    if "system" not in roles and "developer" not in roles:
        found.append(Finding(line, "no_system_message", "no system message (the export adds the task's)"))
    return found


def content_text(content: Any) -> str:
    """The text of a message content (a string, or OpenAI content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def check_label(label: str, labels: list[str] | set[str], line: int) -> Finding | None:
    """An answer must be one of the labels, character for character."""
    if label in labels:
        return None
    near = difflib.get_close_matches(label.strip().casefold(), [lab.casefold() for lab in labels], n=1, cutoff=0.75)
    hint = ""
    if near:
        original = next(lab for lab in labels if lab.casefold() == near[0])
        hint = f"; did you mean {original!r}?"
    shown = ", ".join(sorted(labels)[:8]) + (" …" if len(labels) > 8 else "")
    return Finding(line, "label_not_in_set", f"answer {_clip(label)} is not one of the labels ({shown}){hint}")


def check_tokens(n_tokens: int, limit: int | None, model: str, line: int) -> Finding | None:
    if limit is None or n_tokens <= limit:
        return None
    return Finding(line, "too_many_tokens", f"{n_tokens:,} tokens, over {model}'s per-example limit of {limit:,}")


# --- the dataset as a whole --------------------------------------------------------


def label_variants(labels: Iterable[str]) -> dict[str, str]:
    """Labels that differ from a more frequent label only by case or surrounding spaces: variant -> canonical."""
    counts = Counter(labels)
    by_key: dict[str, list[str]] = {}
    for lab in counts:
        by_key.setdefault(" ".join(lab.split()).casefold(), []).append(lab)
    out = {}
    for group in by_key.values():
        if len(group) > 1:
            canonical = max(group, key=lambda lab: (counts[lab], lab == lab.strip()))
            out |= {lab: canonical for lab in group if lab != canonical}
    return out


def dataset_findings(labels: list[str | None], task_labels: list[str] | None = None) -> list[Finding]:
    """Rules about the whole set: its size, its classes and their balance (labels of the kept rows)."""
    found: list[Finding] = []
    labelled = [lab for lab in labels if lab is not None]
    n = len(labelled)
    if n < MIN_EXAMPLES:
        found.append(Finding(None, "too_few_examples", f"{n} labelled examples; OpenAI requires at least {MIN_EXAMPLES}"))
    elif n < ADVISED_EXAMPLES:
        found.append(Finding(None, "few_examples", f"{n} labelled examples; 50–100 good examples usually give clear gains"))
    unlabelled = len(labels) - n
    if unlabelled:
        found.append(Finding(None, "unlabelled", f"{unlabelled} rows have no label: label them (teacher labelling) or they are left out of training"))
    counts = Counter(labelled)
    for lab in task_labels or []:
        if counts.get(lab, 0) == 0 and n:
            found.append(Finding(None, "empty_class", f"label {lab!r} has no examples"))
    for lab, c in sorted(counts.items(), key=lambda kv: kv[1]):
        if c < MIN_PER_CLASS and n >= MIN_EXAMPLES:
            found.append(Finding(None, "small_class", f"label {lab!r} has only {c} example(s); aim for at least {MIN_PER_CLASS}"))
    if len(counts) >= 2:
        (big, cb), (small, cs) = counts.most_common()[0], counts.most_common()[-1]
        if cb >= IMBALANCE_RATIO * cs:
            found.append(Finding(None, "class_imbalance", f"{big!r} has {cb} examples, {small!r} only {cs} ({cb / cs:.0f}x)"))
    for variant, canonical in label_variants(labelled).items():
        found.append(Finding(None, "label_variant", f"label {variant!r} looks like a variant of {canonical!r}"))
    return found
