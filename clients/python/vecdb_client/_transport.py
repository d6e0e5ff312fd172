"""What both clients do around every call: channels (plaintext or TLS), credentials, request ids,
deadlines, retries and turning a failed RPC into a typed exception. No sleeping here: the sync
and async clients each run the loop with their own sleep.

The API key travels as `authorization: Bearer <key>` metadata on every call (the server also
accepts `x-api-key`). It is kept out of `repr` and error messages. Sending a key over a
plaintext channel to anything but a loopback address is allowed (a server behind a TLS-ending
proxy) but worth a warning, once per client.
"""

from __future__ import annotations

import os
import random
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import EllipsisType

import grpc

from vecdb_client import errors

Timeout = float | None | EllipsisType
"""A call's timeout: seconds for the whole call, retries included; None: no deadline; `...`
(the default of every method): the client's timeout."""

BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 2.0


AUTHORIZATION_KEY = "authorization"

Pem = bytes | str | os.PathLike[str]
"""PEM data as bytes, or the path of a PEM file (str or Path)."""


def channel_options(max_message_bytes: int, server_name: str | None = None) -> list[tuple[str, int | str]]:
    options: list[tuple[str, int | str]] = [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
    ]
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return options


def _read_pem(value: Pem | None, name: str) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        if b"-----BEGIN" not in value:
            raise errors.InvalidArgument(f"{name}: bytes given are not PEM data (no '-----BEGIN' line)")
        return value
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise errors.InvalidArgument(f"{name}: cannot read {str(path)!r}: {exc.strerror}") from None
        if b"-----BEGIN" not in data:
            raise errors.InvalidArgument(f"{name}: {str(path)!r} is not a PEM file")
        return data
    raise errors.InvalidArgument(f"{name}: expected PEM bytes or a file path, got {type(value).__name__}")


@dataclass(frozen=True)
class Security:
    """How a client authenticates and protects its channel, checked once at construction.

    api_key: sent with every call (None: no key). tls: use TLS; `root_certificates` (PEM bytes
    or a file path) trusts a private CA or a self-signed server certificate, else the system's
    roots. client_certificate / client_key: for servers that require mutual TLS.
    server_name: the name to check the server certificate against, when it differs from the
    address's host (e.g. connecting by IP to a certificate issued for a DNS name).
    """

    api_key: str | None = field(default=None, repr=False)
    tls: bool = False
    root_certificates: bytes | None = field(default=None, repr=False)
    client_certificate: bytes | None = field(default=None, repr=False)
    client_key: bytes | None = field(default=None, repr=False)
    server_name: str | None = None

    @classmethod
    def create(
        cls,
        api_key: str | None = None,
        tls: bool = False,
        root_certificates: Pem | None = None,
        client_certificate: Pem | None = None,
        client_key: Pem | None = None,
        server_name: str | None = None,
    ) -> Security:
        if api_key is not None:
            if not isinstance(api_key, str) or not api_key.strip():
                raise errors.InvalidArgument("api_key: must be a non-empty str or None")
            api_key = api_key.strip()
            if not api_key.isascii() or not api_key.isprintable() or " " in api_key:
                raise errors.InvalidArgument("api_key: must be printable ASCII without spaces (gRPC metadata)")
        if not isinstance(tls, bool):
            raise errors.InvalidArgument(f"tls: must be True or False, got {tls!r}")
        if (client_certificate is None) != (client_key is None):
            raise errors.InvalidArgument("client_certificate and client_key: give both (mutual TLS) or neither")
        if server_name is not None and (not isinstance(server_name, str) or not server_name):
            raise errors.InvalidArgument("server_name: must be a non-empty str or None")
        roots = _read_pem(root_certificates, "root_certificates")
        cert = _read_pem(client_certificate, "client_certificate")
        key = _read_pem(client_key, "client_key")
        uses_tls = tls or roots is not None or cert is not None
        return cls(api_key, uses_tls, roots, cert, key, server_name)

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.client_key,
            certificate_chain=self.client_certificate,
        )

    def warn_if_exposed(self, address: str) -> None:
        if self.api_key is not None and not self.tls and not _is_loopback(address):
            warnings.warn(
                f"vecdb_client: sending an API key to {address} over a plaintext channel; pass tls=True "
                "(and root_certificates=... for a private CA) unless a TLS proxy sits in between",
                RuntimeWarning,
                stacklevel=3,
            )


def _is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0] if not address.startswith("unix:") else "unix"
    host = host.removeprefix("dns:///").removeprefix("ipv4:").removeprefix("ipv6:").strip("[]")
    return host in ("localhost", "unix", "::1") or host.startswith("127.")


def open_channel(address: str, max_message_bytes: int, security: Security) -> grpc.Channel:
    """A blocking channel: TLS when `security.tls`, else plaintext."""
    options = channel_options(max_message_bytes, security.server_name)
    if security.tls:
        return grpc.secure_channel(address, security.credentials(), options=options)
    return grpc.insecure_channel(address, options=options)


def open_aio_channel(address: str, max_message_bytes: int, security: Security) -> grpc.aio.Channel:
    """An asyncio channel (create it on the loop that will use it): TLS when `security.tls`."""
    options = channel_options(max_message_bytes, security.server_name)
    if security.tls:
        return grpc.aio.secure_channel(address, security.credentials(), options=options)
    return grpc.aio.insecure_channel(address, options=options)


def _check_timeout(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise errors.InvalidArgument(
            f"{where}: must be a positive number of seconds or None, got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class Settings:
    """A client's call settings, checked once at construction."""

    timeout: float | None
    retries: int
    request_id_prefix: str | None
    max_message_bytes: int
    security: Security = field(default_factory=Security)

    def __post_init__(self) -> None:
        _check_timeout(self.timeout, "timeout")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise errors.InvalidArgument(f"retries: must be an int >= 0, got {self.retries!r}")
        if (
            isinstance(self.max_message_bytes, bool)
            or not isinstance(self.max_message_bytes, int)
            or self.max_message_bytes <= 0
        ):
            raise errors.InvalidArgument(
                f"max_message_bytes: must be a positive int, got {self.max_message_bytes!r}"
            )
        if self.request_id_prefix is not None and not isinstance(self.request_id_prefix, str):
            raise errors.InvalidArgument("request_id_prefix: must be a str or None")

    def new_request_id(self) -> str:
        return f"{self.request_id_prefix or ''}{uuid.uuid4().hex}"


class Attempts:
    """The bookkeeping of one logical call over its attempts: one request id (sent with every
    attempt, so server logs show the retries together), one overall deadline, and the backoff."""

    def __init__(self, settings: Settings, timeout: float | None | EllipsisType) -> None:
        seconds = settings.timeout if timeout is ... else _check_timeout(timeout, "timeout")
        self.request_id = settings.new_request_id()
        self.metadata: tuple[tuple[str, str], ...] = ((errors.REQUEST_ID_KEY, self.request_id),)
        if settings.security.api_key is not None:
            self.metadata += ((AUTHORIZATION_KEY, f"Bearer {settings.security.api_key}"),)
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.retries_left = settings.retries
        self.retried = 0

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline), for the next attempt."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def retry_delay(self, err: errors.VecdbError) -> float | None:
        """Seconds to wait before the next attempt, or None when `err` is final.

        UNAVAILABLE is retried; RESOURCE_EXHAUSTED only when the server said when to retry
        (a message over the size limit is RESOURCE_EXHAUSTED too, and retrying it cannot help).
        Backoff: 50 ms doubling, capped at 2 s, with jitter; never past the deadline.
        """
        if self.retries_left <= 0:
            return None
        if err.code == "UNAVAILABLE":
            floor = 0.0
        elif (
            err.code == "RESOURCE_EXHAUSTED"
            and isinstance(err, errors.ResourceExhausted)
            and err.retry_after_s is not None
        ):
            floor = err.retry_after_s
        else:
            return None
        backoff = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0**self.retried)
        delay = max(floor, backoff * random.uniform(0.5, 1.0))
        remaining = self.remaining()
        if remaining is not None and delay >= remaining:
            return None
        self.retries_left -= 1
        self.retried += 1
        return delay


def error_from_rpc(exc: grpc.RpcError, request_id: str | None) -> errors.VecdbError:
    """The typed exception of a failed RPC (sync `grpc.RpcError` or `grpc.aio.AioRpcError`)."""
    code_fn = getattr(exc, "code", None)
    code = code_fn() if callable(code_fn) else None
    details_fn = getattr(exc, "details", None)
    details = details_fn() if callable(details_fn) else None
    trailers_fn = getattr(exc, "trailing_metadata", None)
    trailers = trailers_fn() if callable(trailers_fn) else None
    return errors.from_status(
        code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN",
        details or str(exc) or "RPC failed",
        list(trailers) if trailers else None,
        request_id=request_id,
    )


def upload_error(err: errors.VecdbError, sent: int, total: int) -> errors.VecdbError:
    """Say how far an upload got: the stream is never retried, and the batches the server had
    committed before the failure stay committed."""
    err.message = (
        f"{err.message} (upload stopped after {sent} of {total} points were sent; each batch the "
        "server acknowledged before the failure stays committed; upsert replaces points by id, "
        "so uploading the same points again is safe)"
    )
    err.args = (err.message,)
    return err
