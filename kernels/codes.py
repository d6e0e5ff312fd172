"""The byte layout of binary and multi-bit codes, and per-query lookup tables over it.

Every code is a row of uint8 bytes; a collection of n codes is a C-contiguous (n, n_bytes)
uint8 array. The scoring kernels in `binary` never look inside a byte beyond this contract:

* **1-bit codes** (`pack_bits`): dimension `j` is bit `j % 8` (least significant first) of
  byte `j // 8`; n_bytes = ceil(dim / 8); padding bits are 0. Hamming distance is the popcount
  of the XOR of two rows.
* **b-bit codes**, b in 1..8 (`pack_codes`): each dimension holds an integer level in
  [0, 2**b). The row is b *bit-planes* of ceil(dim / 8) bytes each, most significant plane
  first; plane p holds bit (b - 1 - p) of every dimension, laid out like a 1-bit code. So
  n_bytes = b * ceil(dim / 8), and the first plane alone is a valid 1-bit code (level >= 2**(b-1)),
  usable for a Hamming prefilter. b = 1 gives exactly `pack_bits`.
* **Decoding** (`decode_codes`) is affine per dimension: x[j] = offset[j] + scale[j] * level[j]
  (scale and offset scalars or (dim,) arrays). This covers uniform scalar quantization and sign
  binarization (b = 1, scale = 2, offset = -1 gives +-1).
* **Lookup tables** (`build_lut`): a query's table has shape (n_bytes, 256), float32, and
  score(code) = sum over bytes i of lut[i, code[i]] = query . decode(code) (to float32 rounding;
  the constant term sum(query * offset) is folded into row 0). Because a dot product with an
  affine decode is linear in the bits, one table row per byte is exact for any b. Anything that
  is not linear in the bits (squared l2 on multi-bit levels) is served as
  |x|^2 - 2 q.x with a per-code bias (|x|^2 stored by the quantizer) added by the kernel.

* **Per-plane weights** (`decode_planes`, `build_plane_lut`): the general linear decode of b bit
  planes, x[j] = offset[j] + sum over planes p of weight[p, j] * bit_p[j], with one weight row
  per plane. The affine level decode is the case weight[p] = scale * 2**(b - 1 - p); a
  recurrent-residual code (each plane binarizes what the planes before it left over, with its
  own scales s_p: x = mean + sum_p s_p * (2 bit_p - 1)) is weight[p] = 2 s_p, offset =
  mean - sum_p s_p. Still linear in the bits, so one table row per byte stays exact.

A quantizer with a different layout can still use the LUT kernels: they only require that the
score be a sum over bytes of a per-(byte position, byte value) table.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "build_lut",
    "build_plane_lut",
    "code_bytes",
    "decode_codes",
    "decode_planes",
    "pack_bits",
    "pack_codes",
    "sign_bits",
    "unpack_bits",
    "unpack_codes",
]

# _BIT_TABLE[v, s] = bit s of byte value v (least significant first).
_BIT_TABLE = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(np.float64)


def _check_bits(bits: int) -> int:
    if not isinstance(bits, (int, np.integer)) or not 1 <= int(bits) <= 8:
        raise ValueError(f"bits per dimension must be an integer in 1..8, got {bits!r}")
    return int(bits)


def code_bytes(dim: int, bits: int = 1) -> int:
    """Bytes per code for `dim` dimensions at `bits` bits each: bits * ceil(dim / 8)."""
    if dim <= 0:
        raise ValueError(f"dim must be positive, got {dim}")
    return _check_bits(bits) * ((dim + 7) // 8)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """(n, dim) booleans (or 0/1) -> (n, ceil(dim / 8)) uint8 1-bit codes, LSB-first per byte."""
    arr = np.asarray(bits)
    if arr.ndim != 2:
        raise ValueError(f"bits must be a 2-D array (n, dim), got shape {arr.shape}")
    return np.packbits(arr.astype(bool), axis=1, bitorder="little")


def unpack_bits(codes: np.ndarray, dim: int) -> np.ndarray:
    """(n, n_bytes) uint8 1-bit codes -> (n, dim) uint8 of 0/1; the inverse of `pack_bits`."""
    arr = _as_codes(codes)
    if arr.shape[1] * 8 < dim:
        raise ValueError(
            f"{arr.shape[1]} bytes per code hold at most {arr.shape[1] * 8} dims, not {dim}"
        )
    return np.unpackbits(arr, axis=1, count=dim, bitorder="little")


def sign_bits(x: np.ndarray) -> np.ndarray:
    """1-bit codes of the signs of (n, dim) floats: bit set where x > 0."""
    return pack_bits(np.asarray(x) > 0)


def pack_codes(levels: np.ndarray, bits: int) -> np.ndarray:
    """(n, dim) integer levels in [0, 2**bits) -> (n, bits * ceil(dim / 8)) uint8 bit planes."""
    bits = _check_bits(bits)
    arr = np.asarray(levels)
    if arr.ndim != 2:
        raise ValueError(f"levels must be a 2-D array (n, dim), got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"levels must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= (1 << bits)):
        raise ValueError(
            f"levels must lie in [0, {1 << bits}) for {bits} bits; got [{arr.min()}, {arr.max()}]"
        )
    lv = arr.astype(np.uint8)
    planes = [pack_bits((lv >> (bits - 1 - p)) & 1) for p in range(bits)]
    return np.ascontiguousarray(np.concatenate(planes, axis=1))


def unpack_codes(codes: np.ndarray, dim: int, bits: int) -> np.ndarray:
    """(n, n_bytes) bit-plane codes -> (n, dim) uint8 levels; the inverse of `pack_codes`."""
    bits = _check_bits(bits)
    arr = _as_codes(codes)
    plane = (dim + 7) // 8
    if arr.shape[1] != bits * plane:
        raise ValueError(
            f"codes have {arr.shape[1]} bytes but {dim} dims at {bits} bits need {bits * plane}"
        )
    out = np.zeros((arr.shape[0], dim), dtype=np.uint8)
    for p in range(bits):
        out |= unpack_bits(arr[:, p * plane : (p + 1) * plane], dim) << np.uint8(bits - 1 - p)
    return out


def _affine(value: float | np.ndarray, dim: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(dim, float(arr))
    if arr.shape != (dim,):
        raise ValueError(f"{name} must be a scalar or shape ({dim},), got shape {arr.shape}")
    return arr


def decode_codes(
    codes: np.ndarray,
    dim: int,
    bits: int,
    scale: float | np.ndarray = 1.0,
    offset: float | np.ndarray = 0.0,
) -> np.ndarray:
    """(n, dim) float32 vectors offset + scale * level that the codes stand for."""
    levels = unpack_codes(codes, dim, bits).astype(np.float64)
    x = _affine(offset, dim, "offset") + _affine(scale, dim, "scale") * levels
    return x.astype(np.float32)


def build_lut(
    queries: np.ndarray,
    bits: int,
    scale: float | np.ndarray = 1.0,
    offset: float | np.ndarray = 0.0,
) -> np.ndarray:
    """Per-query tables (q, n_bytes, 256) float32: sum_i lut[i, code[i]] = q . decode(code).

    `queries` is (q, dim) (or (dim,), giving q = 1); `bits`, `scale` and `offset` are those the
    codes were made with (see the module docstring). Built in float64, stored as float32.
    """
    bits = _check_bits(bits)
    q = np.asarray(queries, dtype=np.float64)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2:
        raise ValueError(f"queries must be (q, dim) or (dim,), got shape {q.shape}")
    num_q, dim = q.shape
    plane = (dim + 7) // 8
    weighted = np.zeros((num_q, plane * 8))
    weighted[:, :dim] = q * _affine(scale, dim, "scale")
    # per_byte[q, i, v] = sum over bits s of v of weighted[q, 8 i + s]
    per_byte = weighted.reshape(num_q, plane, 8) @ _BIT_TABLE.T
    lut = np.concatenate([per_byte * float(1 << (bits - 1 - p)) for p in range(bits)], axis=1)
    lut[:, 0, :] += (q @ _affine(offset, dim, "offset"))[:, None]
    return lut.astype(np.float32)


def _as_codes(codes: np.ndarray) -> np.ndarray:
    arr = np.asarray(codes)
    if arr.dtype != np.uint8 or arr.ndim != 2:
        raise ValueError(
            f"codes must be a 2-D uint8 array (n, n_bytes), got {arr.dtype} shape {arr.shape}"
        )
    return arr


def _plane_weights(weights: np.ndarray, dim: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != dim or not 1 <= w.shape[0] <= 8:
        raise ValueError(
            f"plane weights must have shape (planes in 1..8, {dim}), got shape {w.shape}"
        )
    return w


def decode_planes(
    codes: np.ndarray, dim: int, weights: np.ndarray, offset: float | np.ndarray = 0.0
) -> np.ndarray:
    """(n, dim) float32 offset + sum_p weights[p] * bit_p of b-plane codes (b = len(weights)).

    The codes are laid out as in `pack_codes` (plane 0 first, ceil(dim / 8) bytes per plane);
    `weights` is (b, dim), `offset` a scalar or (dim,).
    """
    w = _plane_weights(weights, dim)
    arr = _as_codes(codes)
    plane = (dim + 7) // 8
    if arr.shape[1] != w.shape[0] * plane:
        raise ValueError(
            f"codes have {arr.shape[1]} bytes but {w.shape[0]} planes of {dim} dims need "
            f"{w.shape[0] * plane}"
        )
    x = np.broadcast_to(_affine(offset, dim, "offset"), (arr.shape[0], dim)).copy()
    for p in range(w.shape[0]):
        x += unpack_bits(arr[:, p * plane : (p + 1) * plane], dim) * w[p]
    return x.astype(np.float32)


def build_plane_lut(
    queries: np.ndarray, weights: np.ndarray, offset: float | np.ndarray = 0.0
) -> np.ndarray:
    """Per-query tables (q, b * ceil(dim / 8), 256) float32 with
    sum_i lut[i, code[i]] = q . decode_planes(code, dim, weights, offset).

    Built in float64, stored as float32; the constant q . offset is folded into row 0.
    """
    q = np.asarray(queries, dtype=np.float64)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2:
        raise ValueError(f"queries must be (q, dim) or (dim,), got shape {q.shape}")
    num_q, dim = q.shape
    w = _plane_weights(weights, dim)
    plane = (dim + 7) // 8
    tables = []
    for p in range(w.shape[0]):
        weighted = np.zeros((num_q, plane * 8))
        weighted[:, :dim] = q * w[p]
        tables.append(weighted.reshape(num_q, plane, 8) @ _BIT_TABLE.T)
    lut = np.concatenate(tables, axis=1)
    lut[:, 0, :] += (q @ _affine(offset, dim, "offset"))[:, None]
    return lut.astype(np.float32)
