"""The decision memo: one page a meeting can read — question, the one recommendation, evidence, break-even, risks.

Markdown and self-contained HTML (charts embedded as SVG, rendered offline by
vl-convert). Every number links to the run it came from: an appendix lists
each run with its id, spec, config hash, dataset version, origin and the
command that reproduces it.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from dataclasses import dataclass
from typing import Sequence

from core import economics as eco
from core.evaluation import report as reports
from core.evaluation import runs as runs_mod
from core.catalog import load_catalog
from core.data.dataset import Dataset
from core.decision.scenario import dataset_profile
from core.store import Store

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
DEFAULT_CALLS_PER_DAY = 10_000


@dataclass(frozen=True)
class Memo:
    markdown: str
    html: str
    filename_stem: str


def default_scenario(dataset: Dataset, model: str = DEFAULT_MODEL,
                     calls_per_day: float = DEFAULT_CALLS_PER_DAY) -> eco.Scenario:
    """Token counts from the task's own prompt and tickets (the Decide page refines them)."""
    profile = dataset_profile(dataset, dataset.task.system_prompt(), model)
    if profile is None:
        raise ValueError("the default scenario counts tokens over labelled examples: this dataset has none")
    return eco.Scenario(model, calls_per_day, profile.prompt_tokens, profile.finetuned_prompt_tokens,
                        profile.output_tokens, profile.training_tokens,
                        epochs=eco.default_epochs(profile.training_examples),
                        rag_prompt_tokens=profile.rag_prompt_tokens)


def _svg(chart) -> str:
    import vl_convert as vlc  # renders Vega-Lite to SVG offline (no browser, no network)

    return vlc.vegalite_to_svg(chart.to_json())


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _usd(x: float | None) -> str:
    return "—" if x is None else (f"${x:,.2f}" if abs(x) >= 0.01 or x == 0 else f"${x:,.4f}")


def _p(x: float | None) -> str:
    return "—" if x is None else (f"{x:.2g}" if x >= 0.0001 else "< 0.0001")


def build(store: Store, dataset: Dataset, run_ids: Sequence[int], scenario: eco.Scenario | None = None,
          *, recommendation=None, pii_examples: int | None = None, today: dt.date | None = None,
          settings=None) -> Memo:
    """The memo of these runs and the one Recommendation (core.decision.recommendation) made from them.

    `recommendation`: the Recommendation the page shows (computed here from `settings`, or from the
    scenario's model, volume, horizon and caching, when it is not given; a plain sentence — the older
    questionnaire summary — is added under the decision).
    """
    if not run_ids:
        raise ValueError("the memo needs at least one evaluation run")
    from core.decision import charts as economics_charts
    from core.decision import recommendation as recs
    from core.evaluation import charts as evaluate_charts

    today = today or dt.date.today()
    run_list = [runs_mod.get(store, i) for i in run_ids]
    rep = reports.build(store, run_list, dataset.task.label_names)
    by_spec = {reports.display_name(r, run_list): r for r in run_list}
    note = recommendation if isinstance(recommendation, str) else None
    rec = recommendation if isinstance(recommendation, recs.Recommendation) else None
    if rec is None:
        if settings is None and scenario is not None:
            settings = recs.Settings(model=scenario.model, calls_per_day=scenario.calls_per_day,
                                     horizon_days=scenario.horizon_days, batch=scenario.batch,
                                     cache_hit_rate=scenario.cache_hit_rate or recs.DEFAULT_CACHE_HIT_RATE, start=today)
        rec = recs.recommend(store, dataset, rep, settings or recs.Settings(start=today))
    catalog = load_catalog(store=store)
    info = catalog.get(rec.settings.model)
    econ = rec.breakeven
    if scenario is None and rec.scenario is not None:
        scenario = rec.scenario
    scenario = scenario or default_scenario(dataset)
    if econ is None or rec.scenario is not scenario:
        econ = eco.compare(info, scenario, start=today, successor=catalog.successor_of(info))
    costs = eco.approach_costs(info, scenario)
    ends = eco.days_until(dt.date.fromisoformat(econ.finetune_path_ends), today) if econ.finetune_path_ends else None
    series = eco.cumulative_series(costs, scenario.calls_per_day, scenario.horizon_days,
                                   tuple(econ.retraining_days), today, ends_day=ends)
    charts = {
        "accuracy": _svg(evaluate_charts.accuracy_chart(rep)),
        "break-even": _svg(economics_charts.cumulative_chart(series, econ, today, info.id)),
    }
    def link(spec: str, text: str) -> str:
        return f"[{text}](#run-{by_spec[spec].id})" if spec in by_spec else text

    md: list[str] = [
        f"# Decision memo — {dataset.task.name}",
        "",
        f"*{today.isoformat()} · dataset `{dataset.name}` version `{dataset.hash}` · "
        f"{len(rep.rows[next(iter(rep.rows))])} frozen test examples · generated by Fine-Tuning Lab*",
        "",
        "## The question",
        "",
        f"Should *{dataset.task.name.lower()}* ({len(dataset.task.labels)} categories) be solved by prompting, "
        "by retrieval (RAG) or by fine-tuning? Every approach below answered the same frozen test examples.",
        "",
        "## Decision",
        "",
        f"**{rec.headline}** (confidence: {rec.confidence})",
        "",
    ]
    md += [f"- {r}" for r in rec.reasons] + [""]
    if note:
        md += [note, ""]
    md += [
        "## Evidence",
        "",
        "| Approach | Accuracy | 95 % CI (Wilson) | vs best (points) | 95 % CI of the difference | p | p (Holm) | "
        "Outcome | Macro-F1 | p50 latency | $ / month |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for row, c in zip(rec.comparison_rows(), rec.comparisons):
        m = rep.metrics[c.approach]
        words = f"{row['approach']} (`{c.approach}`)"  # in words, with the spec that re-runs it
        name = f"**{words}**" if row["recommended"] else words
        outcome = c.outcome + (f" (~{c.more_examples_needed:,} more examples)" if c.more_examples_needed else "")
        md.append(
            f"| {link(c.approach, name)} | {link(c.approach, _pct(c.accuracy))} | {row['95 % CI (Wilson)']}"
            f" | {'—' if c.p is None else f'{c.diff * 100:+.1f}'} | {row['95 % CI of the difference']}"
            f" | {_p(c.p)} | {_p(c.p_holm)} | {outcome} | {m.macro_f1:.3f}"
            f" | {'—' if m.latency_p50_ms is None else f'{m.latency_p50_ms:,.0f} ms'} | {_usd(row['$ / month'])} |"
        )
    k = len(rec.comparisons)
    md += ["", f"Every approach is compared with the most accurate one (McNemar exact test, Holm-corrected over "
               f"all {k * (k - 1) // 2} pairs of the {k} approaches, since picking the best looks at every pair; equivalent = the difference lies within "
               f"± {rec.settings.margin * 100:g} points with 95 % confidence). Costs at "
               f"{rec.settings.calls_per_day:,.0f} calls/day, prompt cache hit rate {rec.settings.cache_hit_rate:.0%}"
               + (", Batch API" if rec.settings.batch else "") + ".", "",
           "![Accuracy with 95 % confidence intervals](CHART:accuracy)", ""]
    if rec.tradeoffs:
        md += ["**Trade-offs.**", ""] + [f"- {t}" for t in rec.tradeoffs] + [""]
    md += [
        "## Break-even of fine-tuning",
        "",
        f"On **{info.id}** at **{scenario.calls_per_day:,.0f} calls/day**: the prompted baseline costs "
        f"{_usd(econ.baseline_cost_per_day)}/day"
        + (f" with prompt caching ({econ.cached_tokens_per_call:,.0f} cached tokens per call; "
           f"{_usd(econ.baseline_uncached_cost_per_day)}/day without)" if econ.cached_tokens_per_call else " (no prompt caching)")
        + (f", the fine-tuned model {_usd(econ.finetuned_cost_per_day)}/day after a one-time training cost of "
           f"{_usd(econ.training_cost)} ({econ.epochs} epochs)" if econ.finetuned_cost_per_day is not None else "")
        + ". "
        + ("Fine-tuning never pays back at this volume." if econ.break_even_days is None
           else f"It pays back after **{econ.break_even_days:,.1f} days** ({econ.break_even_date}).")
        + (f" The fine-tune path ends on {econ.finetune_path_ends} (no fine-tunable successor)."
           if econ.finetune_path_ends else "")
        + f" Prices: {info.source}, checked {info.checked}.",
        "",
        "![Cumulative cost per approach](CHART:break-even)",
        "",
        "## Risks",
        "",
    ]
    risks = [f"**{r.split(':', 1)[0]}.**{r.split(':', 1)[1]}" if ":" in r[:40] else r for r in rec.risks]
    if info.retires and not any("retire" in r for r in rec.risks):
        risks.append(
            f"**Model retirement.** {info.id} retires on {info.retires.isoformat()}"
            + (f" and accepts no new fine-tuning jobs after {info.no_new_jobs.isoformat()}" if info.no_new_jobs else "")
            + (": the fine-tune would not pay back before then." if econ.retires_before_break_even
               else "; a fine-tune must be rebuilt on a fine-tunable successor, and the lab's local backends keep "
                    "working offline.")
        )
    risks.append(
        "**Data freshness.** The evidence is frozen to dataset version "
        f"`{dataset.hash}`; when the ticket mix or the categories change, re-run the evaluation — "
        "retrieval adapts without retraining, a fine-tune needs a new job."
    )
    if pii_examples:
        risks.append(f"**Personal data.** {pii_examples} examples contain PII: redact before sending them "
                     "to a hosted provider for training (the Dataset page does it in one click).")
    md += [f"- {r}" for r in risks] + [""]
    if rec.contradictions:
        md += ["**Your answers vs the measurements.**", ""] + [f"- {c}" for c in rec.contradictions] + [""]
    md += ["---", "", "### Runs behind every number", ""]
    for spec, r in by_spec.items():
        origin = f" · {r.origin}" if r.origin else ""
        md += [
            f'<a id="run-{r.id}"></a>**Run {r.id}** — `{spec}` on the {r.split} split of `{r.dataset_hash}` · '
            f"config `{r.config_hash}` · {r.created_at[:16].replace('T', ' ')}{origin}  ",
            f"reproduce: `python -m core evaluate --dataset {r.dataset_hash} --split {r.split} --approach {spec}`",
            "",
        ]
    markdown_text = "\n".join(md)
    stem = f"decision-memo-{dataset.hash[:8]}-{today.isoformat()}"
    return Memo(_embed_markdown(markdown_text, charts), _to_html(markdown_text, charts, dataset.task.name), stem)


def _embed_markdown(text: str, charts: dict[str, str]) -> str:
    for name, svg in charts.items():
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
        text = text.replace(f"(CHART:{name})", f"({uri})")
    return text


def _to_html(text: str, charts: dict[str, str], title: str) -> str:
    """A small Markdown → HTML for the memo's own constructs (headings, tables, lists, links, images).

    Hand-written because the memo uses a handful of constructs and a Markdown library
    would be one more dependency on the light tier Community Cloud installs.
    """
    import re

    def inline(s: str) -> str:
        keep = {}

        def stash(m):  # raw anchors pass through untouched
            keep[f"\0{len(keep)}\0"] = m.group(0)
            return f"\0{len(keep) - 1}\0"

        s = re.sub(r'<a id="run-\d+"></a>', stash, s)
        s = html.escape(s, quote=False)
        s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
        s = re.sub(r"\*(.+?)\*", r"<em>\1</em>", s)
        s = re.sub(r"`(.+?)`", r"<code>\1</code>", s)
        s = re.sub(r"\[(.+?)\]\((#run-\d+)\)", r'<a href="\2">\1</a>', s)
        for k, v in keep.items():
            s = s.replace(k, v)
        return s

    out, in_table, in_list = [], False, False
    for line in text.splitlines():
        image = re.fullmatch(r"!\[(.*)\]\(CHART:(.+)\)", line)
        if in_table and not line.startswith("|"):
            out.append("</table>")
            in_table = False
        if in_list and not line.startswith("- "):
            out.append("</ul>")
            in_list = False
        if image:
            out.append(f'<figure>{charts[image.group(2)]}<figcaption>{html.escape(image.group(1))}</figcaption></figure>')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-: "):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{inline(c)}</{tag}>" for c in cells) + "</tr>")
        elif line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{inline(line[2:])}</li>")
        elif line.strip() == "---":
            out.append("<hr>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    if in_table:
        out.append("</table>")
    if in_list:
        out.append("</ul>")
    style = ("body{font-family:system-ui,sans-serif;max-width:920px;margin:2rem auto;padding:0 1rem;color:#222;"
             "line-height:1.45}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;"
             "padding:.35rem .5rem;text-align:left}figure{margin:1rem 0}svg{max-width:100%;height:auto}"
             "code{background:#f4f4f4;padding:0 .2rem;border-radius:3px}figcaption{color:#666;font-size:.9rem}")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Decision memo — '
            f"{html.escape(title)}</title><style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")
