"""Scenarios in worker processes, with the progress of their days.

Both replay paths fan their scenarios out the same way: one task per
scenario in a process pool, each task reporting its replayed days through a
managed queue that the parent drains into ``progress`` while it waits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Result = TypeVar("Result")


def run_in_processes(method: str, workers: int, task: Callable[..., Result],
                     arguments: Sequence[tuple[Any, ...]],
                     progress: Callable[[int], None] | None) -> list[Result]:
    """``task(*args, ticks)`` for each of ``arguments`` in at most ``workers``
    processes started by ``method`` (``spawn`` or ``fork``); ``ticks`` is a
    queue the task puts its day counts on (None without ``progress``).
    Results in the order of ``arguments``."""
    import multiprocessing
    import queue
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context(method)
    manager = context.Manager() if progress is not None else None
    ticks = manager.Queue() if manager is not None else None
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(task, *args, ticks) for args in arguments]
            pending = set(futures)
            while pending:
                _done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                while ticks is not None and progress is not None:
                    try:
                        progress(ticks.get_nowait())
                    except queue.Empty:
                        break
            return [future.result() for future in futures]
    finally:
        if manager is not None:
            manager.shutdown()
