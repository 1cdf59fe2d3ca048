"""Progress of a benchmark phase: a tqdm bar on a terminal, otherwise a plain line every few
seconds (`produce backlog: 120,000/300,000 events (40%)`), which reads well in CI logs and
files where a bar's carriage returns do not."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

LINE_EVERY_S = 5.0


class Progress(Protocol):
    @property
    def n(self) -> float: ...

    def update(self, n: int) -> object: ...


class LineProgress:
    """Counts like a tqdm bar; writes a line when `every_s` passed since the last one."""

    def __init__(
        self,
        total: int,
        desc: str,
        stream: TextIO,
        every_s: float = LINE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.n = 0
        self.total, self.desc, self._stream, self._every_s = total, desc, stream, every_s
        self._clock = clock
        self._last = clock()
        self._written = -1

    def update(self, n: int) -> None:
        self.n += n
        now = self._clock()
        if now - self._last >= self._every_s:
            self._last = now
            self.write()

    def write(self) -> None:
        """The line for the count so far (once per count: the last one is not repeated)."""
        if self.n == self._written:
            return
        self._written = self.n
        share = f" ({self.n / self.total:.0%})" if self.total else ""
        print(f"{self.desc}: {self.n:,}/{self.total:,} events{share}", file=self._stream)
        self._stream.flush()


@contextmanager
def progress(total: int, desc: str, stream: TextIO | None = None) -> Iterator[Progress]:
    """A bar when `stream` (default stderr) is a terminal; lines otherwise, and a last one
    when the phase ends."""
    out = stream if stream is not None else sys.stderr
    if out.isatty():
        from tqdm import tqdm  # the tools extra, so imported only here

        with tqdm(total=total, desc=desc, unit="ev", file=out) as bar:
            yield bar
        return
    lines = LineProgress(total, desc, out)
    yield lines
    lines.write()
