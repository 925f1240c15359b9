"""One dynamic micro-batcher shared by all requests: lines queue up, a single worker takes up to ``max_batch``
of them and recognizes them together. A batch leaves when it is full, when ``max_wait_ms`` passed without a new
line, or after ``max_hold_ms`` in all. ``max_wait_ms`` counts from the latest line, not the first: under load
the next requests come in a burst, from the clients whose answers just went out, and the burst should leave as
one batch (measured at 32 clients, the same load test: 28 lines per batch instead of 7–8). The queue is
bounded: when it is full, requests are refused (HTTP 503) instead of letting memory grow.

Requests announce themselves while they are still being read and decoded (:meth:`MicroBatcher.arriving`). While
any is, a batch that is not full stays open for up to ``max_hold_ms`` instead of ``max_wait_ms``: under load,
lines would otherwise leave in many small batches (measured: 8.5 lines per batch at 32 concurrent clients, with
the event loop still decoding the rest), and on a CPU a batch of 32 costs far less per line than four of 8. An
idle server holds nothing back, so a lone request waits ``max_wait_ms`` as before.

:meth:`MicroBatcher.replace` swaps the recognize function (a hot-reloaded model) through the same queue: lines
queued before the swap are recognized by the old function, lines queued after it by the new one, and since a
request queues all its lines at once, no request is ever split between two models."""
from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable


class QueueFull(RuntimeError):
    pass


@dataclass
class _Item:
    image: object
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass
class _Swap:
    """A marker in the queue: from here on, recognize with ``recognize``."""

    recognize: Callable[[list], list]
    done: asyncio.Future
    on_swap: Callable[[], None] | None = None


class MicroBatcher:
    def __init__(self, recognize: Callable[[list], list], max_batch: int = 32, max_wait_ms: float = 10.0,
                 max_queue: int = 256, on_batch: Callable[[int], None] | None = None, max_hold_ms: float = 100.0):
        self.recognize = recognize
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait_ms / 1000.0, max_queue
        self.max_hold = max(max_hold_ms, max_wait_ms) / 1000.0
        self.on_batch = on_batch
        self._arriving = 0
        self._queue: asyncio.Queue[_Item] | None = None
        self._worker: asyncio.Task | None = None
        self._closing = False

    @property
    def depth(self) -> int:
        return self._queue.qsize() if self._queue else 0

    @contextmanager
    def arriving(self):
        """Wrap the reading and decoding of a request whose lines will be submitted: batches wait for it."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, images: list) -> list:
        """Queue all ``images`` (or none: raises :class:`QueueFull`) and wait for their results, in order."""
        if self._closing or self._queue is None:
            raise QueueFull("the server is shutting down")
        if self.depth + len(images) > self.max_queue:
            raise QueueFull(f"queue full ({self.depth} lines waiting, limit {self.max_queue})")
        loop = asyncio.get_running_loop()
        items = [_Item(image, loop.create_future()) for image in images]
        for item in items:
            self._queue.put_nowait(item)
        return list(await asyncio.gather(*(item.future for item in items)))

    async def replace(self, recognize: Callable[[list], list], on_swap: Callable[[], None] | None = None) -> None:
        """Recognize with ``recognize`` from now on; returns once the swap happened (after every line queued
        before it was recognized by the old function). ``on_swap`` runs at the very moment of the swap (e.g. to
        update what the server reports). Raises :class:`QueueFull` while shutting down."""
        if self._closing or self._queue is None:
            raise QueueFull("the server is shutting down")
        swap = _Swap(recognize, asyncio.get_running_loop().create_future(), on_swap)
        self._queue.put_nowait(swap)
        await swap.done

    def _swap(self, swap: _Swap) -> None:
        self.recognize = swap.recognize
        if swap.on_swap is not None:
            swap.on_swap()
        if not swap.done.done():
            swap.done.set_result(None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:  # the shutdown sentinel, queued after all accepted work
                return
            if isinstance(first, _Swap):
                self._swap(first)
                continue
            batch, swap = [first], None
            opened = last = loop.time()
            while len(batch) < self.max_batch:
                now = loop.time()
                if self._arriving:
                    # The wait for the next line counts from the end of the hold, not from the line before it:
                    # the request that was arriving submits its lines just after it stops arriving.
                    last = now
                # max_wait counts from the latest line, not the first: under load, lines come in a burst as the
                # previous batch's answers go out, and the batch takes the whole burst (bounded by max_hold).
                closes = opened + self.max_hold if self._arriving else min(opened + self.max_hold, last + self.max_wait)
                timeout = closes - now
                try:
                    if timeout <= 0:
                        # Lines already queued still join: a wait that timed out in the same loop turn as a put
                        # leaves the line in the queue.
                        item = self._queue.get_nowait()
                    else:
                        # Short waits while holding, so that the hold ends soon after the last arrival does.
                        item = await asyncio.wait_for(self._queue.get(), min(timeout, self.max_wait))
                except asyncio.QueueEmpty:
                    break
                except asyncio.TimeoutError:
                    continue
                if item is None:
                    stopping = True
                    break
                if isinstance(item, _Swap):  # the batch ends at the swap; lines after it wait for the new model
                    swap = item
                    break
                batch.append(item)
                last = loop.time()
            if self.on_batch:
                self.on_batch(len(batch))
            try:
                # The model runs in a worker thread so the event loop keeps accepting requests meanwhile.
                results = await asyncio.to_thread(self.recognize, [item.image for item in batch])
                for item, result in zip(batch, results):
                    if not item.future.done():
                        item.future.set_result(result)
            except Exception as exc:  # one failing batch fails its own requests, never the worker
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
            if swap is not None:
                self._swap(swap)

    async def close(self, timeout: float = 60.0) -> None:
        """Refuse new work, finish everything already accepted (queued and in flight), then stop."""
        self._closing = True
        if self._worker is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(self._worker, timeout)
        except asyncio.TimeoutError:
            self._worker.cancel()
