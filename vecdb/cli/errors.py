"""How the CLI reports failures: one readable line on stderr, never a traceback by default."""

from __future__ import annotations

__all__ = ["CommandFailed", "UsageError", "format_error", "sdk_error_types", "status_name"]


class UsageError(Exception):
    """The command line is inconsistent in a way argparse cannot see; exit code 2."""


class CommandFailed(Exception):
    """The command ran but could not do what was asked (a refusal, a missing object); exit 1."""


def sdk_error_types() -> tuple[type[BaseException], ...]:
    """The SDK's error base class, or nothing when the SDK cannot be imported."""
    try:
        from vecdb_client import errors as sdk_errors
    except ImportError:
        return ()
    base = getattr(sdk_errors, "VecdbError", None)
    return (base,) if isinstance(base, type) and issubclass(base, BaseException) else ()


def status_name(exc: BaseException) -> str:
    """The gRPC status name an SDK error carries ("NOT_FOUND"), or "" when it carries none."""
    code = getattr(exc, "code", None)
    if code is None:
        return ""
    name = getattr(code, "name", code)  # a grpc.StatusCode or a plain string
    return str(name).upper()


def format_error(exc: BaseException, *, address: str, timeout: float | None = None) -> str:
    """The one line printed for `exc`, starting with "error: "."""
    kind = status_name(exc)
    class_name = type(exc).__name__
    message = str(getattr(exc, "message", "") or "") or str(exc) or class_name
    answered = bool(getattr(exc, "from_server", False))  # the server itself said so
    if (kind == "UNAVAILABLE" or class_name == "Unavailable") and answered:
        text = f"vecdb at {address} is up but not serving yet: {message}"
    elif kind == "UNAVAILABLE" or class_name == "Unavailable":
        text = (
            f"cannot reach vecdb at {address} (is the server running? start it with `vecdb serve`)"
        )
    elif kind == "DEADLINE_EXCEEDED" or class_name == "DeadlineExceeded":
        waited = f" within {timeout:g} s" if timeout else ""
        text = f"vecdb at {address} did not answer{waited}; retry, or raise --timeout"
    elif isinstance(exc, FileNotFoundError) and exc.filename:
        text = f"no such file: {exc.filename}"
    elif isinstance(exc, OSError) and exc.filename:
        text = f"{exc.filename}: {exc.strerror or message}"
    else:
        text = message
    request_id = getattr(exc, "request_id", None)
    if request_id and (kind != "UNAVAILABLE" or answered):  # an unreachable server saw no request
        text += f" (request id {request_id})"
    return "error: " + " ".join(text.split())
