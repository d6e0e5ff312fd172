"""The semantic cache through a real server on loopback: the SDK, the CLI, errors and restarts.

The server encodes prompts with the packaged MiniLM model (VECDB_PRELOAD_MODELS=1: the cache
opens before health says SERVING). Thresholds are set per category by the tests, so a hit or a
miss depends on similarities the tests also measure through the server's own encoder.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vecdb_client import AsyncClient, CacheLoadAdaptation, CachePolicy, Client, errors

from .server_process import ServerProcess

REVERSE = "How do I reverse a list in Python?"
REVERSE_PARAPHRASE = "What is the way to reverse a Python list?"
UNRELATED = "What is the capital city of France?"
MAX_ANSWER = 2000


@pytest.fixture(scope="module")
def cache_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(Path(tmp_path_factory.mktemp("cache-data")), VECDB_PRELOAD_MODELS="1",
                       VECDB_CACHE_MAX_ANSWER_BYTES=str(MAX_ANSWER), VECDB_CACHE_SWEEP_INTERVAL_S="0.5") as proc:
        yield proc


@pytest.fixture(scope="module")
def client(cache_server: ServerProcess) -> Iterator[Client]:
    with Client(cache_server.address, timeout=120) as c:
        yield c


def _sim(client: Client, a: str, b: str) -> float:
    """Cosine similarity of two prompts under the server's encoder (what the cache compares)."""
    va, vb = (e.vector for e in client.encode([a, b], role="query"))
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def _category() -> str:
    return "t-" + uuid.uuid4().hex[:8]


def test_health_reports_the_cache_serving(client: Client) -> None:
    assert client.health("vecdb.v1.Cache") == "SERVING"


def test_store_then_lookup_by_text_hit_and_miss(client: Client) -> None:
    cat = _category()
    sim = _sim(client, REVERSE, REVERSE_PARAPHRASE)
    far = _sim(client, REVERSE, UNRELATED)
    assert sim > far + 0.2  # the pair is a paraphrase, the other is not
    client.cache_set_policy(CachePolicy(cat, threshold=round(sim - 0.05, 3)))
    ref = client.cache_store(REVERSE, "xs[::-1]", category=cat, model="gpt", metadata={"lang": "py"})
    assert ref.category == cat and len(ref.entry_id) == 32

    hit = client.cache_lookup(REVERSE_PARAPHRASE, category=cat, model="gpt")
    assert hit.hit and hit.answer == "xs[::-1]" and hit.entry_id == ref.entry_id
    assert hit.similarity == pytest.approx(sim, abs=1e-3) and hit.metadata == {"lang": "py"}
    assert hit.age_seconds >= 0 and hit.threshold == pytest.approx(sim - 0.05, abs=1e-3)
    # The same prompt, differently spaced and cased, is an exact match.
    same = client.cache_lookup("  how do I reverse a LIST in python? ", category=cat, model="gpt")
    assert same.hit and same.similarity == pytest.approx(1.0)

    miss = client.cache_lookup(UNRELATED, category=cat, model="gpt")
    assert not miss.hit and miss.answer is None and miss.metadata is None
    assert miss.similarity == pytest.approx(far, abs=1e-3) and miss.entry_id == ref.entry_id  # the nearest


def test_threshold_decides_just_above_and_just_below(client: Client) -> None:
    cat = _category()
    sim = _sim(client, REVERSE, REVERSE_PARAPHRASE)
    client.cache_set_policy(CachePolicy(cat, threshold=round(sim - 0.01, 3)))
    client.cache_store(REVERSE, "xs[::-1]", category=cat, model="gpt")
    assert client.cache_lookup(REVERSE_PARAPHRASE, category=cat, model="gpt").hit
    client.cache_set_policy(CachePolicy(cat, threshold=round(sim + 0.01, 3), near_miss_margin=0.05))
    miss = client.cache_lookup(REVERSE_PARAPHRASE, category=cat, model="gpt")
    assert not miss.hit and miss.near_miss and miss.similarity == pytest.approx(sim, abs=1e-3)


def test_lookup_and_store_by_vector(client: Client) -> None:
    cat = _category()
    client.cache_set_policy(CachePolicy(cat, threshold=0.9))
    [prompt_vec, other_vec] = [e.vector for e in client.encode([REVERSE, UNRELATED], role="query")]
    client.cache_store(REVERSE, "by text", category=cat, model="gpt")
    r = client.cache_lookup(vector=prompt_vec, category=cat, model="gpt")
    assert r.hit and r.answer == "by text" and r.similarity == pytest.approx(1.0, abs=1e-4)

    ref = client.cache_store(UNRELATED, "Paris", category=cat, model="gpt", vector=other_vec * 3.0)
    r = client.cache_lookup(UNRELATED + " Tell me.", category=cat, model="gpt")
    assert r.entry_id == ref.entry_id  # the stored (scaled) vector is found by the text's encoding
    with pytest.raises(errors.InvalidArgument, match="dim"):
        client.cache_lookup(vector=np.ones(7, np.float32), category=cat, model="gpt")


def test_async_client_matches_sync(cache_server: ServerProcess, client: Client) -> None:
    cat = _category()
    client.cache_set_policy(CachePolicy(cat, threshold=0.9))

    async def run() -> tuple[str, list[bool]]:
        async with AsyncClient(cache_server.address, timeout=120) as ac:
            ref = await ac.cache_store(UNRELATED, "Paris", category=cat, model="gpt")
            found = await asyncio.gather(*(ac.cache_lookup(p, category=cat, model="gpt")
                                           for p in (UNRELATED, REVERSE)))
            return ref.entry_id, [r.hit and r.entry_id == ref.entry_id for r in found]

    entry_id, hits = asyncio.run(run())
    assert hits == [True, False]
    assert client.cache_lookup(UNRELATED, category=cat, model="gpt").entry_id == entry_id


def test_categories_and_models_never_cross(client: Client) -> None:
    a, b = _category(), _category()
    for cat in (a, b):
        client.cache_set_policy(CachePolicy(cat, threshold=0.9))
    client.cache_store(REVERSE, "in a", category=a, model="gpt")
    assert client.cache_lookup(REVERSE, category=a, model="gpt").answer == "in a"
    assert not client.cache_lookup(REVERSE, category=b, model="gpt").hit
    other = client.cache_lookup(REVERSE, category=a, model="claude")
    assert not other.hit and math.isnan(other.similarity) and other.entry_id == ""
    # An unknown category is not an error: its traffic uses the default category.
    assert client.cache_lookup(REVERSE, category="no-such-" + a, model="gpt").category == "default"


def test_classifier_routes_unlabelled_prompts(client: Client) -> None:
    code, chat = _category(), _category()
    client.cache_set_policy(CachePolicy(code, examples=("How do I fix this Python TypeError?",
                                                         "Sort a list of dicts by key in Python")))
    client.cache_set_policy(CachePolicy(chat, examples=("Tell me a joke about cats", "How was your weekend?")))
    ref = client.cache_store("Why does my Python loop raise an IndexError?", "off by one", model="gpt")
    assert ref.category == code
    assert client.cache_lookup("Tell me a funny joke about dogs", model="gpt").category == chat
    client.cache_set_policy(CachePolicy(code))  # drop the examples again, for the other tests
    client.cache_set_policy(CachePolicy(chat))


def test_invalidate_by_each_selector(client: Client) -> None:
    cat, other = _category(), _category()
    for c in (cat, other):
        client.cache_set_policy(CachePolicy(c))  # a category without a policy stores into "default"
    prompts = [f"question number {i} about topic {i * 7}" for i in range(6)]
    vectors = [e.vector for e in client.encode(prompts + ["kept"], role="query")]  # one encoder call
    refs = [client.cache_store(prompts[i], f"answer {i}", category=cat, model=f"m{i % 2}", vector=vectors[i],
                               metadata={"i": i, "parity": ["even", "odd"][i % 2]})
            for i in range(6)]
    client.cache_store("kept", "kept", category=other, model="m0", vector=vectors[6])

    def entries(c: str) -> int:
        return next((s.entries for s in client.cache_stats(c)), 0)

    assert entries(cat) == 6
    assert client.cache_invalidate(entry_id=refs[0].entry_id) == 1
    assert client.cache_invalidate(entry_id=refs[0].entry_id) == 0
    odd = {"must": [{"key": "parity", "match": {"value": "odd"}}]}
    assert client.cache_invalidate(filter=odd) == 3
    assert client.cache_invalidate(model="m0") == 3  # refs 2 and 4, and the other category's entry
    assert entries(cat) == 0 and entries(other) == 0
    client.cache_store("again", "again", category=cat, model="m9")
    assert client.cache_invalidate(category=cat) == 1 and entries(cat) == 0
    with pytest.raises(errors.InvalidArgument, match="entry_id"):
        client.cache_invalidate(entry_id="not-an-id")


def test_policy_round_trip_and_bad_values(client: Client) -> None:
    cat = _category()
    policy = CachePolicy(cat, threshold=0.87, ttl_seconds=123.5, max_entries=10, max_bytes=4096,
                         exact_match_only=True, enabled=True, near_miss_margin=0.03, examples=("an example",),
                         adaptation=CacheLoadAdaptation(high_watermark=0.8, low_watermark=0.4, threshold_step=0.01,
                                                        max_threshold_relax=0.03, ttl_factor_step=0.25,
                                                        max_ttl_factor=2.0))
    assert client.cache_set_policy(policy) == policy
    assert client.cache_get_policy(cat) == policy
    for bad, field in [(CachePolicy(cat, threshold=1.5), "threshold"), (CachePolicy(cat, threshold=-0.1), "threshold"),
                       (CachePolicy(cat, ttl_seconds=-1.0), "ttl_seconds"),
                       (CachePolicy(cat, near_miss_margin=2.0), "near_miss_margin"),
                       (CachePolicy(cat, adaptation=CacheLoadAdaptation(low_watermark=0.9, high_watermark=0.5)),
                        "low_watermark")]:
        with pytest.raises(errors.InvalidArgument, match=field):
            client.cache_set_policy(bad)
    assert client.cache_get_policy(cat) == policy  # nothing partial
    # A category without a policy reads as the default one.
    assert client.cache_get_policy("never-set-" + cat).category == "default"
    client.cache_set_policy(CachePolicy(cat))  # its example must not route other tests' prompts


def test_stats_count_the_traffic_and_load_adaptation(client: Client) -> None:
    cat = _category()
    client.cache_set_policy(CachePolicy(cat, threshold=0.9, ttl_seconds=100.0,
                                        adaptation=CacheLoadAdaptation(threshold_step=0.02, max_threshold_relax=0.03)))
    ref = client.cache_store(REVERSE, "xs[::-1]", category=cat, model="busy")
    for _ in range(3):
        assert client.cache_lookup(REVERSE, category=cat, model="busy").hit
    assert not client.cache_lookup(UNRELATED, category=cat, model="busy").hit
    client.cache_report_false_hit(ref.entry_id)
    assert not client.cache_lookup(REVERSE, category=cat, model="busy").hit  # the reported entry is gone
    [s] = client.cache_stats(cat)
    assert (s.hits, s.misses, s.false_hits, s.entries) == (3, 2, 1, 0)
    assert s.lookup_p50_ms > 0 and s.lookup_p99_ms >= s.lookup_p50_ms
    assert (s.threshold, s.base_threshold, s.adaptation_level) == (0.9, 0.9, 0)

    # Each report above the high watermark is one more step; the threshold never relaxes past
    # max_threshold_relax (0.87) and the TTL factor grows by 0.5 per step up to 3.
    for level, threshold, ttl in ((1, 0.88, 150.0), (2, 0.87, 200.0), (3, 0.87, 250.0), (4, 0.87, 300.0),
                                  (4, 0.87, 300.0)):
        client.cache_report_load("busy", 0.95)
        [s] = client.cache_stats(cat)
        assert (s.adaptation_level, s.ttl_seconds, s.base_ttl_seconds) == (level, ttl, 100.0)
        assert s.threshold == pytest.approx(threshold, abs=1e-6)
    client.cache_report_load("busy", 0.1)
    [s] = client.cache_stats(cat)
    assert (s.adaptation_level, s.threshold, s.ttl_seconds) == (0, 0.9, 100.0)
    with pytest.raises(errors.InvalidArgument, match="load"):
        client.cache_report_load("busy", 1.5)
    with pytest.raises(errors.NotFound):
        client.cache_report_false_hit(uuid.uuid4().hex)


def test_the_background_sweep_removes_expired_entries(client: Client) -> None:
    cat = _category()
    client.cache_set_policy(CachePolicy(cat, ttl_seconds=1.0))
    client.cache_store(REVERSE, "soon stale", category=cat, model="gpt")
    assert client.cache_stats(cat)[0].entries == 1
    deadline = time.monotonic() + 30
    while client.cache_stats(cat)[0].entries and time.monotonic() < deadline:
        time.sleep(0.25)
    # No lookup touched the category: only the server's periodic sweep can have removed it.
    [s] = client.cache_stats(cat)
    assert (s.entries, s.expiries, s.hits + s.misses) == (0, 1, 0)


def test_bad_input_is_refused_and_stores_nothing(client: Client) -> None:
    cat = _category()
    client.cache_set_policy(CachePolicy(cat))
    with pytest.raises(errors.InvalidArgument, match=str(MAX_ANSWER)):
        client.cache_store("a prompt", "x" * (MAX_ANSWER + 1), category=cat, model="gpt")
    with pytest.raises(errors.InvalidArgument, match="prompt"):
        client.cache_store("   ", "an answer", category=cat, model="gpt")
    with pytest.raises(errors.InvalidArgument, match="text is empty"):
        client.cache_lookup("", category=cat)
    assert client.cache_stats(cat)[0].entries == 0
    assert client.health() == "SERVING"


def vecdb(server: ServerProcess, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VECDB_ADDRESS": server.address}
    result = subprocess.run([sys.executable, "-m", "vecdb.cli", *args], check=False, env=env, capture_output=True, text=True,
                            timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"vecdb {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def test_cli_round_trip(cache_server: ServerProcess) -> None:
    cat = _category()
    policy = json.loads(vecdb(cache_server, "--json", "cache", "policy-set", cat, "--threshold", "0.8",
                              "--ttl", "0", "--max-entries", "5").stdout)
    assert (policy["category"], policy["threshold"], policy["ttl_seconds"], policy["max_entries"]) == (cat, 0.8, 0.0, 5)
    stored = json.loads(vecdb(cache_server, "--json", "cache", "store", "--prompt", REVERSE, "--answer", "xs[::-1]",
                              "--category", cat, "--model", "gpt", "--metadata", '{"lang": "py"}').stdout)
    hit = json.loads(vecdb(cache_server, "--json", "cache", "lookup", "--text", REVERSE_PARAPHRASE,
                           "--category", cat, "--model", "gpt").stdout)
    assert hit["hit"] and hit["answer"] == "xs[::-1]" and hit["entry_id"] == stored["entry_id"]
    table = vecdb(cache_server, "cache", "stats", "--category", cat).stdout
    assert cat in table and "HITS" in table
    assert "removed 1 entry" in vecdb(cache_server, "cache", "invalidate", "--category", cat).stdout
    bad = vecdb(cache_server, "cache", "policy-set", cat, "--threshold", "1.5", check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "threshold" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_a_disabled_cache_refuses_with_the_setting_to_change(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, VECDB_CACHE_ENABLED="0") as proc, Client(proc.address, timeout=30) as c:
        assert c.health() == "SERVING" and c.health("vecdb.v1.Cache") == "NOT_SERVING"
        with pytest.raises(errors.FailedPrecondition, match="cache_enabled"):
            c.cache_lookup("anything")


def test_restart_keeps_entries_and_the_cache_opens_on_first_use(cache_server: ServerProcess, client: Client) -> None:
    """Runs last against the module's server: stops it and serves its data folder again."""
    client.cache_set_policy(CachePolicy("restart", threshold=0.8, ttl_seconds=3600.0))
    ref = client.cache_store(REVERSE, "xs[::-1]", category="restart", model="gpt")
    before = client.cache_lookup(REVERSE_PARAPHRASE, category="restart", model="gpt")
    assert before.hit
    assert cache_server.stop() == 0
    # Without preloading, the cache opens (and loads the encoder) on its first call.
    with ServerProcess(cache_server.data_dir) as again, Client(again.address, timeout=120) as c:
        assert c.health("vecdb.v1.Cache") == "SERVING"
        after = c.cache_lookup(REVERSE_PARAPHRASE, category="restart", model="gpt")
        assert after.hit and after.entry_id == ref.entry_id and after.answer == "xs[::-1]"
        assert after.age_seconds >= before.age_seconds
        assert c.cache_get_policy("restart").threshold == 0.8
