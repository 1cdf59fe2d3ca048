"""CPU time and memory of processes, read from /proc (Linux).

A process tree's CPU is the utime+stime of every live process in it plus the cutime+cstime
of each (the CPU of children it has already reaped), so a child that exits inside a
measured window still counts, and none counts twice. The parsers take /proc's text, so
they are tested without the processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_LISTEN = "0A"  # TCP state of a listening socket in /proc/net/tcp


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    cpu_ticks: int
    """utime + stime of the process itself, plus cutime + cstime of its reaped children."""


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line. The command name (field 2) may hold spaces and
    parentheses, so the fields are counted from the last ')'."""
    head, _, tail = text.rpartition(")")
    fields = tail.split()  # fields[0] is field 3 (state)
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])  # fields 14-17
    return ProcStat(
        pid=int(head.split("(", 1)[0]),
        ppid=int(fields[1]),
        cpu_ticks=utime + stime + cutime + cstime,
    )


def tree(root: int, parents: Mapping[int, int]) -> set[int]:
    """`root` and all its descendants, given each live pid's parent."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def tree_cpu_s(root: int, stats: Iterable[ProcStat], clock_ticks: int) -> float:
    """CPU seconds of `root`'s process tree (0 when it is gone)."""
    by_pid = {s.pid: s for s in stats}
    members = tree(root, {pid: s.ppid for pid, s in by_pid.items()})
    return sum(by_pid[p].cpu_ticks for p in members if p in by_pid) / clock_ticks


def parse_status_rss_kib(text: str) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB from /proc/<pid>/status: resident now, and its peak."""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def listening_inodes(net_tcp: str, port: int) -> set[int]:
    """Socket inodes listening on `port`, from /proc/net/tcp or /proc/net/tcp6 text."""
    found = set()
    for line in net_tcp.splitlines()[1:]:
        cols = line.split()
        if len(cols) > 9 and cols[3] == _LISTEN and int(cols[1].rsplit(":", 1)[1], 16) == port:
            found.add(int(cols[9]))
    return found


def read_stats(proc: Path = PROC) -> list[ProcStat]:
    """Every live process's stat; processes that exit while being read are skipped."""
    stats = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                stats.append(parse_stat((entry / "stat").read_text()))
            except (OSError, ValueError, IndexError):
                continue
    return stats


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


class ProcessTree:
    """A started process and its descendants (e.g. `stockline worker --processes N`)."""

    def __init__(self, root: int, proc: Path = PROC) -> None:
        self.root = root
        self._proc = proc

    def members(self) -> set[int]:
        return tree(self.root, {s.pid: s.ppid for s in read_stats(self._proc)})

    def cpu_s(self) -> float:
        return tree_cpu_s(self.root, read_stats(self._proc), clock_ticks())

    def rss_mib(self) -> tuple[float, float]:
        """(current, peak) resident set size summed over the tree, in MiB."""
        now = peak = 0
        for pid in self.members():
            try:
                rss, hwm = parse_status_rss_kib((self._proc / str(pid) / "status").read_text())
            except (OSError, KeyError):
                continue
            now, peak = now + rss, peak + hwm
        return now / 1024, peak / 1024


def find_broker(port: int, proc: Path = PROC) -> int | None:
    """The pid of the process listening on `port` on this machine, else of the one java
    process running `kafka.Kafka`; None when neither is found (a remote broker)."""
    inodes: set[int] = set()
    for name in ("tcp", "tcp6"):
        try:
            inodes |= listening_inodes((proc / "net" / name).read_text(), port)
        except OSError:
            continue
    by_socket = _pid_holding(inodes, proc) if inodes else None
    return by_socket if by_socket is not None else _pid_running(b"kafka.Kafka", proc)


def _pid_holding(inodes: set[int], proc: Path) -> int | None:
    targets = {f"socket:[{i}]" for i in inodes}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in targets for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


def _pid_running(needle: bytes, proc: Path) -> int | None:
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found[0] if len(found) == 1 else None
