"""The floor under any Python gRPC service on this machine: a unary call that does no work.

    python bench/bench_grpc_floor.py

Starts a tiny server in a child process three ways and times 2,000 calls from this process:
`grpc.server` (handler on its thread pool), `grpc.aio` (handler on the event loop), and
`grpc.aio` handing the work to an executor thread and back, which is what vecdb does so that
index work never runs on the event loop. The difference between the last two is the cost of
that hop; the first two bound what any Python gRPC server can reach here.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vecdb.v1 import points_service_pb2 as points_pb
from vecdb.v1 import points_service_pb2_grpc as points_grpc

CALLS = 2_000


def serve(mode: str) -> None:
    executor = futures.ThreadPoolExecutor(2)

    class Async(points_grpc.PointsServicer):
        async def Count(self, request, context):  # type: ignore[no-untyped-def]
            if mode == "aio+executor":
                return await asyncio.get_running_loop().run_in_executor(executor, points_pb.CountResponse)
            return points_pb.CountResponse()

    class Sync(points_grpc.PointsServicer):
        def Count(self, request, context):  # type: ignore[no-untyped-def]
            return points_pb.CountResponse()

    if mode == "sync":
        server = grpc.server(futures.ThreadPoolExecutor(4))
        points_grpc.add_PointsServicer_to_server(Sync(), server)
        print(server.add_insecure_port("127.0.0.1:0"), flush=True)
        server.start()
        server.wait_for_termination()
        return

    async def main() -> None:
        server = grpc.aio.server()
        points_grpc.add_PointsServicer_to_server(Async(), server)
        print(server.add_insecure_port("127.0.0.1:0"), flush=True)
        await server.start()
        await server.wait_for_termination()

    asyncio.run(main())


def measure(mode: str) -> float:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", mode], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = points_grpc.PointsStub(channel)
            request = points_pb.CountRequest(collection="x")
            for _ in range(200):
                stub.Count(request)
            latencies = []
            for _ in range(CALLS):
                start = time.perf_counter()
                stub.Count(request)
                latencies.append(time.perf_counter() - start)
        return statistics.median(latencies) * 1e3
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
        return 0
    results = {mode: measure(mode) for mode in ("sync", "aio", "aio+executor")}
    for mode, p50 in results.items():
        print(f"{mode:14s} no-op unary call p50 {p50:.3f} ms")
    print(f"executor hop adds {results['aio+executor'] - results['aio']:+.3f} ms p50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
