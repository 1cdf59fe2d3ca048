"""Progress: plain lines every few seconds when stderr is not a terminal."""

from __future__ import annotations

import io

from stockline.bench.progress import LineProgress, progress


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_every_few_seconds_and_none_in_between() -> None:
    out, clock = io.StringIO(), _Clock()
    lines = LineProgress(300_000, "produce backlog", out, every_s=5.0, clock=clock)
    clock.now = 1.0
    lines.update(60_000)
    assert out.getvalue() == ""
    clock.now = 5.5
    lines.update(60_000)
    assert out.getvalue() == "produce backlog: 120,000/300,000 events (40%)\n"
    clock.now = 7.0
    lines.update(1)
    assert out.getvalue().count("\n") == 1


def test_not_a_terminal_gives_lines_and_a_last_one_at_the_end() -> None:
    out = io.StringIO()  # isatty() is False
    with progress(2_000, "worker applies", out) as bar:
        bar.update(1_500)
        bar.update(500)
        assert bar.n == 2_000
    assert out.getvalue() == "worker applies: 2,000/2,000 events (100%)\n"
    assert "\r" not in out.getvalue()  # no bar redrawn in a log file


def test_the_last_line_is_not_repeated() -> None:
    out, clock = io.StringIO(), _Clock()
    lines = LineProgress(10, "measure", out, every_s=5.0, clock=clock)
    clock.now = 6.0
    lines.update(10)
    lines.write()
    assert out.getvalue() == "measure: 10/10 events (100%)\n"


def test_a_terminal_gets_a_bar() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with progress(10, "bare consumer", out) as bar:
        bar.update(10)
    assert "bare consumer" in out.getvalue()
    assert "\r" in out.getvalue()
