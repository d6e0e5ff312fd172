"""Scoring kernels behind one dispatcher: reference, CPU fast path and Triton (GPU) per family.

Families and their entry points (each takes `device="cpu" | "cuda" | "auto"`):

* dense (`dense`): `dense_topk`, `dense_rescore`, `dense_rescore_topk`; float32 or float16
  storage; cosine / dot / l2 (`Metric`).
* binary and multi-bit codes (`codes` for the layout, `binary` for scoring):
  `hamming_distances`, `hamming_topk`, `lut_scores`, `lut_topk`.
* multi-vector (`maxsim`): `maxsim_scores`, `maxsim_topk` over offsets + flat tokens.

Each operation has one `KernelRegistry` (device -> implementation, loaded lazily) and
`resolve_device` turns the server's `device` setting into "cpu" or "cuda". Importing this
package imports numpy only: torch and triton load with the first "cuda" kernel, and the package
works without triton installed. The reference building blocks (`scores`, `topk`, `normalize`)
stay exported for callers that need a full score matrix or merge partial results themselves.
"""

from __future__ import annotations

from vecdb.kernels.binary import (
    HAMMING_DISTANCE_BACKENDS,
    HAMMING_TOPK_BACKENDS,
    LUT_SCORE_BACKENDS,
    LUT_TOPK_BACKENDS,
    hamming_distances,
    hamming_topk,
    lut_scores,
    lut_topk,
)
from vecdb.kernels.codes import (
    build_lut,
    code_bytes,
    decode_codes,
    pack_bits,
    pack_codes,
    sign_bits,
    unpack_bits,
    unpack_codes,
)
from vecdb.kernels.dense import (
    DENSE_RESCORE_BACKENDS,
    DENSE_TOPK_BACKENDS,
    DenseRescore,
    DenseTopK,
    dense_rescore,
    dense_rescore_topk,
    dense_topk,
    normalize,
    scores,
    topk,
)
from vecdb.kernels.dispatch import (
    DEVICES,
    DeviceUnavailableError,
    KernelRegistry,
    cuda_available,
    resolve_device,
    triton_available,
)
from vecdb.kernels.maxsim import MAXSIM_BACKENDS, maxsim_scores, maxsim_topk
from vecdb.kernels.metrics import Metric

__all__ = [
    "DENSE_RESCORE_BACKENDS",
    "DENSE_TOPK_BACKENDS",
    "DEVICES",
    "HAMMING_DISTANCE_BACKENDS",
    "HAMMING_TOPK_BACKENDS",
    "LUT_SCORE_BACKENDS",
    "LUT_TOPK_BACKENDS",
    "MAXSIM_BACKENDS",
    "DenseRescore",
    "DenseTopK",
    "DeviceUnavailableError",
    "KernelRegistry",
    "Metric",
    "build_lut",
    "code_bytes",
    "cuda_available",
    "decode_codes",
    "dense_rescore",
    "dense_rescore_topk",
    "dense_topk",
    "hamming_distances",
    "hamming_topk",
    "lut_scores",
    "lut_topk",
    "maxsim_scores",
    "maxsim_topk",
    "normalize",
    "pack_bits",
    "pack_codes",
    "resolve_device",
    "scores",
    "sign_bits",
    "topk",
    "triton_available",
    "unpack_bits",
    "unpack_codes",
]
