"""Reals of the next training step, read and decoded on background threads.

The training step runs on the GPU while the CPU would otherwise wait for it; reading and
decoding a batch of PNG/JPEG images on the main thread (tens of milliseconds at 256 px and
batch 32) then adds to every step. :class:`Prefetcher` starts loading step ``k + 1``'s reals
when step ``k`` takes its own, on a pool of threads (Pillow and zlib release the GIL while they
decode, so the threads run in parallel with each other and with the main thread's kernel
launches). What a step receives depends only on the step's indices, so a prefetched run is
bitwise the same as an unprefetched one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["Prefetcher"]


class Prefetcher:
    """Load the items of upcoming steps on ``threads`` background threads.

    Parameters
    ----------
    load_item : callable
        ``load_item(index)``: one dataset item; called from the worker threads, so it must be
        safe to call concurrently (:class:`gan.training.data.ImageDataset` is).
    threads : int
        Worker threads (>= 1).

    Use :meth:`get` with each step's indices and the next step's, in step order; :meth:`close`
    (or the context manager) stops the threads. An item that fails to load raises its error
    from the :meth:`get` that needs it, as an unprefetched load would.
    """

    def __init__(self, load_item: Callable[[int], Any], threads: int) -> None:
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        self._load_item = load_item
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="aliasfree-data")
        self._pending: tuple[tuple[int, ...], list[Future]] | None = None
        self._lock = threading.Lock()

    def get(self, indices: Sequence[int], upcoming: Sequence[int] | None = None) -> list[Any]:
        """The items at ``indices`` (from the prefetch started by the previous call when its
        ``upcoming`` were these indices, else loaded now), and start loading ``upcoming``."""
        key = tuple(int(i) for i in indices)
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None and pending[0] == key:
            futures = pending[1]
        else:
            if pending is not None:  # another step than announced (a resume, a test): drop it
                for f in pending[1]:
                    f.cancel()
            futures = [self._pool.submit(self._load_item, i) for i in key]
        if upcoming is not None:
            ahead = tuple(int(i) for i in upcoming)
            started = [self._pool.submit(self._load_item, i) for i in ahead]
            with self._lock:
                self._pending = (ahead, started)
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stop the threads (items being loaded finish; queued ones are dropped)."""
        with self._lock:
            self._pending = None
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
