"""The one error hierarchy of vecdb.

Every error the engine raises on purpose is a `VecdbError`. Each class carries the name of the gRPC
status it maps to (a plain string, so the engine never imports grpc) and a stable `error_name`
that travels to the client in trailing metadata, where the SDK rebuilds the matching exception.
Messages name the field and the value at fault and say what to do instead.
"""

from __future__ import annotations

__all__ = [
    "ERRORS_BY_NAME",
    "AlreadyExists",
    "CollectionNotFound",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldNotFound",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "ResourceExhausted",
    "Unimplemented",
    "VecdbError",
]


class VecdbError(Exception):
    """Base of all deliberate vecdb errors."""

    grpc_status: str = "UNKNOWN"
    error_name: str = "vecdb_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DeadlineExceeded(VecdbError):
    """The client's deadline passed before the work finished; nothing more is done for it."""

    grpc_status = "DEADLINE_EXCEEDED"
    error_name = "deadline_exceeded"


class InvalidArgument(VecdbError):
    """The request is malformed: wrong dimension, NaN, bad filter, bad id, out-of-range k."""

    grpc_status = "INVALID_ARGUMENT"
    error_name = "invalid_argument"


class NotFound(VecdbError):
    grpc_status = "NOT_FOUND"
    error_name = "not_found"


class CollectionNotFound(NotFound):
    error_name = "collection_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"collection {name!r} does not exist; list collections to see the names")
        self.collection = name


class FieldNotFound(NotFound):
    error_name = "field_not_found"


class AlreadyExists(VecdbError):
    grpc_status = "ALREADY_EXISTS"
    error_name = "already_exists"


class FailedPrecondition(VecdbError):
    grpc_status = "FAILED_PRECONDITION"
    error_name = "failed_precondition"


class ResourceExhausted(VecdbError):
    """Overload or a size limit: the caller may retry later or send less."""

    grpc_status = "RESOURCE_EXHAUSTED"
    error_name = "resource_exhausted"

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unimplemented(VecdbError):
    """A capability that is designed into the API but not built yet."""

    grpc_status = "UNIMPLEMENTED"
    error_name = "unimplemented"

    def __init__(self, capability: str) -> None:
        super().__init__(f"{capability} is not implemented in this version of vecdb")
        self.capability = capability


class Internal(VecdbError):
    grpc_status = "INTERNAL"
    error_name = "internal"


ERRORS_BY_NAME: dict[str, type[VecdbError]] = {
    cls.error_name: cls
    for cls in (
        VecdbError, InvalidArgument, NotFound, CollectionNotFound, FieldNotFound, AlreadyExists,
        FailedPrecondition, ResourceExhausted, Unimplemented, Internal, DeadlineExceeded,
    )
}
