"""Shared fixtures. Tests never touch the network: servers bind loopback, models load offline."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Triton reads TRITON_INTERPRET when it is first imported (sentence-transformers imports it too),
# so without a GPU the kernel tests need it set before anything loads triton.
if not os.path.exists("/dev/nvidia0"):
    os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Tests marked `slow` (the long crash loop) run only in slow mode: VECDB_SLOW=1 or `-m slow`."""
    import pytest

    if os.environ.get("VECDB_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow mode only: set VECDB_SLOW=1 (or select it with -m slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
