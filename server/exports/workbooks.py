"""Where an XLSX export's workbook is written. XlsxWriter is pure Python: in a worker it
shares one interpreter lock with the reading of the list's pages and with every other
request. A list longer than one page is written by a child process of its own
(`server.exports.workbook`), which is handed each page as soon as it is read, so the file
is written on another core while the next page is read (and the worker's other requests
do not wait on it); a one-page list, or one beyond `PROCESSES_AT_ONCE` writers in this
worker, is written in a thread.

Either way: `async with open_workbook(path, columns, sheet, long=...) as book`, then
`await book.rows(page)` per page and `await book.close()`; leaving the block without
closing discards the file (the child process is killed)."""

from __future__ import annotations

import asyncio
import io
import pickle
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any, Protocol

from asyncpg.pgproto.pgproto import UUID as PgUUID

from server.exports.workbook import Column, XlsxFile, check_room

PROCESSES_AT_ONCE = 2  # writer processes per worker; more exports write in threads
# Pages handed to a child and not yet taken in: the parent reads on meanwhile.
PIPE_BUFFER = 1024 * 1024
# asyncpg's own uuid type travels as text (what it becomes in a cell anyway), so the child
# never imports asyncpg.
_AS_TEXT = {PgUUID: lambda value: (str, (str(value),))}
Row = Mapping[str, Any]


class WorkbookFailed(Exception):
    """The writer process ended without writing the file (its error in the message)."""


class Workbook(Protocol):
    written: int

    async def rows(self, rows: Sequence[Row]) -> None: ...

    async def close(self) -> None: ...


class _InThread:
    def __init__(self, book: XlsxFile) -> None:
        self.book = book
        self.written = 0

    async def rows(self, rows: Sequence[Row]) -> None:
        await asyncio.to_thread(self.book.rows, rows)
        self.written = self.book.written

    async def close(self) -> None:
        await asyncio.to_thread(self.book.close)


class _InProcess:
    def __init__(self, process: asyncio.subprocess.Process, columns: Sequence[Column],
                 said: IO[bytes]) -> None:
        self.process = process
        self.said = said  # its standard error: a file, so no amount of it can stall it
        self.names = [c.name for c in columns]
        self.written = 0
        self.closed = False

    async def send(self, value: Any) -> None:
        out = io.BytesIO()
        pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = _AS_TEXT
        pickler.dump(value)
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(out.getbuffer())
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise WorkbookFailed(await self._error()) from None

    async def rows(self, rows: Sequence[Row]) -> None:
        check_room(self.written, len(rows))  # here, before the rows leave for the child
        names = self.names
        await self.send([[row.get(name) for name in names] for row in rows])
        self.written += len(rows)

    async def close(self) -> None:
        await self.send(None)  # the end: the child closes the workbook
        stdin = self.process.stdin
        assert stdin is not None
        stdin.close()
        try:
            await stdin.wait_closed()
        except (BrokenPipeError, ConnectionResetError):
            pass
        error = await self._error()
        self.closed = True
        if self.process.returncode != 0:
            raise WorkbookFailed(error)

    async def _error(self) -> str:
        """The last line the child wrote on standard error, once it has ended."""
        await self.process.wait()
        self.said.seek(max(0, self.said.seek(0, io.SEEK_END) - 4096))
        lines = self.said.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else f"writer exited with {self.process.returncode}"

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


_running = 0  # writer processes of this worker


@asynccontextmanager
async def open_workbook(path: Path, columns: Sequence[Column], sheet: str, *,
                        long: bool) -> AsyncIterator[Workbook]:
    """A workbook at `path` (module docstring): in a child process when `long`."""
    global _running
    if not long or _running >= PROCESSES_AT_ONCE:
        yield _InThread(await asyncio.to_thread(XlsxFile, path, columns, sheet))
        return
    _running += 1
    try:
        with tempfile.TemporaryFile() as said:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "server.exports.workbook",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=said)
            book = _InProcess(process, columns, said)
            try:
                assert process.stdin is not None
                process.stdin.transport.set_write_buffer_limits(high=PIPE_BUFFER)
                await book.send((str(path), [(c.name, c.kind) for c in columns], sheet))
                yield book
            finally:
                if not book.closed:
                    await asyncio.shield(book.kill())
    finally:
        _running -= 1
