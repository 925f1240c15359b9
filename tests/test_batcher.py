"""The micro-batcher holds a batch open for requests still arriving, and only for them."""
import asyncio
import time

from inference.batcher import MicroBatcher


def _batches_of(scenario):
    batches = []

    def recognize(images):
        batches.append(list(images))
        return list(images)

    async def run():
        batcher = MicroBatcher(recognize, max_batch=8, max_wait_ms=10, max_queue=100, max_hold_ms=2000)
        batcher.start()
        await scenario(batcher)
        await batcher.close()

    asyncio.run(run())
    return batches


def test_a_batch_waits_for_a_request_that_is_still_arriving():
    async def scenario(batcher):
        async def late():
            with batcher.arriving():  # being read and decoded, for longer than max_wait_ms
                await asyncio.sleep(0.2)
            return await batcher.submit([2])

        arriving = asyncio.create_task(late())
        await asyncio.sleep(0)  # the late request has announced itself
        assert await batcher.submit([1]) == [1]
        assert await arriving == [2]

    assert _batches_of(scenario) == [[1, 2]]


def test_without_arrivals_a_batch_leaves_after_max_wait():
    async def scenario(batcher):
        started = time.perf_counter()
        first = asyncio.create_task(batcher.submit([1]))
        await asyncio.sleep(0.2)
        second = await batcher.submit([2])
        assert await first == [1] and second == [2]
        assert time.perf_counter() - started < 1.0  # nobody held the lone line for max_hold_ms

    assert _batches_of(scenario) == [[1], [2]]


def test_the_hold_is_bounded_and_ends_when_the_arrival_fails():
    async def scenario(batcher):
        async def broken():
            try:
                with batcher.arriving():
                    await asyncio.sleep(0.1)
                    raise ValueError("a corrupt upload: nothing will be submitted")
            except ValueError:
                pass

        task = asyncio.create_task(broken())
        await asyncio.sleep(0)
        started = time.perf_counter()
        assert await batcher.submit([1]) == [1]
        await task
        assert batcher._arriving == 0
        assert time.perf_counter() - started < 1.0  # released soon after the failed arrival, not after 2 s

    assert _batches_of(scenario) == [[1]]


def _spaced_batches(gap_s: float, n: int, max_hold_ms: float):
    batches = []

    def recognize(images):
        batches.append(list(images))
        return list(images)

    async def run():
        batcher = MicroBatcher(recognize, max_batch=32, max_wait_ms=40, max_queue=100, max_hold_ms=max_hold_ms)
        batcher.start()
        pending = []
        for i in range(n):
            pending.append(asyncio.create_task(batcher.submit([i])))
            await asyncio.sleep(gap_s)
        assert [r[0] for r in await asyncio.gather(*pending)] == list(range(n))
        await batcher.close()

    asyncio.run(run())
    return batches


def test_a_burst_of_lines_each_soon_after_the_last_leaves_as_one_batch():
    # Lines 10 ms apart for 90 ms: well past max_wait (40 ms) from the first, never 40 ms from the latest.
    assert _spaced_batches(0.01, 10, max_hold_ms=2000) == [list(range(10))]


def test_a_burst_is_cut_at_max_hold():
    batches = _spaced_batches(0.01, 30, max_hold_ms=100)  # 290 ms of arrivals, at most 100 ms per batch
    assert [x for b in batches for x in b] == list(range(30))
    assert len(batches) >= 3 and max(len(b) for b in batches) <= 12
