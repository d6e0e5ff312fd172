"""Error mapping, request ids and admission control: one aio server interceptor.

Every call to a vecdb.v1 method passes through `VecdbInterceptor`, which wraps the method's
handler. The wrapper

- takes the request id from the incoming metadata key `vecdb-request-id`, or makes one (uuid4 hex),
  and exposes it in the `request_id` contextvar (the executors carry it into engine threads);
- admits the call only while fewer than `max_concurrent_rpcs` calls are in flight; a call beyond
  that is answered RESOURCE_EXHAUSTED at once with a `retry-after-ms` trailer instead of queueing;
- maps a `VecdbError` to its gRPC status and message, with trailers `vecdb-error-name` (the stable
  name the SDK turns back into a typed exception) and `vecdb-request-id`;
- maps any other exception to INTERNAL "internal error (request id X); see the server log" and logs
  the traceback under that id;
- sets the `vecdb-request-id` trailer on success too.

Health and reflection calls are passed through untouched: they must answer while the server is
overloaded, and Health.Watch is a long-lived stream that would otherwise hold an admission slot.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc import aio

from vecdb.engine.errors import InvalidArgument, ResourceExhausted, VecdbError

__all__ = [
    "ERROR_NAME_KEY",
    "REQUEST_ID_KEY",
    "RETRY_AFTER_KEY",
    "VECDB_METHOD_PREFIX",
    "ServerUnavailable",
    "VecdbInterceptor",
    "request_id",
]

log = logging.getLogger("vecdb.server")

REQUEST_ID_KEY = "vecdb-request-id"
ERROR_NAME_KEY = "vecdb-error-name"
RETRY_AFTER_KEY = "retry-after-ms"
VECDB_METHOD_PREFIX = "/vecdb.v1."

OVERLOAD_RETRY_AFTER_S = 0.1
"""What an overloaded server suggests to wait before retrying."""

_MAX_REQUEST_ID_LEN = 128

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("vecdb_request_id", default="")
"""The current call's request id ("" outside a call)."""


class ServerUnavailable(VecdbError):
    """The server cannot serve data calls yet (the database is still opening) or any more."""

    grpc_status = "UNAVAILABLE"
    error_name = "unavailable"


Behavior = Callable[[Any, aio.ServicerContext], Awaitable[Any]]


class _Undecodable:
    """Stands in for a request message that did not parse, so the handler wrapper can answer
    INVALID_ARGUMENT with the reason instead of grpc's bare INTERNAL."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _lenient(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception as exc:  # protobuf's DecodeError, and whatever a parser may raise
            return _Undecodable(f"{type(exc).__name__}: {exc}")

    return parse


def _undecodable_error(method: str, bad: _Undecodable) -> InvalidArgument:
    return InvalidArgument(
        f"the request is not a valid message for {method} ({bad.reason}); string fields must be "
        "valid UTF-8 and the message must match the vecdb.v1 protos"
    )


async def _checked_stream(method: str, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, _Undecodable):
            raise _undecodable_error(method, request)
        yield request


def _incoming_request_id(context: aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and 0 < len(value) <= _MAX_REQUEST_ID_LEN:
            return value
    return uuid.uuid4().hex


class VecdbInterceptor(aio.ServerInterceptor):  # type: ignore[misc,unused-ignore]
    """Wraps every unary-response vecdb.v1 handler with request ids, admission and error mapping."""

    def __init__(self, max_concurrent_rpcs: int) -> None:
        self._slots = asyncio.Semaphore(max_concurrent_rpcs)
        self._max = max_concurrent_rpcs
        # method -> (the handler grpc gave, our wrapper): wrapping once per method, not per call.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(VECDB_METHOD_PREFIX):
            return handler
        if handler.response_streaming:
            # vecdb.v1 has no server-streaming methods; if one is added it needs its own wrapper.
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler.stream_unary if handler.request_streaming else handler.unary_unary)
        factory = (
            grpc.stream_unary_rpc_method_handler
            if handler.request_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        guarded = factory(
            wrapped,
            request_deserializer=_lenient(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
        self._wrapped[method] = (handler, guarded)
        return guarded

    def _wrap(self, method: str, behavior: Behavior) -> Behavior:
        async def guarded(request: Any, context: aio.ServicerContext) -> Any:
            rid = _incoming_request_id(context)
            request_id.set(rid)
            if self._slots.locked():
                busy = ResourceExhausted(
                    f"the server is busy: {self._max} calls in flight (max_concurrent_rpcs); "
                    f"retry after {int(OVERLOAD_RETRY_AFTER_S * 1000)} ms",
                    retry_after_s=OVERLOAD_RETRY_AFTER_S,
                )
                await _abort(context, method, rid, busy)
            async with self._slots:
                try:
                    if isinstance(request, _Undecodable):
                        raise _undecodable_error(method, request)
                    if not isinstance(request, Message):  # a client stream: check each message
                        request = _checked_stream(method, request)
                    response = await behavior(request, context)
                except aio.AbortError:
                    raise  # the handler aborted on its own; its status stands
                except VecdbError as err:
                    await _abort(context, method, rid, err)
                except Exception:
                    log.exception("%s failed with an unexpected error (request id %s)", method, rid)
                    await context.abort(
                        grpc.StatusCode.INTERNAL,
                        f"internal error (request id {rid}); see the server log",
                        trailing_metadata=((ERROR_NAME_KEY, "internal"), (REQUEST_ID_KEY, rid)),
                    )
                context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
                return response

        return guarded


def status_code_of(err: VecdbError) -> grpc.StatusCode:
    """The gRPC status an engine error names; UNKNOWN for a name gRPC does not know."""
    try:
        return grpc.StatusCode[err.grpc_status]
    except KeyError:
        return grpc.StatusCode.UNKNOWN


async def _abort(context: aio.ServicerContext, method: str, rid: str, err: VecdbError) -> None:
    code = status_code_of(err)
    trailers: list[tuple[str, str]] = [(ERROR_NAME_KEY, err.error_name), (REQUEST_ID_KEY, rid)]
    retry_after = getattr(err, "retry_after_s", None)
    if isinstance(err, ResourceExhausted) and retry_after is not None:
        trailers.append((RETRY_AFTER_KEY, str(int(retry_after * 1000))))
    level = logging.WARNING if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN) else logging.INFO
    log.log(level, "%s failed: %s %s (request id %s): %s", method, code.name, err.error_name, rid, err.message)
    await context.abort(code, err.message, trailing_metadata=tuple(trailers))
