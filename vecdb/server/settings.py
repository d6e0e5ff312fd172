"""Server settings: one typed, frozen object with a documented precedence.

Sources, strongest first: keyword overrides (the CLI flags) > environment variables
`VECDB_<FIELD>` (e.g. `VECDB_PORT=7000`) > a TOML file (keys are the field names, at the top
level or in a `[server]` table) > the defaults below. Values from text sources are coerced to the
field's type; a value that does not parse, or a key that names no setting, is a `ValueError` that
names the source, the key and the value, so a typo in a config file fails at start-up instead of
being silently ignored.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vecdb.engine.options import EngineOptions

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 needs the `tomli` backport
    import tomli as _toml  # type: ignore[no-redef,import-not-found,unused-ignore]

__all__ = ["CONFIG_ENV", "ENV_PREFIX", "Settings"]

ENV_PREFIX = "VECDB_"
CONFIG_ENV = "VECDB_CONFIG"
"""Environment variable naming a TOML config file when `from_sources` gets none."""

MIB = 1 << 20


def _default_search_workers() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    """Everything the server process is configured by.

    data_dir: where collections live. host/port: the listening address (port 0 picks a free one).
    max_message_bytes: the largest gRPC message either way. max_limit: the largest k / page size.
    max_batch_points: points per upsert request. max_queries_per_batch: queries per QueryBatch.
    max_payload_bytes: one point's payload JSON. search_workers / write_workers: threads of the
    read and write executors. max_concurrent_rpcs: calls in flight before the server answers
    RESOURCE_EXHAUSTED. grace_period_s: how long a stop waits for in-flight calls.
    checkpoint_interval_s: background index checkpoints (0 disables). log_level: a logging level.
    search_threads: threads one index call uses (a query batch, an insert batch).
    checkpoint_every_mutations: points changed since the last checkpoint that trigger one.
    exact_scan_threshold: filters admitting at most this many points are answered exactly.
    map_size_bytes: initial LMDB map size per collection (virtual; doubles when full).
    models: extra encoder models, "name=source" comma-separated (source: a sentence-transformers
    folder or model id, loaded offline); sparse_models: SPLADE models, the same form.
    default_model: the encoder model used when a request names none ("minilm": the packaged
    all-MiniLM-L6-v2). device: where models run, "auto" (CUDA with fp16 when present), "cpu" or
    "cuda". encoder_max_batch / encoder_max_wait_ms: micro-batching of concurrent encode calls.
    max_texts_per_call / max_text_bytes: limits on one encode or text upsert. preload_models:
    load the default model before reporting SERVING (else on first use). kernel_device: where
    scoring kernels run: "auto" (CUDA when torch sees a GPU and Triton imports), "cpu", "cuda".
    cache_enabled: serve the semantic cache (the Cache service) from <data_dir>/cache, with the
    default encoder model. cache_max_answer_bytes: the largest answer one Store may carry.
    cache_sweep_interval_s: how often expired cache entries are removed in the background (0
    disables; expired entries never hit either way). cache_default_threshold /
    cache_default_ttl_s: the policy of categories that have none of their own ("default").
    """

    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 6334
    max_message_bytes: int = 64 * MIB
    max_limit: int = 10_000
    max_batch_points: int = 100_000
    max_queries_per_batch: int = 1024
    max_payload_bytes: int = 1 * MIB
    search_workers: int = field(default_factory=_default_search_workers)
    write_workers: int = 1
    max_concurrent_rpcs: int = 256
    grace_period_s: float = 5.0
    checkpoint_interval_s: float = 30.0
    log_level: str = "INFO"
    search_threads: int = field(default_factory=_default_search_workers)
    checkpoint_every_mutations: int = 50_000
    exact_scan_threshold: int = 2_000
    map_size_bytes: int = 1 << 36
    models: str = ""
    sparse_models: str = ""
    default_model: str = "minilm"
    device: str = "auto"
    encoder_max_batch: int = 64
    encoder_max_wait_ms: float = 2.0
    max_texts_per_call: int = 256
    max_text_bytes: int = 64 * 1024
    preload_models: bool = True
    kernel_device: str = "auto"
    cache_enabled: bool = True
    cache_max_answer_bytes: int = 1 * MIB
    cache_sweep_interval_s: float = 60.0
    cache_default_threshold: float = 0.92
    cache_default_ttl_s: float = 86400.0
    api_keys: str = field(default="", repr=False)  # secret: never in repr or logs
    api_keys_file: str = ""
    auth_exempt_health: bool = True
    auth_exempt_reflection: bool = False
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    metrics_port: int = 9464
    log_format: str = "text"

    def __post_init__(self) -> None:
        # Coerce here as well, so Settings(port="7000") and Settings(data_dir="x") behave.
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _coerce(f.name, getattr(self, f.name), "Settings"))
        self._validate()

    def _validate(self) -> None:
        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"setting {name} = {getattr(self, name)!r} is invalid: {rule}")

        need(0 <= self.port <= 65535, "port", "use 0..65535 (0 picks a free port)")
        need(bool(self.host), "host", "give an address such as 127.0.0.1 or 0.0.0.0")
        need(self.max_message_bytes >= 1024, "max_message_bytes", "use at least 1024")
        need(self.max_limit >= 1, "max_limit", "use at least 1")
        need(self.max_batch_points >= 1, "max_batch_points", "use at least 1")
        need(self.max_queries_per_batch >= 1, "max_queries_per_batch", "use at least 1")
        need(self.max_payload_bytes >= 2, "max_payload_bytes", "use at least 2")
        need(self.search_workers >= 1, "search_workers", "use at least 1")
        need(self.write_workers >= 1, "write_workers", "use at least 1")
        need(self.max_concurrent_rpcs >= 1, "max_concurrent_rpcs", "use at least 1")
        need(self.search_threads >= 1, "search_threads", "use at least 1")
        need(self.checkpoint_every_mutations >= 1, "checkpoint_every_mutations", "use at least 1")
        need(self.exact_scan_threshold >= 0, "exact_scan_threshold", "use 0 or more")
        need(self.map_size_bytes >= 1 << 20, "map_size_bytes", "use at least 1 MiB")
        need(self.device in ("auto", "cpu", "cuda"), "device", "use auto, cpu or cuda")
        need(self.kernel_device in ("auto", "cpu", "cuda"), "kernel_device", "use auto, cpu or cuda")
        need(self.encoder_max_batch >= 1, "encoder_max_batch", "use at least 1")
        need(self.encoder_max_wait_ms >= 0, "encoder_max_wait_ms", "use 0 or more milliseconds")
        need(self.max_texts_per_call >= 1, "max_texts_per_call", "use at least 1")
        need(self.max_text_bytes >= 1, "max_text_bytes", "use at least 1")
        for name in ("models", "sparse_models"):
            for item in filter(None, (part.strip() for part in getattr(self, name).split(","))):
                need("=" in item and all(item.split("=", 1)), name, 'use "name=source" pairs separated by commas')
        need(self.grace_period_s >= 0, "grace_period_s", "use 0 or more seconds")
        need(self.checkpoint_interval_s >= 0, "checkpoint_interval_s", "use 0 (off) or more seconds")
        need(self.cache_max_answer_bytes >= 1, "cache_max_answer_bytes", "use at least 1")
        need(self.cache_sweep_interval_s >= 0, "cache_sweep_interval_s", "use 0 (off) or more seconds")
        need(0.0 <= self.cache_default_threshold <= 1.0, "cache_default_threshold",
             "use a cosine similarity in [0, 1]")
        need(0.0 <= self.cache_default_ttl_s < float("inf"), "cache_default_ttl_s",
             "use 0 (never expires) or more seconds")
        need(0 <= self.metrics_port <= 65535, "metrics_port", "use 1..65535, or 0 to disable metrics")
        need(self.metrics_port == 0 or self.metrics_port != self.port, "metrics_port",
             "use a port other than the gRPC port, or 0 to disable metrics")
        need(self.log_format in ("text", "json"), "log_format", "use text or json")
        need(bool(self.tls_cert_file) == bool(self.tls_key_file), "tls_cert_file",
             "set tls_cert_file and tls_key_file together (PEM certificate chain and private key)")
        need(not self.tls_client_ca_file or bool(self.tls_cert_file), "tls_client_ca_file",
             "mutual TLS needs server TLS too: set tls_cert_file and tls_key_file")
        if self.api_keys:
            from vecdb.server.auth import parse_key_spec

            try:
                parse_key_spec(self.api_keys, "setting api_keys")
            except ValueError as exc:
                raise ValueError(str(exc)) from None
        need(
            isinstance(logging.getLevelName(self.log_level.upper()), int),
            "log_level", "use DEBUG, INFO, WARNING, ERROR or CRITICAL",
        )

    # ---- sources ---------------------------------------------------------------------------

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_sources(
        cls,
        config_file: Path | str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from overrides > environment > TOML file > defaults.

        `config_file` defaults to `$VECDB_CONFIG` when that is set. Overrides that are None are
        ignored (so CLI flags that were not given fall through). `environ` defaults to os.environ.
        """
        env = os.environ if environ is None else environ
        names = cls.field_names()
        values: dict[str, Any] = {}

        if config_file is None and env.get(CONFIG_ENV):
            config_file = env[CONFIG_ENV]
        if config_file is not None:
            values.update(_read_toml(Path(config_file), names))

        for name in names:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = _coerce(name, raw, f"environment {ENV_PREFIX + name.upper()}")

        for name, value in overrides.items():
            if name not in names:
                raise ValueError(f"unknown setting {name!r}; valid settings are: {', '.join(names)}")
            if value is not None:
                values[name] = _coerce(name, value, "override")

        return cls(**values)

    # ---- derived -----------------------------------------------------------------------------

    def engine_options(self) -> EngineOptions:
        """The engine's options implied by these settings. Resolves kernel_device: asking for
        "cuda" where there is none fails here, at start-up, with the reason."""
        from vecdb.engine.options import EngineOptions
        from vecdb.kernels import resolve_device

        return EngineOptions(
            max_limit=self.max_limit,
            max_batch_points=self.max_batch_points,
            max_payload_bytes=self.max_payload_bytes,
            checkpoint_every_mutations=self.checkpoint_every_mutations,
            search_threads=self.search_threads,
            exact_scan_threshold=self.exact_scan_threshold,
            map_size_bytes=self.map_size_bytes,
            kernel_device=resolve_device(self.kernel_device),
        )

    def model_specs(self) -> list[tuple[str, str, str]]:
        """(name, source, kind) of every configured encoder model, kind "dense" or "sparse"."""
        specs = []
        for attr, kind in (("models", "dense"), ("sparse_models", "sparse")):
            for item in filter(None, (part.strip() for part in getattr(self, attr).split(","))):
                name, source = item.split("=", 1)
                specs.append((name.strip(), source.strip(), kind))
        return specs

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    @property
    def tls_enabled(self) -> bool:
        return bool(self.tls_cert_file)


def format_address(host: str, port: int) -> str:
    """host:port, with IPv6 literals bracketed."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


# Each setting's type, read off the dataclass annotations (strings, under postponed evaluation).
_TYPES: dict[str, type] = {
    f.name: {"int": int, "float": float, "str": str, "bool": bool, "Path": Path}[str(f.type)]
    for f in dataclasses.fields(Settings)
}
_BOOLS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _coerce(name: str, value: Any, source: str) -> Any:
    """The value as the field's type; strings (env, TOML) are parsed."""
    typ = _TYPES[name]
    try:
        if typ is Path:
            if isinstance(value, (str, os.PathLike)) and str(value) != "":
                return Path(value)
        elif typ is int:
            if isinstance(value, bool):
                pass
            elif isinstance(value, int):
                return value
            elif isinstance(value, float) and value.is_integer():
                return int(value)
            elif isinstance(value, str):
                return int(value.strip(), 10)
        elif typ is float:
            if isinstance(value, bool):
                pass
            elif isinstance(value, (int, float)):
                return float(value)
            elif isinstance(value, str):
                return float(value.strip())
        elif typ is str and isinstance(value, str):
            return value
        elif typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _BOOLS:
                return _BOOLS[value.strip().lower()]
    except ValueError:
        pass
    raise ValueError(f"{source}: setting {name} = {value!r} is not a valid {typ.__name__}")


def _read_toml(path: Path, names: tuple[str, ...]) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = _toml.load(fh)
    except FileNotFoundError:
        raise ValueError(f"config file {str(path)!r} does not exist") from None
    except _toml.TOMLDecodeError as exc:
        raise ValueError(f"config file {str(path)!r} is not valid TOML: {exc}") from None

    flat: dict[str, Any] = {}
    section = data.pop("server", None)
    if section is not None and not isinstance(section, dict):
        raise ValueError(f"config file {str(path)!r}: 'server' must be a table of settings")
    for where, table in (("", data), ("[server] ", section or {})):
        for key, value in table.items():
            if key not in names:
                raise ValueError(
                    f"config file {str(path)!r}: unknown setting {where}{key!r}; "
                    f"valid settings are: {', '.join(names)}"
                )
            if key in flat:
                raise ValueError(f"config file {str(path)!r}: setting {key!r} is given twice")
            flat[key] = _coerce(key, value, f"config file {str(path)!r}")
    return flat
