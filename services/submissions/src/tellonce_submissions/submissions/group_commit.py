"""Group commit: the submissions a process is writing at the same moment share one statement.

On PostgreSQL every submission is one statement in its own transaction (``store.py``). Under
load, most of that statement's cost is fixed: a round trip, planning the statement, a commit
(a WAL flush), a wake-up of the fan-out worker. ``GroupWriter`` pays it once for several
submissions: a write is queued, and while one statement is running the writes that arrive
queue up behind it; the next statement takes all of them (up to ``max_batch``). Nothing
waits on a timer, so a lone submission is written at once, exactly as before, and the
batches grow only as far as the load does.

Each resident is still answered only after their rows are committed (durability unchanged),
and one write's failure never decides another's: a statement of several writes that fails
(a reference drawn twice, one resident's profile value written twice in one statement, a
lost connection) is written again one write at a time, each with its own outcome, so each
request gets the answer it would have got alone. Measured in docs/submissions.md.
"""

from __future__ import annotations

import asyncio
from collections import deque

from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine

from tellonce_submissions.submissions.store import (
    Shape,
    Stored,
    SubmissionWrite,
    shape,
    store_many,
)

MAX_BATCH = 32
"""Writes in one statement at most (at 1,000 submissions/s a batch holds a handful)."""

BATCH_SIZE = Histogram(
    "tellonce_submission_write_batch_size",
    "Submissions written by one statement of the group commit (this process)",
    buckets=(1, 2, 4, 8, 16, 32),
)
WRITTEN_ALONE = Counter(
    "tellonce_submission_write_batches_split_total",
    "Statements of several submissions that failed and were written again one at a time",
)

_Pending = tuple[SubmissionWrite, Shape, "asyncio.Future[Stored]"]


class GroupWriter:
    """One per process and engine (PostgreSQL). ``store`` is safe to call from any number of
    requests at once; one statement runs at a time."""

    def __init__(self, engine: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._draining: asyncio.Task[None] | None = None

    async def store(self, write: SubmissionWrite) -> Stored:
        """Every row of ``write`` or none, committed before this returns. Raises as
        ``store.store`` does (``IntegrityError`` for a taken reference, ``OperationalError``
        for a lost connection)."""
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._queue.append((write, shape(write), future))
        if self._draining is None:
            self._draining = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._write(self._take())
        finally:
            self._draining = None

    def _take(self) -> list[_Pending]:
        """The oldest waiting write and every other of its shape, up to ``max_batch``. A write
        whose request was cancelled before its turn is dropped (nothing of it is stored)."""
        batch: list[_Pending] = []
        kept: deque[_Pending] = deque()
        while self._queue:
            pending = self._queue.popleft()
            if pending[2].done():
                continue
            if len(batch) < self.max_batch and (not batch or pending[1] == batch[0][1]):
                batch.append(pending)
            else:
                kept.append(pending)
        self._queue = kept
        return batch

    async def _write(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        try:
            results = await self._run([write for write, _, _ in batch])
        except asyncio.CancelledError:  # the process is stopping: no request is left waiting
            for _, _, future in [*batch, *self._queue]:
                future.cancel()
            raise
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][2], exception=exc)
                return
            WRITTEN_ALONE.inc()
            for pending in batch:  # one at a time: each write meets only its own failure
                await self._write([pending])
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)

    async def _run(self, writes: list[SubmissionWrite]) -> list[Stored]:
        BATCH_SIZE.observe(len(writes))
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            return await store_many(connection, writes)


def _settle(
    future: asyncio.Future[Stored],
    *,
    result: Stored | None = None,
    exception: BaseException | None = None,
) -> None:
    """Answer a waiting request (unless it was cancelled meanwhile)."""
    if future.done():
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        assert result is not None
        future.set_result(result)
