"""Capability regression check: does a fine-tune still do the general things its base model did?

A small bundled suite of general prompts (data/capability_suite.jsonl: arithmetic,
knowledge, language, instructions, format), each with a simple deterministic
check. The base chat model and its fine-tune answer every prompt through the
paid-response cache; the report lists what the fine-tune lost and gained.
Fine-tuning on one narrow task can cost general ability — this makes that visible
before the fine-tune replaces the base model.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.config import DATA_DIR

SUITE_PATH = DATA_DIR / "capability_suite.jsonl"
CHECKS = ("number", "contains", "exact", "json_keys", "max_words")


@dataclass(frozen=True)
class Probe:
    id: str
    skill: str
    prompt: str
    check: dict


def load_suite(path: str | Path = SUITE_PATH) -> list[Probe]:
    """The probes of a suite file; a bad line is reported with its number."""
    probes = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            probe = Probe(raw["id"], raw.get("skill", "general"), raw["prompt"], raw["check"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}, line {n}: not a probe ({exc})") from exc
        if probe.check.get("type") not in CHECKS:
            raise ValueError(f"{path}, line {n}: check type must be one of {', '.join(CHECKS)}")
        probes.append(probe)
    return probes


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def passes(probe: Probe, output: str | None) -> bool:
    if output is None:
        return False
    c, text = probe.check, output.strip()
    low = text.lower()
    kind = c["type"]
    if kind == "number":
        found = _NUMBER.findall(text.replace(",", ""))
        return len(found) >= 1 and all(float(x) == float(c["value"]) for x in found[:1]) and len(set(found)) == 1
    if kind == "exact":
        return text.strip(" .\"'`") == c["value"]
    if kind == "json_keys":
        try:
            obj = json.loads(text.strip("`").removeprefix("json").strip())
        except ValueError:
            return False
        return isinstance(obj, dict) and all(k in obj for k in c["keys"])
    words = set(re.findall(r"[a-z0-9]+", low))
    ok = all(w.lower() in low for w in c.get("all", [])) and not any(w.lower() in words for w in c.get("none", []))
    if kind == "max_words":
        ok = ok and len(text.split()) <= c["n"]
    return ok


@dataclass
class ModelResult:
    model: str
    outputs: dict[str, str | None] = field(default_factory=dict)
    passed: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def pass_rate(self) -> float:
        return sum(self.passed.values()) / len(self.passed) if self.passed else 0.0


@dataclass
class CapabilityReport:
    base: ModelResult
    tuned: ModelResult
    regressions: list[str]  # probes the base passes and the fine-tune fails
    improvements: list[str]
    mcnemar_p: float
    sentence: str
    skills: dict[str, str] = field(default_factory=dict)  # probe id -> skill

    def to_dict(self) -> dict:
        d = asdict(self)
        d["base"]["pass_rate"], d["tuned"]["pass_rate"] = self.base.pass_rate, self.tuned.pass_rate
        return d


def _request(model: str, prompt: str) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0.0}


def answer_suite(model: str, probes: list[Probe], **call_options) -> ModelResult:
    from core.backends.openai_compat import chat_many

    result = ModelResult(model)
    for probe, (body, _, error) in zip(probes, chat_many([_request(model, p.prompt) for p in probes], **call_options)):
        text = None
        if body is not None:
            try:
                text = body["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                error = "no message in the response"
        result.outputs[probe.id] = text
        result.passed[probe.id] = passes(probe, text)
        if error:
            result.errors[probe.id] = error
    return result


def check(base_model: str, tuned_model: str, *, store, base_url: str | None = None, api_key: str | None = None,
          probes: list[Probe] | None = None, concurrency: int = 4) -> CapabilityReport:
    """Run the suite on both models (cached: re-checking is free) and compare."""
    from core.evaluation.stats import mcnemar_exact

    probes = probes or load_suite()
    opts = dict(store=store, base_url=base_url, api_key=api_key, concurrency=concurrency)
    base, tuned = answer_suite(base_model, probes, **opts), answer_suite(tuned_model, probes, **opts)
    ids = [p.id for p in probes]
    lost = [i for i in ids if base.passed[i] and not tuned.passed[i]]
    gained = [i for i in ids if tuned.passed[i] and not base.passed[i]]
    p, _, _ = mcnemar_exact([base.passed[i] for i in ids], [tuned.passed[i] for i in ids])
    skill = {pr.id: pr.skill for pr in probes}
    n = len(ids)
    head = (f"{tuned_model} passes {sum(tuned.passed.values())}/{n} general checks, "
            f"{base_model} {sum(base.passed.values())}/{n}")
    if lost:
        lost_skills = sorted({skill[i] for i in lost})
        tail = (f"; the fine-tune lost {len(lost)} the base model passed ({', '.join(lost)}: "
                f"{', '.join(lost_skills)}) — check these before it replaces the base model"
                + (" (a significant drop)." if p < 0.05 else "."))
    else:
        tail = "; no general capability lost on this suite."
    return CapabilityReport(base, tuned, lost, gained, p, head + tail, skill)
