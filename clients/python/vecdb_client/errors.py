"""The SDK's exceptions: one hierarchy rebuilt from the server's gRPC status and trailers.

Every error the SDK raises is a `VecdbError` carrying:

- `code`: the gRPC status name ("INVALID_ARGUMENT", "UNAVAILABLE", ...),
- `message`: what went wrong, naming the field and value at fault,
- `request_id`: the id of the call (from the server's "vecdb-request-id" trailer, else the one
  the client sent; None for errors raised before anything was sent),
- `error_name`: the server's stable error name ("collection_not_found", ...).

The class is chosen from the "vecdb-error-name" trailer first, then from the status code, so a
server error always lands on the most specific class::

    try:
        client.get_collection("nope")
    except errors.CollectionNotFound as e:
        print(e.message, e.request_id)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = [
    "ERROR_NAME_KEY",
    "REQUEST_ID_KEY",
    "RETRY_AFTER_KEY",
    "AlreadyExists",
    "CollectionNotFound",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldNotFound",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "VecdbError",
    "from_status",
]

ERROR_NAME_KEY = "vecdb-error-name"
"""Trailing metadata key: the server's stable error name."""
REQUEST_ID_KEY = "vecdb-request-id"
"""Metadata key: the request id, sent by the client and echoed in the server's trailers."""
RETRY_AFTER_KEY = "retry-after-ms"
"""Trailing metadata key of RESOURCE_EXHAUSTED: milliseconds to wait before retrying."""


class VecdbError(Exception):
    """Base of every error raised by the SDK.

    `from_server` is True when the vecdb server itself gave the error (it named it in the
    vecdb-error-name trailer); False for errors of the transport (an unreachable address, an
    expired deadline) and for bad arguments caught before sending.
    """

    code: str = "UNKNOWN"
    error_name: str = "vecdb_error"
    from_server: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        error_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        if code is not None:
            self.code = code
        if error_name is not None:
            self.error_name = error_name

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, error_name={self.error_name!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the keyword attributes through pickling (multiprocessing, logging handlers).
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[VecdbError], message: str, state: dict[str, Any]) -> VecdbError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class InvalidArgument(VecdbError):
    """The request is malformed: bad id, payload, filter, shape, dimension, NaN, out-of-range k."""

    code = "INVALID_ARGUMENT"
    error_name = "invalid_argument"


class NotFound(VecdbError):
    """Something named in the request does not exist."""

    code = "NOT_FOUND"
    error_name = "not_found"


class CollectionNotFound(NotFound):
    """The collection does not exist."""

    error_name = "collection_not_found"


class FieldNotFound(NotFound):
    """The vector field does not exist in the collection."""

    error_name = "field_not_found"


class AlreadyExists(VecdbError):
    """A collection of that name already exists."""

    code = "ALREADY_EXISTS"
    error_name = "already_exists"


class FailedPrecondition(VecdbError):
    """The request is well-formed but the server's state does not allow it now."""

    code = "FAILED_PRECONDITION"
    error_name = "failed_precondition"


class ResourceExhausted(VecdbError):
    """Overload or a size limit. `retry_after_s` is the server's hint (None when it gave none,
    e.g. for a message over the size limit: send less instead of retrying)."""

    code = "RESOURCE_EXHAUSTED"
    error_name = "resource_exhausted"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        error_name: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, code=code, request_id=request_id, error_name=error_name)
        self.retry_after_s = retry_after_s


class Unimplemented(VecdbError):
    """A capability designed into the API but not built yet (by the server or by this SDK)."""

    code = "UNIMPLEMENTED"
    error_name = "unimplemented"


class Unavailable(VecdbError):
    """The server cannot be reached or is shutting down (raised after the retries ran out)."""

    code = "UNAVAILABLE"
    error_name = "unavailable"


class DeadlineExceeded(VecdbError):
    """The call did not finish within its timeout."""

    code = "DEADLINE_EXCEEDED"
    error_name = "deadline_exceeded"


class Unauthenticated(VecdbError):
    code = "UNAUTHENTICATED"
    error_name = "unauthenticated"


class PermissionDenied(VecdbError):
    code = "PERMISSION_DENIED"
    error_name = "permission_denied"


class Internal(VecdbError):
    """A bug or an unexpected failure in the server; the request id helps find it in its log."""

    code = "INTERNAL"
    error_name = "internal"


# The server's stable error names (vecdb-error-name trailer).
_BY_NAME: dict[str, type[VecdbError]] = {
    cls.error_name: cls
    for cls in (
        InvalidArgument,
        NotFound,
        CollectionNotFound,
        FieldNotFound,
        AlreadyExists,
        FailedPrecondition,
        ResourceExhausted,
        Unimplemented,
        Internal,
    )
}

# gRPC status names, used when the server sent no (known) error name.
_BY_CODE: dict[str, type[VecdbError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        ResourceExhausted,
        Unimplemented,
        Unavailable,
        DeadlineExceeded,
        Unauthenticated,
        PermissionDenied,
        Internal,
    )
}


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def from_status(
    code: str,
    message: str,
    trailing_metadata: Iterable[tuple[str, str | bytes]] | None = None,
    *,
    request_id: str | None = None,
) -> VecdbError:
    """Build the exception for a failed call from its status name, details and trailers.

    `request_id` is the id the client sent; the server's "vecdb-request-id" trailer wins over it.

    >>> from_status("INVALID_ARGUMENT", "no such collection",
    ...             [("vecdb-error-name", "collection_not_found")])
    CollectionNotFound(code='INVALID_ARGUMENT', ...)
    """
    trailers: dict[str, str] = {}
    for key, value in trailing_metadata or ():
        trailers.setdefault(key.lower(), _text(value))
    name = trailers.get(ERROR_NAME_KEY) or None
    cls = (_BY_NAME.get(name) if name else None) or _BY_CODE.get(code) or VecdbError
    if name is None and cls is VecdbError:
        name = code.lower()
    rid = trailers.get(REQUEST_ID_KEY) or request_id
    if issubclass(cls, ResourceExhausted):
        err: VecdbError = cls(
            message,
            code=code,
            request_id=rid,
            error_name=name,
            retry_after_s=_retry_after_s(trailers.get(RETRY_AFTER_KEY)),
        )
    else:
        err = cls(message, code=code, request_id=rid, error_name=name)
    err.from_server = ERROR_NAME_KEY in trailers
    return err


def _retry_after_s(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        ms = float(value)
    except ValueError:
        return None
    return ms / 1000.0 if math.isfinite(ms) and ms >= 0 else None
