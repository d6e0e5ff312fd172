"""MUVERA fixed dimensional encodings: against a per-bucket reference written from the paper's
definition, hand-built bucket cases (sums vs means, empty-bucket fill by Hamming distance on
plain binary indexes), determinism and input errors."""

from __future__ import annotations

import numpy as np
import pytest

from vecdb.index.muvera import FdeConfig, FdeEncoder


def reference_fde(enc: FdeEncoder, toks: np.ndarray, document: bool) -> np.ndarray:
    """One token set's FDE, bucket by bucket, in float64 (the paper's definition)."""
    cfg = enc.config
    planes = enc.hyperplanes  # (reps, k_sim, dim)
    width = cfg.d_proj or enc.dim
    rng = np.random.default_rng(cfg.seed)  # the inner projection, drawn as the encoder does
    rng.standard_normal((enc.dim, cfg.reps * cfg.k_sim))
    inner = None
    if cfg.d_proj:
        signs = rng.integers(0, 2, size=(enc.dim, cfg.reps * cfg.d_proj), dtype=np.int8)
        inner = (2.0 * signs - 1.0) / np.sqrt(cfg.d_proj)
    parts = []
    for r in range(cfg.reps):
        proj = np.eye(enc.dim) if inner is None else inner[:, r * width : (r + 1) * width]
        bucket = [sum(1 << i for i in range(cfg.k_sim) if t @ planes[r, i] > 0) for t in toks]
        for b in range(cfg.buckets):
            members = [j for j in range(len(toks)) if bucket[j] == b]
            if members:
                v = toks[members].astype(np.float64).sum(axis=0)
                if document:
                    v /= len(members)
            elif document and cfg.fill_empty:
                hamming = [(bucket[j] ^ b).bit_count() for j in range(len(toks))]
                v = toks[int(np.argmin(hamming))].astype(np.float64)  # first on ties
            else:
                v = np.zeros(enc.dim)
            parts.append(v @ proj)
    return np.concatenate(parts)


@pytest.mark.parametrize(
    "config",
    [
        FdeConfig(reps=3, k_sim=3, d_proj=4, seed=1),
        FdeConfig(reps=2, k_sim=4, d_proj=0, seed=2),
        FdeConfig(reps=2, k_sim=2, d_proj=5, fill_empty=False, seed=3),
        FdeConfig(reps=1, k_sim=0, d_proj=0, seed=4),
    ],
)
def test_batched_fdes_match_the_bucket_by_bucket_definition(config: FdeConfig) -> None:
    rng = np.random.default_rng(7)
    enc = FdeEncoder(8, config)
    lengths = [1, 5, 3, 12, 2]
    toks = rng.standard_normal((sum(lengths), 8)).astype(np.float32)
    off = np.concatenate([[0], np.cumsum(lengths)])
    docs, queries = enc.documents(toks, off), enc.queries(toks, off)
    assert docs.shape == queries.shape == (len(lengths), enc.fde_dim)
    assert docs.dtype == np.float32
    for i in range(len(lengths)):
        t = toks[off[i] : off[i + 1]]
        np.testing.assert_allclose(docs[i], reference_fde(enc, t, True), atol=1e-5)
        np.testing.assert_allclose(queries[i], reference_fde(enc, t, False), atol=1e-5)
        np.testing.assert_allclose(enc.document(t), docs[i], atol=1e-6)
        np.testing.assert_allclose(enc.query(t), queries[i], atol=1e-6)


def test_fde_dim_follows_the_config() -> None:
    assert FdeEncoder(384).fde_dim == 20 * 32 * 16  # the paper's default point
    assert FdeEncoder(10, FdeConfig(reps=3, k_sim=2, d_proj=0)).fde_dim == 3 * 4 * 10
    assert FdeEncoder(10, FdeConfig(reps=3, k_sim=2, d_proj=4, final_dim=7)).fde_dim == 7


def test_bucket_index_is_plain_binary_of_hyperplane_signs() -> None:
    rng = np.random.default_rng(0)
    enc = FdeEncoder(16, FdeConfig(reps=4, k_sim=5))
    toks = rng.standard_normal((200, 16)).astype(np.float32)
    planes = enc.hyperplanes
    bits = np.einsum("td,rkd->trk", toks, planes) > 0
    expected = (bits * (1 << np.arange(5))).sum(axis=2)
    np.testing.assert_array_equal(enc.buckets(toks), expected)


def test_query_sums_and_document_averages_per_bucket() -> None:
    # one bucket (k_sim 0), no projection: the document FDE is the mean, the query FDE the sum
    enc = FdeEncoder(3, FdeConfig(reps=2, k_sim=0, d_proj=0))
    toks = np.array([[1.0, 2.0, 3.0], [3.0, 0.0, -1.0], [2.0, 1.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(enc.query(toks), np.tile([6.0, 3.0, 3.0], 2))
    np.testing.assert_allclose(enc.document(toks), np.tile([2.0, 1.0, 1.0], 2))


def _token_in_bucket(enc: FdeEncoder, bucket: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cands = rng.standard_normal((4000, enc.dim)).astype(np.float32)
    hits = cands[enc.buckets(cands)[:, 0] == bucket]
    assert len(hits), f"no random token fell in bucket {bucket}"
    return hits[0]


def test_empty_document_buckets_take_the_token_nearest_in_hamming_distance() -> None:
    # k_sim 3 (buckets 0..7), no projection, one rep: each bucket's slice is readable
    enc = FdeEncoder(6, FdeConfig(reps=1, k_sim=3, d_proj=0, seed=11))
    a = _token_in_bucket(enc, 0b011, 1)  # bucket 3
    b = _token_in_bucket(enc, 0b100, 2)  # bucket 4
    doc = enc.document(np.stack([a, b])).reshape(8, 6)
    query = enc.query(np.stack([a, b])).reshape(8, 6)
    # plain binary Hamming distances from each bucket to 011 (a) and 100 (b): no ties here
    #   000: 2 vs 1 -> b   001: 1 vs 2 -> a   010: 1 vs 2 -> a   101: 2 vs 1 -> b
    #   110: 2 vs 1 -> b   111: 1 vs 2 -> a   (Gray-decoded indexes would pair them otherwise)
    nearest = {0: b, 1: a, 2: a, 3: a, 4: b, 5: b, 6: b, 7: a}
    for bucket, token in nearest.items():
        np.testing.assert_allclose(doc[bucket], token, err_msg=f"bucket {bucket}")
    # queries never fill: only their own two buckets are non-zero
    assert np.count_nonzero(np.abs(query).sum(axis=1)) == 2
    np.testing.assert_allclose(query[3], a)
    np.testing.assert_allclose(query[4], b)
    no_fill = FdeEncoder(6, FdeConfig(reps=1, k_sim=3, d_proj=0, seed=11, fill_empty=False))
    plain = no_fill.document(np.stack([a, b])).reshape(8, 6)
    assert np.count_nonzero(np.abs(plain).sum(axis=1)) == 2


def test_fill_ties_go_to_the_earlier_token() -> None:
    enc = FdeEncoder(6, FdeConfig(reps=1, k_sim=2, d_proj=0, seed=5))
    a = _token_in_bucket(enc, 0b01, 3)
    b = _token_in_bucket(enc, 0b10, 4)
    # buckets 0 and 3 are at distance 1 from both 01 and 10: the first token wins
    ab = enc.document(np.stack([a, b])).reshape(4, 6)
    ba = enc.document(np.stack([b, a])).reshape(4, 6)
    np.testing.assert_allclose(ab[0], a)
    np.testing.assert_allclose(ab[3], a)
    np.testing.assert_allclose(ba[0], b)
    np.testing.assert_allclose(ba[3], b)


def test_identical_seeds_give_byte_identical_fdes() -> None:
    rng = np.random.default_rng(3)
    toks = rng.standard_normal((40, 24)).astype(np.float32)
    off = np.array([0, 7, 19, 40])
    cfg = FdeConfig(reps=5, k_sim=4, d_proj=8, final_dim=64, seed=9)
    one, two = FdeEncoder(24, cfg), FdeEncoder(24, cfg)
    assert one.documents(toks, off).tobytes() == two.documents(toks, off).tobytes()
    assert one.queries(toks, off).tobytes() == two.queries(toks, off).tobytes()
    other = FdeEncoder(24, FdeConfig(reps=5, k_sim=4, d_proj=8, final_dim=64, seed=10))
    assert one.documents(toks, off).tobytes() != other.documents(toks, off).tobytes()


def test_fde_inner_product_tracks_maxsim() -> None:
    """The point of FDEs: <query FDE, document FDE> ranks documents like MaxSim does."""
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((64, 32)).astype(np.float32)

    def token_set(n: int) -> np.ndarray:
        t = centers[rng.choice(64, n)] + 0.2 * rng.standard_normal((n, 32)).astype(np.float32)
        return t / np.linalg.norm(t, axis=1, keepdims=True)

    docs = [token_set(int(rng.integers(4, 20))) for _ in range(300)]
    enc = FdeEncoder(32, FdeConfig(reps=20, k_sim=4, d_proj=16))
    flat = np.concatenate(docs)
    off = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    fdes = enc.documents(flat, off)
    corr = []
    for _ in range(10):
        q = token_set(8)
        maxsim = np.array([(q @ d.T).max(axis=1).sum() for d in docs])
        corr.append(np.corrcoef(maxsim, fdes @ enc.query(q))[0, 1])
    assert np.mean(corr) > 0.8


def test_final_projection_keeps_inner_products_on_average() -> None:
    rng = np.random.default_rng(1)
    toks = rng.standard_normal((60, 16)).astype(np.float32)
    off = np.arange(0, 61, 6)
    base = FdeEncoder(16, FdeConfig(reps=4, k_sim=2, d_proj=8, seed=3))
    small = FdeEncoder(16, FdeConfig(reps=4, k_sim=2, d_proj=8, seed=3, final_dim=2048))
    exact = base.queries(toks, off) @ base.documents(toks, off).T
    approx = small.queries(toks, off) @ small.documents(toks, off).T
    assert np.corrcoef(exact.ravel(), approx.ravel())[0, 1] > 0.95


def test_empty_token_set_in_a_batch_gets_the_zero_fde() -> None:
    enc = FdeEncoder(4, FdeConfig(reps=2, k_sim=2, d_proj=3))
    toks = np.ones((3, 4), dtype=np.float32)
    out = enc.documents(toks, np.array([0, 3, 3]))
    assert np.any(out[0] != 0) and not np.any(out[1])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"reps": 0}, "reps"), ({"k_sim": 9}, "k_sim"), ({"d_proj": -1}, "d_proj"),
     ({"final_dim": -2}, "final_dim"), ({"seed": -1}, "seed")],
)
def test_bad_config_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        FdeConfig(**kwargs)


@pytest.mark.parametrize(("kwargs", "field"), [({"reps": 2.5}, "reps"), ({"fill_empty": 1}, "fill_empty")])
def test_wrongly_typed_config_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(TypeError, match=field):
        FdeConfig(**kwargs)


def test_bad_inputs_are_rejected() -> None:
    enc = FdeEncoder(4, FdeConfig(reps=2, k_sim=2, d_proj=3))
    with pytest.raises(ValueError, match=r"\(T, 4\)"):
        enc.document(np.ones((3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="finite"):
        enc.query(np.full((2, 4), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="offsets"):
        enc.documents(np.ones((3, 4), dtype=np.float32), np.array([0, 2]))
    with pytest.raises(ValueError, match="dim"):
        FdeEncoder(0)
