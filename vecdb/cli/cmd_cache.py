"""`vecdb cache lookup | store | invalidate | stats | policy-get | policy-set | report-load |
false-hit`: the server's semantic cache for LLM answers (issue 7)."""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path
from typing import Any

from vecdb.cli.cmd_query import query_vector
from vecdb.cli.common import EpilogFormatter, connect, emit, parse_filter, parse_json_arg
from vecdb.cli.errors import UsageError
from vecdb.cli.output import format_kv, format_table, human_bytes, to_jsonable

__all__ = ["lookup_text", "policy_text", "register", "stats_table", "updated_policy"]

GROUP_EPILOG = """\
examples:
  vecdb cache store --prompt "How do I reverse a list in Python?" --answer "xs[::-1]" \\
      --category code --model gpt-4o --metadata '{"lang": "python"}'
  vecdb cache lookup --text "how to reverse a python list" --category code --model gpt-4o
  vecdb cache lookup --vector-file prompt.npy --model gpt-4o --json
  vecdb cache invalidate --category prices
  vecdb cache invalidate --filter '{"must": [{"key": "lang", "match": {"value": "perl"}}]}'
  vecdb cache stats
  vecdb cache policy-get code
  vecdb cache policy-set code --threshold 0.95 --ttl 2592000 --example "fix this python error"
  vecdb cache policy-set prices --exact-match-only --ttl 300 --max-entries 10000
  vecdb cache report-load gpt-4o 0.92
  vecdb cache false-hit 3f0c2a…

Prompts given as text are encoded by the server's default encoder model; --vector-file must
hold a vector of that model. With no --category the server's classifier (built from the
policies' --example prompts) picks one, else "default". Entries are scoped by --model (the LLM
that wrote the answer): a hit never crosses models.
"""

POLICY_SET_EPILOG = """\
examples:
  vecdb cache policy-set code --threshold 0.95 --ttl 2592000
  vecdb cache policy-set chat --threshold 0.85 --example "hi, how are you?" --example "tell me a joke"
  vecdb cache policy-set prices --exact-match-only --ttl 300
  vecdb cache policy-set code --adaptation-json '{"high_watermark": 0.9, "max_threshold_relax": 0.04}'
  vecdb cache policy-set chat --policy-json @chat-policy.json

Options not given keep the category's current value (the command reads the policy, changes
what you name, and stores it whole). --ttl 0 never expires; --max-entries / --max-bytes 0 mean
no quota. --example replaces the category's examples (use --clear-examples to drop them).
"""


# --------------------------------------------------------------------------------- output


def _sim(value: float) -> str:
    return "none" if math.isnan(value) else f"{value:.4f}"


def lookup_text(r: Any) -> str:
    """The human form of one lookup: the answer on a hit, the nearest similarity on a miss."""
    if r.hit:
        pairs = [
            ("result", "hit"),
            ("category", r.category),
            ("similarity", f"{_sim(r.similarity)} (threshold {r.threshold:.4f})"),
            ("entry", r.entry_id),
            ("age", f"{r.age_seconds:.1f} s"),
        ]
        if r.metadata:
            pairs.append(("metadata", r.metadata))
        return format_kv(pairs) + "\n\n" + (r.answer or "")
    nearest = f"{_sim(r.similarity)} (threshold {r.threshold:.4f})"
    pairs = [("result", "miss"), ("category", r.category), ("nearest", nearest)]
    if r.entry_id:
        pairs.append(("nearest entry", r.entry_id))
    return format_kv(pairs)


def _no_nan(value: Any) -> Any:
    """JSON has no NaN: an unknown similarity or latency becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def _ms(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def stats_table(stats: list[Any]) -> str:
    if not stats:
        return "the cache holds no categories yet"
    headers = ["CATEGORY", "ENTRIES", "BYTES", "HITS", "MISSES", "NEAR", "FALSE", "EVICTED",
               "EXPIRED", "THRESHOLD", "TTL S", "LEVEL", "P50 MS", "P99 MS"]
    rows = [
        [s.category, s.entries, human_bytes(s.bytes), s.hits, s.misses, s.near_misses, s.false_hits,
         s.evictions, s.expiries,
         f"{s.threshold:.4f}" + ("" if s.threshold == s.base_threshold else f" ({s.base_threshold:.4f})"),
         f"{s.ttl_seconds:.10g}", s.adaptation_level, _ms(s.lookup_p50_ms), _ms(s.lookup_p99_ms)]
        for s in stats
    ]
    return format_table(headers, rows)


def policy_text(p: Any) -> str:
    a = p.adaptation
    adaptation = (
        f"relax {a.threshold_step:g}/step up to {a.max_threshold_relax:g} above load {a.high_watermark:g}, "
        f"TTL x{a.ttl_factor_step:g}/step up to x{a.max_ttl_factor:g}, revert below {a.low_watermark:g}"
    )
    pairs = [
        ("category", p.category),
        ("threshold", p.threshold),
        ("ttl seconds", f"{p.ttl_seconds:.10g}" + (" (never expires)" if p.ttl_seconds == 0 else "")),
        ("max entries", p.max_entries or "unlimited"),
        ("max bytes", human_bytes(p.max_bytes) if p.max_bytes else "unlimited"),
        ("exact match only", "yes" if p.exact_match_only else "no"),
        ("enabled", "yes" if p.enabled else "no"),
        ("near-miss margin", p.near_miss_margin),
        ("examples", len(p.examples)),
        ("load adaptation", adaptation),
    ]
    return format_kv(pairs, max_width=120)


# --------------------------------------------------------------------------------- commands


def run_lookup(args: argparse.Namespace) -> int:
    vector = None
    if args.text is None:
        vector = query_vector(args.vector, args.vector_file, args.row)
    with connect(args) as client:
        r = client.cache_lookup(args.text, vector=vector, category=args.category or "", model=args.model or "")
    emit(args, lookup_text(r), _no_nan(to_jsonable(r)))
    return 0


def _answer(args: argparse.Namespace) -> str:
    if args.answer_file is not None:
        return str(Path(args.answer_file).read_text(encoding="utf-8"))
    return str(args.answer)


def run_store(args: argparse.Namespace) -> int:
    metadata = None
    if args.metadata is not None:
        metadata = parse_json_arg(args.metadata, "--metadata")
        if not isinstance(metadata, dict):
            raise UsageError('--metadata must be a JSON object such as {"lang": "python"}')
    with connect(args) as client:
        ref = client.cache_store(args.prompt, _answer(args), category=args.category or "",
                                 model=args.model or "", metadata=metadata)
    emit(args, f"stored entry {ref.entry_id} in category {ref.category!r}", ref)
    return 0


def check_invalidate(args: argparse.Namespace) -> None:
    given = [o for o, v in (("--id", args.id), ("--category", args.category), ("--model", args.model),
                            ("--filter", args.filter)) if v is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of --id, --category, --model, --filter"
                         + (f" (got {', '.join(given)})" if given else ""))


def run_invalidate(args: argparse.Namespace) -> int:
    with connect(args) as client:
        removed = client.cache_invalidate(entry_id=args.id, category=args.category, model=args.model,
                                          filter=parse_filter(args.filter))
    emit(args, f"removed {removed} entr{'y' if removed == 1 else 'ies'}", {"removed": removed})
    return 0


def run_stats(args: argparse.Namespace) -> int:
    with connect(args) as client:
        stats = client.cache_stats(args.category)
    emit(args, stats_table(stats), _no_nan(to_jsonable(stats)))
    return 0


def run_policy_get(args: argparse.Namespace) -> int:
    with connect(args) as client:
        policy = client.cache_get_policy(args.category)
    emit(args, policy_text(policy), policy)
    return 0


_ADAPTATION_KEYS = ("high_watermark", "low_watermark", "threshold_step", "max_threshold_relax",
                    "ttl_factor_step", "max_ttl_factor")
_POLICY_KEYS = ("threshold", "ttl_seconds", "max_entries", "max_bytes", "exact_match_only", "enabled",
                "near_miss_margin", "examples", "adaptation")


def _json_object(text: str, option: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    value = parse_json_arg(text, option)
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise UsageError(f"{option}: unknown key(s) {', '.join(unknown)}; use {', '.join(allowed)}")
    return value


def updated_policy(current: Any, args: argparse.Namespace) -> Any:
    """`current` with what the options name replaced (--policy-json first, then each option)."""
    from vecdb_client import CacheLoadAdaptation

    # A category without a policy of its own reads as the default policy: rename it.
    changes: dict[str, Any] = {"category": args.category}
    if args.policy_json is not None:
        changes.update(_json_object(args.policy_json, "--policy-json", _POLICY_KEYS + ("category",)))
        changes["category"] = args.category  # the command line names the category
        if "examples" in changes:
            changes["examples"] = tuple(changes["examples"])
        if "adaptation" in changes:
            adaptation = changes["adaptation"]
            if not isinstance(adaptation, dict) or set(adaptation) - set(_ADAPTATION_KEYS):
                raise UsageError(f"--policy-json: adaptation must be an object with keys {', '.join(_ADAPTATION_KEYS)}")
            changes["adaptation"] = dataclasses.replace(current.adaptation, **adaptation)
    for option, name in (("threshold", "threshold"), ("ttl", "ttl_seconds"), ("max_entries", "max_entries"),
                         ("max_bytes", "max_bytes"), ("exact_match_only", "exact_match_only"),
                         ("enabled", "enabled"), ("near_miss_margin", "near_miss_margin")):
        value = getattr(args, option)
        if value is not None:
            changes[name] = value
    if args.clear_examples:
        changes["examples"] = ()
    if args.example:
        changes["examples"] = tuple(args.example)
    if args.adaptation_json is not None:
        base = changes.get("adaptation", current.adaptation)
        if not isinstance(base, CacheLoadAdaptation):
            base = current.adaptation
        changes["adaptation"] = dataclasses.replace(
            base, **_json_object(args.adaptation_json, "--adaptation-json", _ADAPTATION_KEYS)
        )
    if current.category != args.category and "examples" not in changes:
        changes["examples"] = ()  # the default policy's examples route traffic to "default"
    if len(changes) == 1:
        raise UsageError("nothing to change: give at least one option (see --help)")
    try:
        return dataclasses.replace(current, **changes)
    except TypeError as exc:
        raise UsageError(f"--policy-json: {exc}") from None


def run_policy_set(args: argparse.Namespace) -> int:
    with connect(args) as client:
        current = client.cache_get_policy(args.category)
        policy = client.cache_set_policy(updated_policy(current, args))
    emit(args, policy_text(policy), policy)
    return 0


def run_report_load(args: argparse.Namespace) -> int:
    with connect(args) as client:
        client.cache_report_load(args.model, args.load)
    emit(args, f"reported load {args.load:g} for model {args.model!r}", {"model": args.model, "load": args.load})
    return 0


def run_false_hit(args: argparse.Namespace) -> int:
    with connect(args) as client:
        client.cache_report_false_hit(args.entry_id)
    emit(args, f"reported entry {args.entry_id} as a false hit", {"entry_id": args.entry_id, "reported": True})
    return 0


# --------------------------------------------------------------------------------- parser


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if math.isnan(value):
        raise argparse.ArgumentTypeError("expected a number, got nan")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 (0: unlimited), got {value}")
    return value


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> None:
    group = sub.add_parser(
        "cache",
        parents=parents,
        help="the semantic cache for LLM answers: lookup, store, policies, stats",
        description="Look prompts up in the server's semantic cache, store answers, invalidate "
        "entries, and read or set per-category policies and statistics.",
        epilog=GROUP_EPILOG,
        formatter_class=EpilogFormatter,
    )
    actions = group.add_subparsers(dest="cache_command", metavar="ACTION", required=True)

    def scope(p: argparse.ArgumentParser) -> None:
        p.add_argument("--category", metavar="NAME",
                       help="category (default: the server's classifier, else 'default')")
        p.add_argument("--model", metavar="LLM", help="the LLM the answer comes from (default: '')")

    lookup = actions.add_parser("lookup", parents=parents, help="look a prompt up",
                                description="Look a prompt up: print the cached answer on a hit, "
                                "the nearest entry's similarity on a miss.")
    prompt = lookup.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--text", metavar="PROMPT", help="the prompt text (encoded by the server)")
    prompt.add_argument("--vector", metavar="JSON", help="the prompt's embedding as a JSON list")
    prompt.add_argument("--vector-file", type=Path, metavar="FILE.npy", help="the prompt's embedding, .npy")
    lookup.add_argument("--row", type=int, default=0, help="which row of a 2-d --vector-file (default: 0)")
    scope(lookup)
    lookup.set_defaults(func=run_lookup)

    store = actions.add_parser("store", parents=parents, help="store an answer for a prompt",
                               description="Store an LLM's answer to a prompt.")
    store.add_argument("--prompt", required=True, metavar="TEXT", help="the prompt")
    answer = store.add_mutually_exclusive_group(required=True)
    answer.add_argument("--answer", metavar="TEXT", help="the answer")
    answer.add_argument("--answer-file", type=Path, metavar="FILE", help="read the answer from a UTF-8 file")
    scope(store)
    store.add_argument("--metadata", metavar="JSON", help="a JSON object stored with the entry (or @file.json)")
    store.set_defaults(func=run_store)

    inv = actions.add_parser("invalidate", parents=parents, help="remove entries",
                             description="Remove cache entries by exactly one of: entry id, "
                             "category, LLM model, or a filter on their metadata.")
    inv.add_argument("--id", metavar="ENTRY", help="one entry")
    inv.add_argument("--category", metavar="NAME", help="every entry of a category")
    inv.add_argument("--model", metavar="LLM", help="every entry of an LLM")
    inv.add_argument("--filter", metavar="JSON", help="Qdrant-style filter on the metadata (or @file.json)")
    inv.set_defaults(func=run_invalidate, check=check_invalidate, command_parser=inv)

    stats = actions.add_parser("stats", parents=parents, help="per-category counters and latency",
                               description="Per-category entries, bytes, hits, misses, near-misses, "
                               "false hits, evictions, expiries, effective threshold and TTL, load "
                               "adaptation level and lookup latency.")
    stats.add_argument("--category", metavar="NAME", help="only this category")
    stats.set_defaults(func=run_stats)

    get = actions.add_parser("policy-get", parents=parents, help="show a category's policy",
                             description="Show a category's cache policy.")
    get.add_argument("category")
    get.set_defaults(func=run_policy_get)

    put = actions.add_parser("policy-set", parents=parents, help="change a category's policy",
                             description="Change a category's cache policy: the options given "
                             "replace the current values.", epilog=POLICY_SET_EPILOG,
                             formatter_class=EpilogFormatter)
    put.add_argument("category")
    put.add_argument("--threshold", type=_number, metavar="S", help="cosine similarity a hit needs, in [0, 1]")
    put.add_argument("--ttl", type=_number, metavar="SECONDS", help="entry lifetime; 0 never expires")
    put.add_argument("--max-entries", type=_count, metavar="N", help="quota in entries (0: none)")
    put.add_argument("--max-bytes", type=_count, metavar="N", help="quota in bytes (0: none)")
    put.add_argument("--exact-match-only", action=argparse.BooleanOptionalAction, default=None,
                     help="hit only on the same normalized prompt text")
    put.add_argument("--enabled", action=argparse.BooleanOptionalAction, default=None,
                     help="a disabled category never hits")
    put.add_argument("--near-miss-margin", type=_number, metavar="M",
                     help="misses within M of the threshold count as near-misses")
    put.add_argument("--example", action="append", metavar="PROMPT",
                     help="an example prompt for the classifier; repeat (replaces the current ones)")
    put.add_argument("--clear-examples", action="store_true", help="drop the category's examples")
    put.add_argument("--adaptation-json", metavar="JSON",
                     help=f"load adaptation bounds to change: {', '.join(_ADAPTATION_KEYS)}")
    put.add_argument("--policy-json", metavar="JSON",
                     help="policy fields as one JSON object (or @file.json); options override it")
    put.set_defaults(func=run_policy_set)

    load = actions.add_parser("report-load", parents=parents, help="report an LLM's load (0..1)",
                              description="Report an LLM's current load in [0, 1]; high load "
                              "relaxes its categories' thresholds within the policy's bounds.")
    load.add_argument("model")
    load.add_argument("load", type=_number)
    load.set_defaults(func=run_report_load)

    fh = actions.add_parser("false-hit", parents=parents, help="report a wrong hit",
                            description="Report that a hit's answer did not fit its prompt.")
    fh.add_argument("entry_id")
    fh.set_defaults(func=run_false_hit)
