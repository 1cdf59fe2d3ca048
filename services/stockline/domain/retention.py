"""What a ledger forgets, and when: the retention window (docs/design.md section 3).

A ledger keeps what folding a late or repeated event needs for one window
(`STOCKLINE_RETENTION_DAYS`, 7 by default), and no longer. Times are the batches' times
(`now_us`, µs since the epoch), except where a rule says otherwise:

- **Event ids.** An event_id applied by a batch at `applied_us` is still a duplicate for a
  batch at `now_us` while `applied_us >= now_us - window_us`; one applied earlier is
  forgotten, and the same event at a new offset is applied again.
- **Order lines, supplies and holds.** One that holds nothing (reserved, inbound or held 0)
  is forgotten `expiry_s` whole seconds after its last change; one that holds units is
  kept however old. (Redis lets the key expire on its own clock: the worker's and the
  server's clocks agree to well within a second, the window is days.)
- **Deltas.** A node's deltas that occurred before `now_us - window_us` are dropped at its
  first applied delta of a UTC day (by the batch's time); a node's first day drops none.
  On-hand stays: only a count older than the window could need them, and such counts are
  rejected (`stale_count`).

The in-memory store runs these functions; apply.lua mirrors each one (its comments name
the function), and the store contract tests hold both to the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockline.domain.effects import day_of

US_PER_S = 1_000_000
WEEK_US = 7 * 86_400 * US_PER_S
"""The default window (STOCKLINE_RETENTION_DAYS=7)."""


@dataclass(frozen=True, slots=True)
class Retention:
    """The retention window of a ledger, `window_us` microseconds (positive)."""

    window_us: int

    def cutoff(self, now_us: int) -> int:
        """The oldest time a batch at `now_us` still remembers."""
        return now_us - self.window_us

    def remembers_event(self, applied_us: int, now_us: int) -> bool:
        """An event_id applied by a batch at `applied_us` is still a duplicate at `now_us`:
        `applied_us >= now_us - window_us` (the window's last microsecond is inside)."""
        return applied_us >= self.cutoff(now_us)

    @property
    def expiry_s(self) -> int:
        """The window in whole seconds, rounded up (at least 1): what an entry that holds
        nothing lives after its last change (Redis expiries count whole seconds)."""
        return max(1, -(-self.window_us // US_PER_S))

    def keeps_entry(self, units: int, changed_us: int, now_us: int) -> bool:
        """An order line, supply or hold counting `units` (reserved, inbound, held), last
        changed at `changed_us`, is still there at `now_us`: it holds units, or fewer than
        `expiry_s` seconds have passed since it changed."""
        return units > 0 or now_us - changed_us < self.expiry_s * US_PER_S

    def trims_deltas(self, trim_day: int, now_us: int) -> bool:
        """A delta applied at `now_us` to a node last trimmed on UTC day `trim_day` (the day
        it was created, before its first trim) drops the node's old deltas: once a day."""
        return day_of(now_us) > trim_day

    def keeps_delta(self, occurred_us: int, now_us: int) -> bool:
        """A delta that occurred at `occurred_us` survives a trim at `now_us`."""
        return occurred_us >= self.cutoff(now_us)
