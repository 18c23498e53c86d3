"""`python -m core capability`: does a fine-tune still pass the general checks its base model passes?"""

from core.evaluation import capability
from core.cli import CommandError, Result
from core.config import api_key_from_env, load_settings
from core.store import open_store

HELP = "capability regression check: a base chat model vs its fine-tune on a bundled suite of general prompts"


def add_arguments(parser) -> None:
    parser.add_argument("--base", required=True, help="the base model id, e.g. gpt-4o-mini-2024-07-18")
    parser.add_argument("--tuned", required=True, help="the fine-tuned model id, e.g. ft:gpt-4o-mini-…")
    parser.add_argument("--suite", default=str(capability.SUITE_PATH), help="a JSONL suite (default: the bundled one)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL or api.openai.com)")


def run(args) -> Result:
    try:
        probes = capability.load_suite(args.suite)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    rep = capability.check(args.base, args.tuned, store=open_store(args.workspace), probes=probes,
                           base_url=args.base_url or load_settings(args.workspace).base_url, api_key=api_key_from_env())
    failed = {**rep.base.errors, **rep.tuned.errors}
    lines = [f"{'probe':<18} {'skill':<13} {'base':>5} {'tuned':>6}"]
    for pid, skill in rep.skills.items():
        lines.append(f"{pid:<18} {skill:<13} {'pass' if rep.base.passed[pid] else 'FAIL':>5} "
                     f"{'pass' if rep.tuned.passed[pid] else 'FAIL':>6}")
    lines.append("\n" + rep.sentence)
    if failed:
        lines.append(f"{len(failed)} calls failed (e.g. {next(iter(failed.values()))}); rerun to retry them.")
    data = {"base": rep.base.model, "tuned": rep.tuned.model, "base_pass_rate": rep.base.pass_rate,
            "tuned_pass_rate": rep.tuned.pass_rate, "regressions": rep.regressions, "improvements": rep.improvements,
            "mcnemar_p": rep.mcnemar_p, "sentence": rep.sentence, "errors": len(failed)}
    return Result(data=data, text="\n".join(lines), exit_code=1 if failed else 0)
