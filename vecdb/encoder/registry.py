"""The models a server knows, by name, each loaded once on first use and shared by every caller.

"minilm" (the packaged all-MiniLM-L6-v2) is always known, so a server with no configuration
encodes offline out of the box. Loading is blocking torch work: call `get` / `load_all` from an
executor thread, not from the event loop (`MicroBatcher` does).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vecdb.encoder.model import EncoderModel
from vecdb.encoder.types import MINILM, EncodeKind, EncoderLimits, ModelInfo, ModelSpec
from vecdb.encoder.validation import check_kinds, validate_texts
from vecdb.engine.errors import InvalidArgument, NotFound

__all__ = ["ModelLoader", "ModelRegistry"]

ModelLoader = Callable[[ModelSpec, str], EncoderModel]
"""(spec, device) -> a loaded model; the default is `EncoderModel.load`."""

_DEVICES = ("auto", "cpu", "cuda")
_DEFAULT_LIMITS = EncoderLimits()


def _default_loader(spec: ModelSpec, device: str) -> EncoderModel:
    return EncoderModel.load(spec, device=device)


class ModelRegistry:
    """Configured models by name; `get` loads on first use (once, even when threads race).

    specs: the configured models ("minilm" is added unless a spec takes that name). default: the
    model of requests that name none. device: "auto" (CUDA in float16 when present, else the CPU),
    "cpu" or "cuda". limits: what one encode call may carry. loader: how a spec becomes a model
    (tests pass a fake; the server keeps the default).
    """

    def __init__(
        self,
        specs: Sequence[ModelSpec] | None = None,
        *,
        default: str = MINILM,
        device: str = "auto",
        limits: EncoderLimits = _DEFAULT_LIMITS,
        loader: ModelLoader | None = None,
    ) -> None:
        if device not in _DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
            raise InvalidArgument(f"device = {device!r}; use one of {list(_DEVICES)}")
        self._specs: dict[str, ModelSpec] = {MINILM: ModelSpec(MINILM, MINILM)}
        seen: set[str] = set()
        for spec in specs or ():
            if spec.name in seen:
                raise InvalidArgument(f"model {spec.name!r} is configured twice; give each model its own name")
            seen.add(spec.name)
            self._specs[spec.name] = spec
        if not default:
            default = MINILM
        if default not in self._specs:
            raise NotFound(f"default model {default!r} is not configured; the models are {self.names()}")
        self.default = default
        self.device = device
        self.limits = limits
        self._loader: ModelLoader = loader or _default_loader
        self._models: dict[str, EncoderModel] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # -- names, no loading --------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every configured model name, sorted."""
        return sorted(self._specs)

    def resolve(self, name: str | None) -> str:
        """The model a request means: its name, or the default for None / "". Unknown: NotFound."""
        if not name:
            return self.default
        if name not in self._specs:
            raise NotFound(f"model {name!r} is not configured on this server; the models are {self.names()}")
        return name

    def spec(self, name: str | None) -> ModelSpec:
        return self._specs[self.resolve(name)]

    def kinds(self, name: str | None) -> tuple[EncodeKind, ...]:
        """What the model gives: measured once loaded, from its kind before."""
        resolved = self.resolve(name)
        model = self._models.get(resolved)
        return tuple(model.info.kinds) if model is not None else self._specs[resolved].kinds

    def check_kinds(self, name: str | None, kinds: frozenset[EncodeKind]) -> None:
        """InvalidArgument naming the model and what it gives when it cannot give `kinds`."""
        check_kinds(self.resolve(name), self.kinds(name), kinds)

    def validate_texts(self, texts: Any) -> None:
        """InvalidArgument, naming the text by index, for an empty list, too many texts, an empty
        text, one over max_text_bytes, bytes instead of str, or text that is not valid UTF-8."""
        validate_texts(texts, self.limits)

    # -- loading ------------------------------------------------------------------------------------

    def get(self, name: str | None = None) -> EncoderModel:
        """The loaded model, loading it on first use; blocking."""
        resolved = self.resolve(name)
        model = self._models.get(resolved)
        if model is not None:
            return model
        with self._guard:
            lock = self._loading.setdefault(resolved, threading.Lock())
        with lock:
            model = self._models.get(resolved)
            if model is None:
                model = self._loader(self._specs[resolved], self.device)
                self._models[resolved] = model
        return model

    def loaded(self, name: str | None = None) -> EncoderModel | None:
        """The model if it is loaded already, else None; never loads."""
        return self._models.get(self.resolve(name))

    def load_all(self, names: Iterable[str] | None = None) -> list[ModelInfo]:
        """Load the named models (all configured ones by default); blocking. For start-up, before
        the server reports SERVING."""
        return [self.get(n).info for n in (self.names() if names is None else names)]

    def infos(self) -> list[ModelInfo]:
        """The loaded models, by name."""
        return [self._models[n].info for n in sorted(self._models)]
