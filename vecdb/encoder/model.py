"""One loaded sentence-transformers model: text in, dense / multi-vector / sparse vectors out.

A dense model (a SentenceTransformer) gives its dense and multi-vector outputs from one forward
pass: the texts are tokenized once by the model's own preprocessing (prompt, truncation to the
model window), the model's modules run once, and the output holds both the per-token embeddings
and the model's own pooled sentence embedding. A sparse model (a SPLADE SparseEncoder) gives term
weights over its vocabulary, of which the heaviest `sparse_top_k` are kept.

torch and sentence-transformers are imported when a model loads, not when this module is
imported. Calls into one model are serialized by a lock: the Rust tokenizer is not safe to
reconfigure from two threads at once, and on a CPU one forward pass already uses every core.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from vecdb.encoder.chunking import char_spans, check_window
from vecdb.encoder.types import Encoded, EncodeKind, ModelInfo, ModelSpec, SparseVector, TextRole
from vecdb.encoder.validation import check_kinds, parse_kinds, parse_role
from vecdb.encoder.weights import resolve_source, state_dict_hash, weights_hash
from vecdb.engine.errors import FailedPrecondition, Internal, InvalidArgument, VecdbError

if TYPE_CHECKING:
    import torch

__all__ = ["EncoderModel", "resolve_device"]

_DENSE_BATCH_TOKENS = 64 * 256
"""Padded tokens per forward pass of a dense model (64 texts of 256 tokens)."""

_SPARSE_LOGIT_BYTES = 256 << 20
"""A SPLADE forward pass holds float32 logits of [texts, tokens, vocabulary]; this caps them."""

_MAX_BATCH_TEXTS = 64


def resolve_device(device: str) -> tuple[str, str]:
    """(torch device, dtype name) for a device setting: "auto" is CUDA in float16 when a GPU is
    present and the CPU in float32 otherwise; "cpu" and "cuda" / "cuda:N" are taken as given."""
    import torch

    if device == "auto":
        return ("cuda", "float16") if torch.cuda.is_available() else ("cpu", "float32")
    if device == "cpu":
        return "cpu", "float32"
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not torch.cuda.is_available():
            raise FailedPrecondition(
                f"device = {device!r}, but torch sees no CUDA GPU; use 'auto' or 'cpu'"
            )
        return device, "float16"
    raise InvalidArgument(f"device = {device!r}; use 'auto', 'cpu' or 'cuda'")


def _set_offline() -> None:
    """Nothing is downloaded at run time, and no progress bars go to the server's stderr: the
    Hub libraries read these when first imported (a value already set is left alone)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class EncoderModel:
    """A loaded model. Build one with `EncoderModel.load(spec)`; a registry shares it."""

    def __init__(self, spec: ModelSpec, st_model: Any, *, weights_hash: str, device: str, dtype: str) -> None:
        import torch

        self.spec = spec
        self._st = st_model
        self._device = torch.device(device)
        self._lock = threading.Lock()
        self._tokenizer = st_model.tokenizer
        if self._tokenizer is None:
            raise FailedPrecondition(f"model {spec.name!r} has no text tokenizer; vecdb encodes text only")
        self.query_prompt = self._own_prompt(TextRole.QUERY) if spec.query_prompt is None else spec.query_prompt
        self.document_prompt = (
            self._own_prompt(TextRole.DOCUMENT) if spec.document_prompt is None else spec.document_prompt
        )
        special = set(self._tokenizer.all_special_ids)
        special.discard(self._tokenizer.unk_token_id)  # an unknown word is still a word of the text
        self._special_ids = torch.tensor(sorted(special), dtype=torch.long, device=self._device)
        max_tokens = int(st_model.max_seq_length or self._tokenizer.model_max_length)
        self._max_tokens = max_tokens
        kinds = spec.kinds
        dim, token_dim = self._probe_dims()
        if spec.kind == "dense" and token_dim != dim:
            # Token vectors in another space than the pooled one (a Dense head after pooling):
            # they are not this model's vectors, so it offers no multi-vector output.
            kinds = (EncodeKind.DENSE,)
        self._info = ModelInfo(spec.name, weights_hash, dim, max_tokens, kinds, self._device.type, dtype)
        # A SPLADE pass holds [texts, tokens, vocabulary] logits: fewer tokens per pass.
        self._token_budget = (
            max(max_tokens, _SPARSE_LOGIT_BYTES // (4 * dim)) if spec.kind == "sparse" else _DENSE_BATCH_TOKENS
        )
        n_special = int(self._tokenizer.num_special_tokens_to_add(pair=False))
        n_prompt = len(self._tokenizer(self.document_prompt, add_special_tokens=False)["input_ids"]) \
            if self.document_prompt else 0
        self._chunk_window = max(1, max_tokens - n_special - n_prompt)

    @classmethod
    def load(cls, spec: ModelSpec, *, device: str = "auto") -> EncoderModel:
        """Load a model offline (a folder, a cached model id, or "minilm") on `device`.

        A source that cannot be loaded without downloading is a FailedPrecondition."""
        _set_offline()
        torch_device, dtype = resolve_device(device)
        from sentence_transformers import SentenceTransformer, SparseEncoder

        folder = resolve_source(spec.source)
        model_cls = SparseEncoder if spec.kind == "sparse" else SentenceTransformer
        try:
            st_model = model_cls(folder, device=torch_device, local_files_only=True)
        except Exception as exc:
            raise FailedPrecondition(
                f"model {spec.name!r} could not be loaded from {spec.source!r} as a {spec.kind} model "
                f"(offline: nothing is downloaded; give a model folder or a model id already in the "
                f"local Hugging Face cache): {type(exc).__name__}: {exc}"
            ) from exc
        if dtype == "float16":
            st_model.half()
        st_model.eval()
        digest = weights_hash(folder) if os.path.isdir(folder) else None
        if digest is None:
            digest = state_dict_hash(st_model)
        try:
            return cls(spec, st_model, weights_hash=digest, device=torch_device, dtype=dtype)
        except VecdbError:
            raise
        except Exception as exc:  # loaded, but not a text transformer this encoder can drive
            raise FailedPrecondition(
                f"model {spec.name!r} from {spec.source!r} loaded, but vecdb cannot encode text with it "
                f"(it needs a transformer-based sentence-transformers model): {type(exc).__name__}: {exc}"
            ) from exc

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sentence_transformer(self) -> Any:
        """The underlying SentenceTransformer / SparseEncoder (for tests and diagnostics)."""
        return self._st

    def prompt(self, role: TextRole) -> str:
        """The prefix put before texts of this role ("" for none)."""
        return (self.query_prompt if role == TextRole.QUERY else self.document_prompt) or ""

    def __repr__(self) -> str:
        i = self._info
        return f"EncoderModel({i.name!r}, hash={i.hash}, dim={i.dim}, device={i.device}, dtype={i.dtype})"

    # -- encoding ---------------------------------------------------------------------------------

    def encode(
        self,
        texts: Sequence[str],
        kinds: Iterable[EncodeKind | str],
        role: TextRole | str = TextRole.DOCUMENT,
    ) -> list[Encoded]:
        """Encode texts, one `Encoded` per text in order, holding the kinds asked for.

        Blocking (torch): call it from an executor thread, never from the event loop. Texts are
        taken as given; validate them against the limits first (`ModelRegistry.validate_texts`).
        """
        asked = parse_kinds(kinds)
        check_kinds(self._info.name, self._info.kinds, asked)
        return self._encode(list(texts), asked, parse_role(role))

    def _probe_dims(self) -> tuple[int, int]:
        """(pooled dim, token dim) measured on one forward pass, which also warms the model up.
        A SPLADE model's pooled dim is its vocabulary size."""
        import torch

        with self._lock, torch.inference_mode():
            features = self._st.preprocess(["vecdb"], prompt=None)
            features = {k: v.to(self._device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
            out = self._st(features)
        return int(out["sentence_embedding"].shape[-1]), int(out["token_embeddings"].shape[-1])

    def _encode(self, texts: list[str], kinds: frozenset[EncodeKind], role: TextRole) -> list[Encoded]:
        if not texts:
            return []
        import torch

        prompt = self.prompt(role) or None
        results: list[Encoded | None] = [None] * len(texts)
        with self._lock, torch.inference_mode():
            full = self._count_tokens(texts, prompt)
            window = self._window(role)
            used = [min(n, window) for n in full]
            for idx in self._sub_batches(used):
                encoded = self._forward([texts[i] for i in idx], [full[i] for i in idx], kinds, role, prompt)
                for i, e in zip(idx, encoded):
                    results[i] = e
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def _forward(self, texts: list[str], full: list[int], kinds: frozenset[EncodeKind], role: TextRole,
                 prompt: str | None) -> list[Encoded]:
        import torch
        import torch.nn.functional as F

        features = self._st.preprocess(
            texts, prompt=prompt, task=role.value,
            processing_kwargs={"text": {"return_special_tokens_mask": True}},
        )
        special = features.pop("special_tokens_mask", None)
        features = {k: v.to(self._device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
        out = self._st(features, task=role.value)
        if "attention_mask" not in out or "input_ids" not in out:
            raise Internal(f"model {self.name!r}: its forward pass gave no attention mask to read tokens from")
        attention = out["attention_mask"].bool()
        if special is not None and special.shape == attention.shape:
            content = attention & ~special.to(self._device).bool()
        else:
            content = attention & ~torch.isin(out["input_ids"], self._special_ids)
        n_used = attention.sum(dim=1).tolist()
        n_content = content.sum(dim=1).tolist()
        truncated = [f > u for f, u in zip(full, n_used)]

        dense: list[np.ndarray | None] = [None] * len(texts)
        multi: list[np.ndarray | None] = [None] * len(texts)
        sparse: list[SparseVector | None] = [None] * len(texts)
        if EncodeKind.DENSE in kinds:
            pooled = F.normalize(out["sentence_embedding"].float(), p=2, dim=-1).cpu().numpy()
            dense = list(pooled)
        if EncodeKind.MULTI in kinds:
            tokens = F.normalize(out["token_embeddings"].float(), p=2, dim=-1).cpu()
            mask = content.cpu()
            multi = [tokens[i][mask[i]].numpy() for i in range(len(texts))]
        if EncodeKind.SPARSE in kinds:
            sparse = self._top_terms(out["sentence_embedding"].float())
        return [
            Encoded(dense=dense[i], multi=multi[i], sparse=sparse[i], truncated=truncated[i],
                    n_tokens=int(n_content[i]))
            for i in range(len(texts))
        ]

    def _top_terms(self, weights: torch.Tensor) -> list[SparseVector | None]:
        import torch

        k = min(self.spec.sparse_top_k, int(weights.shape[-1]))
        top = torch.topk(weights, k, dim=-1)
        values, indices = top.values.cpu().numpy(), top.indices.cpu().numpy()
        out: list[SparseVector | None] = []
        for vals, ids in zip(values, indices):
            keep = vals > 0
            ids, vals = ids[keep], vals[keep]
            order = np.argsort(ids, kind="stable")
            out.append(SparseVector(ids[order].astype(np.uint32), vals[order].astype(np.float32)))
        return out

    def _sub_batches(self, lengths: list[int]) -> Iterator[list[int]]:
        """Index groups for forward passes: longest first, so each pass pads little, and each
        pass within the token budget (at least one text per pass)."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batch: list[int] = []
        for i in order:
            if batch and (len(batch) >= _MAX_BATCH_TEXTS
                          or (len(batch) + 1) * lengths[batch[0]] > self._token_budget):
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

    def _window(self, role: TextRole) -> int:
        """Tokens per text the model's preprocessing keeps (its per-task length, if it has one)."""
        first = self._st[0]
        per_task = getattr(first, f"{role.value}_length", None)
        return int(per_task or self._max_tokens)

    def _count_tokens(self, texts: list[str], prompt: str | None) -> list[int]:
        """Tokens of each text with its prompt and special tokens, without truncation."""
        inputs = [prompt + t for t in texts] if prompt else texts
        enc = self._tokenizer(
            inputs, add_special_tokens=True, truncation=False, padding=False, verbose=False,
            return_attention_mask=False, return_token_type_ids=False,
        )
        return [len(ids) for ids in enc["input_ids"]]

    def _own_prompt(self, role: TextRole) -> str | None:
        prompts = getattr(self._st, "prompts", None) or {}
        return prompts.get(role.value) or None

    # -- chunking ---------------------------------------------------------------------------------

    @property
    def chunk_window(self) -> int:
        """The most content tokens one document chunk can hold without truncation."""
        return self._chunk_window

    def chunk_spans(self, text: str, window_tokens: int, overlap_tokens: int) -> list[tuple[int, int]]:
        """Character [start, end) spans of overlapping windows of `window_tokens` tokens, each
        sharing `overlap_tokens` with the previous one; together they cover the text."""
        check_window(window_tokens, overlap_tokens, self._chunk_window)
        if not isinstance(text, str):
            raise InvalidArgument(f"text is {type(text).__name__}, not str")
        with self._lock:
            enc = self._tokenizer(text, add_special_tokens=False, truncation=False, verbose=False,
                                  return_offsets_mapping=True)
        offsets = [(int(a), int(b)) for a, b in enc["offset_mapping"]]
        word_starts: list[int] | None = None
        try:
            words = enc.word_ids()
        except (AttributeError, ValueError):  # a tokenizer that does not report words
            words = None
        if words is not None:
            word_starts = [i for i, w in enumerate(words) if i == 0 or w is None or w != words[i - 1]]
        return char_spans(offsets, len(text), window_tokens, overlap_tokens, word_starts)

    def chunk(self, text: str, window_tokens: int, overlap_tokens: int) -> list[str]:
        """The text split into overlapping windows of tokens, each a slice of the original text:
        for the chunking mode, where a long document becomes several points."""
        return [text[a:b] for a, b in self.chunk_spans(text, window_tokens, overlap_tokens)]
