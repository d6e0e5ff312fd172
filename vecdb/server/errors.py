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

Before admission, the wrapper also

- authenticates the call (`vecdb.server.auth.Authenticator`: the API key in the metadata and the
  RPC's required role) — a refused call costs no slot and no engine work;
- refuses a call whose deadline has already passed (DEADLINE_EXCEEDED) instead of starting it.

A call the client cancels, or whose deadline passes, while it runs is cancelled by grpc (its task
gets CancelledError at the next await: between UpsertStream messages, between encoder batches);
engine work already handed to an executor thread finishes as a whole. `check_deadline()` lets a
loop running in an executor thread stop early: the interceptor puts the call's deadline in the
`call_deadline` contextvar, which `run_in` carries into the thread.

Every finished call is counted in the server's metrics (`vecdb.server.metrics`) by method and
status code, with its latency.

Health and reflection calls are not wrapped: they must answer while the server is overloaded, and
Health.Watch is a long-lived stream that would otherwise hold an admission slot. When API keys are
configured and the settings protect them (`auth_exempt_health = false`, `auth_exempt_reflection =
false`), a call without a valid key is answered UNAUTHENTICATED before its handler runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import Message
from grpc import aio

from vecdb.engine.deadline import call_deadline, check_deadline
from vecdb.engine.errors import (
    DeadlineExceeded,
    InvalidArgument,
    ResourceExhausted,
    Unimplemented,
    VecdbError,
)
from vecdb.server.auth import Authenticator

if TYPE_CHECKING:
    from vecdb.server.metrics import ServerMetrics

__all__ = [
    "ERROR_NAME_KEY",
    "REQUEST_ID_KEY",
    "RETRY_AFTER_KEY",
    "VECDB_METHOD_PREFIX",
    "DeadlineExceeded",
    "ServerUnavailable",
    "VecdbInterceptor",
    "call_deadline",
    "check_deadline",
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
        except Exception as exc:  # noqa: BLE001 -- protobuf's DecodeError, and whatever a parser may raise
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
    """Wraps every vecdb.v1 handler (unary, client-streaming and server-streaming) with request
    ids, authentication, admission, error mapping and metrics."""

    def __init__(
        self,
        max_concurrent_rpcs: int,
        *,
        authenticator: Authenticator | None = None,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._slots = asyncio.Semaphore(max_concurrent_rpcs)
        self._max = max_concurrent_rpcs
        self._auth = authenticator if authenticator is not None else Authenticator()
        self._metrics = metrics
        # method -> (the handler grpc gave, our wrapper): wrapping once per method, not per call.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None:
            return handler
        if not method.startswith(VECDB_METHOD_PREFIX):
            # Health, reflection: never admission-limited; refused here when protected by keys.
            if self._auth.is_exempt(method):
                return handler
            try:
                self._auth.check(method, handler_call_details.invocation_metadata)
            except VecdbError as err:
                return _refusal(handler, method, err)
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        if handler.request_streaming and handler.response_streaming:
            # vecdb.v1 has no bidirectional methods; refuse rather than serve one unguarded.
            return _refusal(handler, method, Unimplemented(f"{method}: bidirectional streams are not served"))
        if handler.response_streaming:
            wrapped: Any = self._wrap_stream(method, handler.unary_stream)
            factory: Any = grpc.unary_stream_rpc_method_handler
        elif handler.request_streaming:
            wrapped, factory = self._wrap(method, handler.stream_unary), grpc.stream_unary_rpc_method_handler
        else:
            wrapped, factory = self._wrap(method, handler.unary_unary), grpc.unary_unary_rpc_method_handler
        guarded = factory(
            wrapped,
            request_deserializer=_lenient(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
        self._wrapped[method] = (handler, guarded)
        return guarded

    async def _admit(self, method: str, context: aio.ServicerContext) -> tuple[str, float]:
        """Start a call: request id and deadline into their contextvars, then authentication,
        an already-passed deadline and admission; a refusal is counted and answered here."""
        started = time.perf_counter()
        rid = _incoming_request_id(context)
        request_id.set(rid)
        try:
            remaining = context.time_remaining()
            if remaining is not None:
                call_deadline.set(time.monotonic() + remaining)
            self._auth.check(method, context.invocation_metadata())
            if remaining is not None and remaining <= 0:
                raise DeadlineExceeded("the client's deadline had passed before the call started; nothing was done")
            if self._slots.locked():
                raise ResourceExhausted(
                    f"the server is busy: {self._max} calls in flight (max_concurrent_rpcs); "
                    f"retry after {int(OVERLOAD_RETRY_AFTER_S * 1000)} ms",
                    retry_after_s=OVERLOAD_RETRY_AFTER_S,
                )
        except VecdbError as err:
            self._observe(method, status_code_of(err).name, started)
            await _abort(context, method, rid, err)
        return rid, started

    def _ended(self, method: str, rid: str, context: aio.ServicerContext, exc: BaseException) -> str:
        """The status code name of a call that ended with `exc` (an abort or a cancellation)."""
        if isinstance(exc, aio.AbortError):
            return _code_name(context.code(), "UNKNOWN")
        remaining = context.time_remaining()
        code = "DEADLINE_EXCEEDED" if remaining is not None and remaining <= 0 else "CANCELLED"
        log.info("%s %s (request id %s); the call stopped", method,
                 "ran past its deadline" if code == "DEADLINE_EXCEEDED" else "was cancelled by the client", rid)
        return code

    def _wrap(self, method: str, behavior: Behavior) -> Behavior:
        async def guarded(request: Any, context: aio.ServicerContext) -> Any:
            rid, started = await self._admit(method, context)
            code = "OK"
            try:
                async with self._slots:
                    self._in_flight(+1)
                    try:
                        response = await self._call(behavior, method, rid, request, context)
                    finally:
                        self._in_flight(-1)
            except (aio.AbortError, asyncio.CancelledError) as exc:
                code = self._ended(method, rid, context, exc)
                raise
            finally:
                self._observe(method, code, started)
            context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
            return response

        return guarded

    def _wrap_stream(self, method: str, behavior: Callable[[Any, aio.ServicerContext], Any]) -> Callable[..., Any]:
        """The same for a server-streaming method (an async generator, or a coroutine that
        writes with `context.write`): the call holds its admission slot until the stream ends."""

        async def guarded(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            rid, started = await self._admit(method, context)
            code = "OK"
            try:
                async with self._slots:
                    self._in_flight(+1)
                    try:
                        if isinstance(request, _Undecodable):
                            raise _undecodable_error(method, request)
                        produced = behavior(request, context)
                        if hasattr(produced, "__aiter__"):
                            async for item in produced:
                                yield item
                        else:
                            await produced
                    except (aio.AbortError, asyncio.CancelledError):
                        raise
                    except VecdbError as err:
                        await _abort(context, method, rid, err)
                    except Exception:  # noqa: BLE001 (logged with its traceback by _abort_internal)
                        await _abort_internal(context, method, rid)
                    finally:
                        self._in_flight(-1)
            except (aio.AbortError, asyncio.CancelledError) as exc:
                code = self._ended(method, rid, context, exc)
                raise
            except GeneratorExit:  # grpc closed the stream early: the client went away
                code = "CANCELLED"
                raise
            finally:
                self._observe(method, code, started)
            context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))

        return guarded

    def _in_flight(self, delta: int) -> None:
        if self._metrics is not None:
            self._metrics.in_flight.inc(delta)

    async def _call(
        self, behavior: Behavior, method: str, rid: str, request: Any, context: aio.ServicerContext
    ) -> Any:
        """Run the handler; map its errors (the AbortError of `context.abort` propagates)."""
        try:
            if isinstance(request, _Undecodable):
                raise _undecodable_error(method, request)
            if not isinstance(request, Message):  # a client stream: check each message
                request = _checked_stream(method, request)
            return await behavior(request, context)
        except aio.AbortError:
            raise  # the handler aborted on its own; its status stands
        except VecdbError as err:
            await _abort(context, method, rid, err)
        except Exception:  # noqa: BLE001 (logged with its traceback by _abort_internal)
            await _abort_internal(context, method, rid)
        raise AssertionError("unreachable: context.abort raises")  # pragma: no cover

    def _observe(self, method: str, code: str, started: float) -> None:
        if self._metrics is not None:
            self._metrics.observe(method, code, time.perf_counter() - started)


def _code_name(code: Any, default: str) -> str:
    return code.name if isinstance(code, grpc.StatusCode) else default


def _refusal(handler: grpc.RpcMethodHandler, method: str, err: VecdbError) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that answers `err` without running anything."""

    async def refuse(request: Any, context: aio.ServicerContext) -> Any:
        rid = _incoming_request_id(context)
        request_id.set(rid)
        await _abort(context, method, rid, err)

    if handler.request_streaming and handler.response_streaming:
        factory = grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        factory = grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        factory = grpc.unary_stream_rpc_method_handler
    else:
        factory = grpc.unary_unary_rpc_method_handler
    # No deserializer: the request is never parsed; the serializer matches the real handler.
    return factory(refuse, response_serializer=handler.response_serializer)


def status_code_of(err: VecdbError) -> grpc.StatusCode:
    """The gRPC status an engine error names; UNKNOWN for a name gRPC does not know."""
    try:
        return grpc.StatusCode[err.grpc_status]
    except KeyError:
        return grpc.StatusCode.UNKNOWN


async def _abort_internal(context: aio.ServicerContext, method: str, rid: str) -> None:
    """Log an unexpected error with its traceback and answer INTERNAL naming the request id."""
    log.exception("%s failed with an unexpected error (request id %s)", method, rid)
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal error (request id {rid}); see the server log",
        trailing_metadata=((ERROR_NAME_KEY, "internal"), (REQUEST_ID_KEY, rid)),
    )


async def _abort(context: aio.ServicerContext, method: str, rid: str, err: VecdbError) -> None:
    code = status_code_of(err)
    trailers: list[tuple[str, str]] = [(ERROR_NAME_KEY, err.error_name), (REQUEST_ID_KEY, rid)]
    retry_after = getattr(err, "retry_after_s", None)
    if isinstance(err, ResourceExhausted) and retry_after is not None:
        trailers.append((RETRY_AFTER_KEY, str(int(retry_after * 1000))))
    level = logging.WARNING if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN) else logging.INFO
    log.log(level, "%s failed: %s %s (request id %s): %s", method, code.name, err.error_name, rid, err.message)
    await context.abort(code, err.message, trailing_metadata=tuple(trailers))
