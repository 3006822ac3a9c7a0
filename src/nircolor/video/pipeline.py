"""Decode, colorize and encode at once: three stages joined by bounded queues.

:func:`run_pipeline` reads items in one thread, transforms them in the calling thread and
writes them in another. Decoding and encoding (FFmpeg), numpy, OpenCV and onnxruntime release
the GIL, so the stages overlap on several cores. Items keep their order (one queue, one
consumer per stage). The first exception of any stage stops the others and is raised in the
caller, with its own type and message; so is a KeyboardInterrupt (Ctrl+C) of the caller,
after the threads have stopped. ``stop`` (a :class:`threading.Event`) ends the input early,
as if it had ended there: what was read is still transformed and written.

:func:`ordered_map` spreads a stage's independent items over threads and keeps their order:
the frames between two keyframes are coloured two at a time on two cores.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ..runtime import usable_cores

In = TypeVar("In")
Out = TypeVar("Out")

POLL = 0.1
"""Seconds between two looks at the other stages while waiting on a queue."""
JOIN = 5.0
"""Seconds allowed for the writer to end once it is told to (it may be blocked on a pipe
nobody reads)."""

_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def run_pipeline(
    read: Iterable[In],
    transform: Callable[[Iterator[In]], Iterable[Out]],
    write: Callable[[Out], object],
    depth: int = 4,
    out_depth: int | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run ``write(y)`` for every ``y`` of ``transform(iter(read))``, in order; return how
    many items were written.

    ``read`` is iterated in a reader thread (and closed there, if it is a generator),
    ``transform`` runs here on an iterator of what was read, ``write`` in a writer thread.
    At most ``depth`` items wait between reading and transforming, ``out_depth`` (default
    ``depth``) between transforming and writing.
    """
    stop = stop or threading.Event()
    halt = threading.Event()  # every stage ends now (an error, an interrupt)
    inbox: queue.Queue = queue.Queue(maxsize=max(1, depth))
    outbox: queue.Queue = queue.Queue(maxsize=max(1, out_depth or depth))
    written = [0]
    write_error: list[BaseException] = []

    def put(box: queue.Queue, item) -> bool:
        while not halt.is_set():
            try:
                box.put(item, timeout=POLL)
                return True
            except queue.Full:
                if write_error:
                    raise write_error[0] from None
        return False

    def reader() -> None:
        source = iter(read)
        try:
            for item in source:
                if halt.is_set() or not put(inbox, item):
                    return
                if stop.is_set():
                    break
            put(inbox, _END)
        except BaseException as error:  # noqa: BLE001 (handed to the caller)
            put(inbox, _Failed(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def writer() -> None:
        try:
            while not halt.is_set():
                try:
                    item = outbox.get(timeout=POLL)
                except queue.Empty:
                    continue
                if item is _END:
                    return
                write(item)
                written[0] += 1
        except BaseException as error:  # noqa: BLE001 (handed to the caller)
            write_error.append(error)
            halt.set()

    def items() -> Iterator[In]:
        while True:
            if write_error:
                raise write_error[0]
            try:
                item = inbox.get(timeout=POLL)
            except queue.Empty:
                continue
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    threads = [
        threading.Thread(target=reader, name="nircolor-read", daemon=True),
        threading.Thread(target=writer, name="nircolor-write", daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        for result in transform(items()):
            put(outbox, result)
            if write_error:
                raise write_error[0]
        put(outbox, _END)
        threads[1].join()
        if write_error:
            raise write_error[0]
    except BaseException:
        halt.set()
        raise
    finally:
        halt.set()
        # The reader may still be inside the source (bounded by its timeout): wait for it,
        # so that the caller never closes a container that a thread is reading.
        threads[0].join()
        threads[1].join(JOIN)
    return written[0]


def worker_count() -> int:
    """Threads for :func:`ordered_map`: the cores this process may use, at most 4."""
    return min(4, usable_cores())


def ordered_map(
    function: Callable[[In], Out], items: Iterable[In], workers: int | None = None
) -> Iterator[Out]:
    """``function(item)`` for every item, in order, on ``workers`` threads (default
    :func:`worker_count`). At most ``workers + 1`` results are computed ahead of the one
    being waited for, so memory stays bounded whatever the number of items."""
    workers = worker_count() if workers is None else workers
    if workers <= 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="nircolor-map") as pool:
        waiting: deque = deque()
        for item in items:
            waiting.append(pool.submit(function, item))
            if len(waiting) > workers:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()
