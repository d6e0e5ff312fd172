"""What both clients do around every call: channel options, request ids, deadlines, retries and
turning a failed RPC into a typed exception. No sleeping or I/O here: the sync and async clients
each run the loop with their own sleep."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from types import EllipsisType

import grpc

from vecdb_client import errors

Timeout = float | None | EllipsisType
"""A call's timeout: seconds for the whole call, retries included; None: no deadline; `...`
(the default of every method): the client's timeout."""

BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 2.0


def channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
    ]


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
