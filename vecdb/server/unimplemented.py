"""Services designed into the API but not built yet: every RPC answers UNIMPLEMENTED.

They raise `Unimplemented` like any other refusal, so the interceptor gives them the same status,
`vecdb-error-name` trailer and log line, and the message names the capability and its issue.
"""

from __future__ import annotations

from typing import Any, NoReturn

from grpc import aio

from vecdb.engine.errors import Unimplemented
from vecdb.v1.cache_service_pb2_grpc import CacheServicer

__all__ = ["CACHE_CAPABILITY", "CacheService"]

CACHE_CAPABILITY = "the semantic cache (issue 7)"


class CacheService(CacheServicer):
    def _refuse(self) -> NoReturn:
        raise Unimplemented(CACHE_CAPABILITY)

    async def Lookup(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()

    async def Store(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()

    async def Invalidate(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()

    async def Stats(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()

    async def GetPolicy(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()

    async def SetPolicy(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()

    async def ReportLoad(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()

    async def ReportFalseHit(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()
