"""The deadline of the request being served, for long engine loops to honour.

The server's interceptor sets `call_deadline` from the client's gRPC deadline; the executors
carry context variables into their threads, so engine code running for a request sees it. Long
loops (exact scans, retraining a codebook, snapshot copies) call `check_deadline` between
batches and stop with DeadlineExceeded once the client has given up. Outside a request (start-up
rebuilds, background checkpoints) there is no deadline and the check costs one lookup.
"""

from __future__ import annotations

import contextvars
import time

from vecdb.engine.errors import DeadlineExceeded

__all__ = ["call_deadline", "check_deadline"]

call_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("vecdb_call_deadline", default=None)
"""The current call's deadline as a `time.monotonic()` value (None: no deadline or outside a call)."""


def check_deadline(what: str = "the operation") -> None:
    """Raise DeadlineExceeded when the current call's deadline has passed. Cheap: call it between
    batches of a long loop."""
    deadline = call_deadline.get()
    if deadline is not None and time.monotonic() >= deadline:
        raise DeadlineExceeded(
            f"the client's deadline passed during {what}; it stopped there (work committed before "
            "stays committed); retry with a longer timeout or a smaller request"
        )
