"""Background tasks of a diagnosis run, stopped cleanly."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` and wait for it to finish; never raises."""
    if task is None:
        return
    task.cancel()
    # wait() never raises, so our own cancellation still propagates.
    await asyncio.wait([task])
