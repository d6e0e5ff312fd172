"""vecdb: a vector search and embedding database served over gRPC.

This package stays free of heavy imports: `import vecdb` loads neither torch, hnswlib nor LMDB.
The server lives in `vecdb.server`, the storage engine in `vecdb.engine`, index structures in
`vecdb.index` and scoring kernels in `vecdb.kernels`. The client SDK is the separate package
`vecdb_client`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
