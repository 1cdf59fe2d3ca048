"""CPU and memory of a process tree, from /proc-shaped text."""

from __future__ import annotations

from pathlib import Path

from stockline.bench.procstat import (
    ProcessTree,
    ProcStat,
    listening_inodes,
    parse_stat,
    parse_status_rss_kib,
    tree,
    tree_cpu_s,
)


def _stat(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0) -> str:
    # fields 3..: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime(14) stime(15) cutime(16) cstime(17) priority nice ...
    return (
        f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194304 100 0 0 0 "
        f"{utime} {stime} {cutime} 3 20 0 1 0 61137 3133440 382 18446744073709551615\n"
    )


def test_utime_stime_and_reaped_children_are_read_past_a_command_with_spaces() -> None:
    stat = parse_stat(_stat(4242, "python -m (worker) x", 17, utime=150, stime=50, cutime=7))
    assert stat == ProcStat(pid=4242, ppid=17, cpu_ticks=150 + 50 + 7 + 3)


def test_the_tree_is_the_root_and_every_descendant_only() -> None:
    parents = {10: 1, 11: 10, 12: 10, 13: 12, 20: 1, 21: 20}
    assert tree(10, parents) == {10, 11, 12, 13}
    assert tree(13, parents) == {13}


def test_cpu_of_a_tree_sums_its_processes_and_ignores_the_rest() -> None:
    stats = [
        parse_stat(_stat(10, "stockline", 1, utime=100, stime=20)),  # 123 ticks with cstime
        parse_stat(_stat(11, "child", 10, utime=300, stime=60)),  # 363
        parse_stat(_stat(30, "other", 1, utime=9_999, stime=9_999)),
    ]
    assert tree_cpu_s(10, stats, clock_ticks=100) == (123 + 363) / 100
    assert tree_cpu_s(99, stats, clock_ticks=100) == 0


def test_rss_now_and_peak_from_status() -> None:
    status = "Name:\tpython\nVmHWM:\t  240640 kB\nVmRSS:\t  194560 kB\nThreads:\t4\n"
    assert parse_status_rss_kib(status) == (194_560, 240_640)


def test_a_tree_read_from_a_proc_directory(tmp_path: Path) -> None:
    for pid, ppid, rss in ((10, 1, 1024), (11, 10, 2048), (30, 1, 4096)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(_stat(pid, "p", ppid, utime=100, stime=0))
        (tmp_path / str(pid) / "status").write_text(f"VmRSS:\t{rss} kB\nVmHWM:\t{2 * rss} kB\n")
    worker = ProcessTree(10, proc=tmp_path)
    assert worker.members() == {10, 11}
    assert worker.rss_mib() == (3.0, 6.0)


def test_listening_sockets_on_a_port() -> None:
    net_tcp = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0"
        "        0 8857 1 00000000729f19c7 100 0 0 10 0\n"
        "   1: 0100007F:2384 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0"
        "        0 9911 1 00000000729f19c7 100 0 0 10 0\n"
        "   2: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0"
        "        0 7777 1 00000000729f19c7 100 0 0 10 0\n"
    )
    assert listening_inodes(net_tcp, 9092) == {8857}  # 0x2384; the connected one is not
