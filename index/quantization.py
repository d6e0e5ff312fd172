"""Codebooks that turn float32 vectors into compact codes and score queries against them.

A `Codebook` is trained once on a sample of the collection (`fit`) and then encodes every vector
into a row of uint8 bytes; the float32 originals are not kept (the engine keeps them on disk for
a final exact rescoring). Three kinds, chosen by `QuantizerConfig`:

* **binary, threshold** (bits b in 1..4): every dimension is centred on the collection mean
  (stored with the codebook: anisotropic embeddings such as MiniLM lose most of their recall
  without it) and cut by a uniform mid-rise quantizer into 2**b levels whose step is fitted per
  dimension (the step of least squared error over a grid of multiples of the dimension's
  standard deviation). Decoding is affine per dimension: mean + (level - (2**b - 1) / 2) * step.
* **binary, recurrent_residual** (BEBR-style recurrent binarization): plane 0 is the sign of the
  centred vector; every next plane is the sign of the residual the previous planes left over,
  each plane with its own per-dimension scale (the least-squares one, mean |residual|).
  Decoding: mean + sum_p s_p * (2 bit_p - 1). At 1 bit it equals threshold codes.
* **int8**: per-dimension scalar quantization to 256 levels between clipping quantiles.

Binary codes may add a small learned transform (`transform="itq"`): an orthogonal rotation of
the centred vectors trained on the collection's own vectors by iterative quantization (ITQ:
alternate sign codes and the orthogonal Procrustes fit, CPU seconds), so that the sign planes
lose less. Codes are then made in the rotated space and decoded back through the rotation,
which keeps the decode linear in the bits (query tables use the rotated query). Measured in
docs/benchmarks.md: it helps low-dimensional GloVe, not MiniLM, so it is off by default.

Binary codes use the bit-plane layout of `vecdb.kernels.codes` (plane 0 first). In both binary
kinds plane 0 is the sign of the centred vector, so its first ceil(dim / 8) bytes are a 1-bit
code for Hamming prefilters and binary graphs (`sign_plane`; int8 derives it from its levels).

Every decode is linear in the bits, so scoring is exact through per-query lookup tables over
code bytes (`query_luts`, `vecdb.kernels.build_plane_lut`): sum_i lut[i, code[i]] equals
query . decode(code) to float32 rounding. Asymmetric scoring uses the float query; symmetric
scoring (the SDC of BEBR) codes the query too and scores decode(code(query)) . decode(code).
int8 is scored asymmetrically by a blocked float32 matmul over the codes (`int8_scores`).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vecdb.kernels.codes import (
    build_plane_lut,
    code_bytes,
    decode_planes,
    pack_bits,
    pack_codes,
)

__all__ = ["BINARY_METHODS", "METHODS", "TRANSFORMS", "Codebook", "QuantizerConfig"]

METHODS = ("binary", "int8")
"""Quantization kinds: binary codes of 1..4 bits per dimension, or int8 scalar quantization."""

BINARY_METHODS = ("threshold", "recurrent_residual")
"""How binary codes of more than one bit are made (see the module docstring)."""

TRANSFORMS = ("none", "itq")
"""Learned transforms of binary codes: none, or an ITQ rotation (see the module docstring)."""

_ITQ_ROWS = 10_000
_ITQ_ITERATIONS = 30

_FIT_ROWS = 20_000
"""Rows of the training sample used to fit per-dimension steps (the mean uses every row)."""

# Grid of steps, in units of the dimension's standard deviation, searched for the uniform
# quantizer of least squared error; spans the Gaussian optimum of every b in 1..4 (about 1.6,
# 1.0, 0.59 and 0.34 sigma).
_STEP_GRID = np.geomspace(0.2, 2.4, 28)

_ENCODE_ROWS = 65_536
"""Rows encoded per block (bounds the float64 scratch of the encoders)."""

_INT8_BLOCK_ROWS = 16_384
"""Code rows converted to float32 per block of the int8 matmul scan (6 MiB at 384-d)."""


@dataclass(frozen=True)
class QuantizerConfig:
    """What a quantized field stores per vector.

    method: "binary" (bits bits per dimension) or "int8" (one byte per dimension).
    bits: 1..4, bits per dimension of binary codes (ignored for int8, which is 8).
    binary_method: "threshold" (centred uniform levels) or "recurrent_residual" (BEBR-style
        sign planes of successive residuals with per-plane scales); identical at 1 bit.
    clip_quantile: int8 clips each dimension to its [q, 1 - q] quantiles before cutting it into
        256 levels (0 means min/max); outliers would otherwise stretch the step of every level.
    transform: "none" or "itq" (binary only): a learned orthogonal rotation applied before
        binarizing (see the module docstring).
    """

    method: str = "binary"
    bits: int = 1
    binary_method: str = "threshold"
    clip_quantile: float = 0.0005
    transform: str = "none"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(
                f"quantization method must be one of {list(METHODS)}, got {self.method!r}"
            )
        if isinstance(self.bits, bool) or not isinstance(self.bits, (int, np.integer)):
            raise TypeError(f"bits must be an integer in 1..4, got {self.bits!r}")
        if self.method == "binary" and not 1 <= int(self.bits) <= 4:
            raise ValueError(f"binary quantization takes bits in 1..4, got {self.bits}")
        if self.binary_method not in BINARY_METHODS:
            raise ValueError(
                f"binary_method must be one of {list(BINARY_METHODS)}, got {self.binary_method!r}"
            )
        if not 0.0 <= float(self.clip_quantile) < 0.5:
            raise ValueError(f"clip_quantile must lie in [0, 0.5), got {self.clip_quantile}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {list(TRANSFORMS)}, got {self.transform!r}")
        if self.transform != "none" and self.method != "binary":
            raise ValueError(f"transform {self.transform!r} applies to binary codes, not {self.method}")

    @property
    def code_bits(self) -> int:
        """Bits per dimension of the stored code (8 for int8)."""
        return 8 if self.method == "int8" else int(self.bits)

    @property
    def label(self) -> str:
        """Short name, e.g. "binary-2-threshold" or "int8"."""
        if self.method == "int8":
            return "int8"
        suffix = "" if self.transform == "none" else f"-{self.transform}"
        return f"binary-{self.bits}-{self.binary_method}{suffix}"


class Codebook:
    """Trained encode / decode / scoring parameters of one quantized field.

    Binary codebooks hold `weights` (bits, dim) and `offset` (dim,) of the linear decode
    offset + sum_p weights[p] * bit_p; int8 codebooks hold `offset` (dim,) and `step` (dim,) of
    offset + step * level. Both keep the collection `mean` used for centring.
    """

    def __init__(self, config: QuantizerConfig, dim: int) -> None:
        if not isinstance(config, QuantizerConfig):
            raise TypeError(f"Codebook takes a QuantizerConfig, got {type(config).__name__}")
        if int(dim) < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.config = config
        self.dim = int(dim)
        self.mean: np.ndarray | None = None
        self.offset: np.ndarray | None = None
        self.weights: np.ndarray | None = None  # binary: (bits, dim)
        self.step: np.ndarray | None = None  # int8 and threshold: (dim,)
        self.rotation: np.ndarray | None = None  # transform="itq": (dim, dim), z = x_c @ R
        self.trained_on = 0

    # -- shape -------------------------------------------------------------------------------

    @property
    def is_fitted(self) -> bool:
        return self.mean is not None

    @property
    def nbytes(self) -> int:
        """Bytes per code: bits * ceil(dim / 8) for binary, dim for int8."""
        if self.config.method == "int8":
            return self.dim
        return code_bytes(self.dim, self.config.bits)

    @property
    def plane_bytes(self) -> int:
        """Bytes of one bit plane (and of `sign_plane` codes): ceil(dim / 8)."""
        return (self.dim + 7) // 8

    # -- training ----------------------------------------------------------------------------

    def fit(self, sample: np.ndarray) -> Codebook:
        """Train on `sample` (n, dim) float32 (n >= 1); returns self. Refitting replaces all."""
        x = _as_matrix(sample, self.dim, "sample")
        if x.shape[0] == 0:
            raise ValueError("cannot fit a codebook on an empty sample; pass at least one vector")
        mean = x.mean(axis=0, dtype=np.float64)
        rng = np.random.default_rng(0)
        sub = x if x.shape[0] <= _FIT_ROWS else x[np.sort(rng.choice(x.shape[0], _FIT_ROWS, False))]
        centred = sub.astype(np.float64) - mean
        base = mean
        self.rotation = None
        if self.config.transform == "itq":
            self.rotation = _itq_rotation(centred)
            centred = centred @ self.rotation
            base = np.zeros(self.dim)  # offsets live in the rotated, centred space
        if self.config.method == "int8":
            self._fit_int8(sub.astype(np.float64))
        elif self.config.binary_method == "recurrent_residual":
            self._fit_recurrent(centred, base)
        else:
            self._fit_threshold(centred, base)
        self.mean = mean
        self.trained_on = int(x.shape[0])
        return self

    def _fit_threshold(self, centred: np.ndarray, mean: np.ndarray) -> None:
        levels = 1 << self.config.bits
        sigma = centred.std(axis=0)
        sigma = np.where(sigma > 0, sigma, 1.0)
        best_err = np.full(self.dim, np.inf)
        best_step = sigma * _STEP_GRID[0]
        for mult in _STEP_GRID:
            step = sigma * mult
            lv = np.clip(np.floor(centred / step + levels / 2), 0, levels - 1)
            err = ((centred - (lv - (levels - 1) / 2) * step) ** 2).sum(axis=0)
            better = err < best_err
            best_err = np.where(better, err, best_err)
            best_step = np.where(better, step, best_step)
        bits = self.config.bits
        self.step = best_step
        self.offset = mean - (levels - 1) / 2 * best_step
        self.weights = np.stack([best_step * (1 << (bits - 1 - p)) for p in range(bits)])

    def _fit_recurrent(self, centred: np.ndarray, mean: np.ndarray) -> None:
        residual = centred.copy()
        scales = []
        for _ in range(self.config.bits):
            s = np.abs(residual).mean(axis=0)
            s = np.where(s > 0, s, 1e-12)
            residual -= np.where(residual > 0, s, -s)
            scales.append(s)
        s_all = np.stack(scales)
        self.step = None
        self.weights = 2.0 * s_all
        self.offset = mean - s_all.sum(axis=0)

    def _fit_int8(self, x: np.ndarray) -> None:
        q = float(self.config.clip_quantile)
        if q > 0 and x.shape[0] > 1:
            lo, hi = np.quantile(x, [q, 1.0 - q], axis=0)
        else:
            lo, hi = x.min(axis=0), x.max(axis=0)
        span = hi - lo
        self.step = np.where(span > 0, span / 255.0, 1.0)
        self.offset = lo
        self.weights = None

    # -- codes -------------------------------------------------------------------------------

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError("the codebook is not trained yet; call fit(sample) first")

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        """(n, dim) float -> (n, nbytes) uint8 codes."""
        self._require_fitted()
        x = _as_matrix(vectors, self.dim, "vectors")
        out = np.empty((x.shape[0], self.nbytes), dtype=np.uint8)
        for start in range(0, x.shape[0], _ENCODE_ROWS):
            block = x[start : start + _ENCODE_ROWS].astype(np.float64)
            out[start : start + block.shape[0]] = self._encode_block(block)
        return out

    def _encode_block(self, x: np.ndarray) -> np.ndarray:
        assert self.mean is not None and self.offset is not None
        if self.config.method == "int8":
            assert self.step is not None
            return np.clip(np.rint((x - self.offset) / self.step), 0, 255).astype(np.uint8)
        centred = x - self.mean
        if self.rotation is not None:
            centred = centred @ self.rotation
        bits = self.config.bits
        if self.config.binary_method == "threshold":
            assert self.step is not None
            levels = 1 << bits
            lv = np.clip(np.floor(centred / self.step + levels / 2), 0, levels - 1)
            return pack_codes(lv.astype(np.uint8), bits)
        assert self.weights is not None
        planes = []
        residual = centred
        for p in range(bits):
            s = self.weights[p] / 2.0
            positive = residual > 0
            planes.append(pack_bits(positive))
            residual = residual - np.where(positive, s, -s)
        return np.ascontiguousarray(np.concatenate(planes, axis=1))

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(n, nbytes) uint8 codes -> (n, dim) float32 reconstructions."""
        self._require_fitted()
        c = self._as_codes(codes)
        assert self.offset is not None
        if self.config.method == "int8":
            assert self.step is not None
            return (self.offset + self.step * c.astype(np.float64)).astype(np.float32)
        assert self.weights is not None
        if self.rotation is None:
            return decode_planes(c, self.dim, self.weights, self.offset)
        assert self.mean is not None
        z = decode_planes(c, self.dim, self.weights, self.offset).astype(np.float64)
        return (self.mean + z @ self.rotation.T).astype(np.float32)

    def sign_plane(self, codes: np.ndarray) -> np.ndarray:
        """(n, ceil(dim / 8)) uint8 1-bit codes of sign(x - mean), for Hamming candidates."""
        self._require_fitted()
        c = self._as_codes(codes)
        if self.config.method == "binary":
            return np.ascontiguousarray(c[:, : self.plane_bytes])
        assert self.mean is not None and self.offset is not None and self.step is not None
        return pack_bits(self.offset + self.step * c > self.mean)

    def query_signs(self, queries: np.ndarray) -> np.ndarray:
        """(q, ceil(dim / 8)) uint8 sign codes of centred queries (the Hamming query side)."""
        self._require_fitted()
        assert self.mean is not None
        q = _as_matrix(queries, self.dim, "queries")
        if self.rotation is not None:
            return pack_bits((q - self.mean) @ self.rotation > 0)
        return pack_bits(q > self.mean)

    def sq_norms(self, codes: np.ndarray) -> np.ndarray:
        """(n,) float32 |decode(code)|^2 (the per-code bias of l2 scoring)."""
        x = self.decode(codes).astype(np.float64)
        return np.einsum("ij,ij->i", x, x).astype(np.float32)

    # -- scoring -----------------------------------------------------------------------------

    def query_luts(self, queries: np.ndarray, symmetric: bool = False) -> np.ndarray:
        """Per-query tables (q, nbytes, 256) float32: sum_i lut[i, code[i]] = q' . decode(code).

        q' is the query itself (asymmetric) or decode(encode(query)) (`symmetric`, the SDC of
        BEBR). For int8 each byte is one dimension, so row j is q_j * (offset_j + step_j * v).
        """
        self._require_fitted()
        q = _as_matrix(queries, self.dim, "queries").astype(np.float64)
        if symmetric:
            q = self.decode(self.encode(q)).astype(np.float64)
        assert self.offset is not None
        if self.config.method == "int8":
            assert self.step is not None
            values = self.offset[:, None] + self.step[:, None] * np.arange(256.0)[None, :]
            return (q[:, :, None] * values[None, :, :]).astype(np.float32)
        assert self.weights is not None
        if self.rotation is None:
            return build_plane_lut(q, self.weights, self.offset)
        # q . (mean + z R^T) = q . mean + (q R) . z
        assert self.mean is not None
        lut = build_plane_lut(q @ self.rotation, self.weights, self.offset).astype(np.float64)
        lut[:, 0, :] += (q @ self.mean)[:, None]
        return lut.astype(np.float32)

    def int8_scores(self, queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """(q, n) float32 query . decode(code) for int8 codes by blocked float32 matmul."""
        if self.config.method != "int8":
            raise ValueError("int8_scores is for int8 codebooks; binary codes are scored by LUT")
        self._require_fitted()
        assert self.offset is not None and self.step is not None
        q = _as_matrix(queries, self.dim, "queries").astype(np.float64)
        weighted = (q * self.step).astype(np.float32)
        const = (q @ self.offset).astype(np.float32)
        c = self._as_codes(codes)
        out = np.empty((q.shape[0], c.shape[0]), dtype=np.float32)
        for start in range(0, c.shape[0], _INT8_BLOCK_ROWS):
            block = c[start : start + _INT8_BLOCK_ROWS].astype(np.float32)
            np.matmul(weighted, block.T, out=out[:, start : start + block.shape[0]])
        out += const[:, None]
        return out

    # -- persistence -------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild this codebook, as named numpy arrays (np.savez-ready)."""
        self._require_fitted()
        meta = {"config": asdict(self.config), "dim": self.dim, "trained_on": self.trained_on}
        out: dict[str, np.ndarray] = {
            "codebook_meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        }
        for name in ("mean", "offset", "weights", "step", "rotation"):
            value = getattr(self, name)
            if value is not None:
                out[f"codebook_{name}"] = np.asarray(value, dtype=np.float64)
        return out

    @classmethod
    def from_arrays(cls, arrays: Any) -> Codebook:
        """Rebuild a codebook written by `to_arrays`; ValueError when the arrays do not fit."""
        try:
            meta = json.loads(bytes(np.asarray(arrays["codebook_meta"], dtype=np.uint8)))
            book = cls(QuantizerConfig(**meta["config"]), int(meta["dim"]))
            book.trained_on = int(meta["trained_on"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"codebook metadata is unreadable ({exc})") from exc
        dim, bits = book.dim, book.config.bits
        shapes: dict[str, tuple[int, ...]] = {"mean": (dim,), "offset": (dim,)}
        if book.config.method == "int8":
            shapes["step"] = (dim,)
        else:
            shapes["weights"] = (bits, dim)
            if book.config.binary_method == "threshold":
                shapes["step"] = (dim,)
            if book.config.transform == "itq":
                shapes["rotation"] = (dim, dim)
        for name, shape in shapes.items():
            key = f"codebook_{name}"
            if key not in arrays:
                raise ValueError(f"codebook array {name!r} is missing")
            value = np.asarray(arrays[key], dtype=np.float64)
            if value.shape != shape or not np.isfinite(value).all():
                raise ValueError(f"codebook array {name!r} has shape {value.shape}, want {shape}")
            setattr(book, name, value)
        return book

    def to_bytes(self) -> bytes:
        """The codebook as one .npz blob (see `to_arrays`)."""
        buf = io.BytesIO()
        np.savez(buf, **self.to_arrays())
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Codebook:
        """Inverse of `to_bytes`."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            return cls.from_arrays(dict(arrays))

    def info(self) -> dict[str, Any]:
        """method, bits, binary_method, trained_on and bytes per code, for admin stats."""
        return {
            "method": self.config.method,
            "bits": self.config.code_bits,
            "binary_method": self.config.binary_method if self.config.method == "binary" else None,
            "transform": self.config.transform,
            "trained_on": self.trained_on,
            "bytes_per_code": self.nbytes,
        }

    def _as_codes(self, codes: np.ndarray) -> np.ndarray:
        c = np.asarray(codes)
        if c.dtype != np.uint8 or c.ndim != 2 or c.shape[1] != self.nbytes:
            raise ValueError(
                f"codes must be (n, {self.nbytes}) uint8 for {self.config.label} at dim "
                f"{self.dim}, got {c.dtype} shape {c.shape}"
            )
        return c


def _itq_rotation(centred: np.ndarray, seed: int = 0) -> np.ndarray:
    """ITQ (Gong & Lazebnik): the orthogonal R minimizing |sign(X R) - X R|^2 on a sample, by
    alternating the sign codes and an orthogonal Procrustes fit, from a random rotation."""
    rng = np.random.default_rng(seed)
    sample = centred
    if sample.shape[0] > _ITQ_ROWS:
        sample = sample[np.sort(rng.choice(sample.shape[0], _ITQ_ROWS, replace=False))]
    rotation, _ = np.linalg.qr(rng.standard_normal((centred.shape[1], centred.shape[1])))
    for _ in range(_ITQ_ITERATIONS):
        signs = np.where(sample @ rotation > 0, 1.0, -1.0)
        u, _, vt = np.linalg.svd(sample.T @ signs)
        rotation = u @ vt
    return rotation


def _as_matrix(x: np.ndarray, dim: int, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"{name} must have shape (n, {dim}), got {arr.shape}")
    return arr

